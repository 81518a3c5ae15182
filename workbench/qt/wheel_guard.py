"""Settings the mouse wheel cannot change by passing over them.

In a scrolling panel, spin boxes, combo boxes and sliders take the wheel only while they have
keyboard focus (clicked or tabbed into); otherwise the wheel scrolls the panel, as it does over
a label. Without this, scrolling the training settings switched *Run* from "Recipe: all
stages" to "Stage 2 only" whenever the drop-down passed under the cursor.

``guard_wheel(panel)`` covers the panel's widgets, and those added to it later.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QScrollBar,
    QWidget,
)

GUARDED = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class WheelGuard(QObject):
    """The event filter; one instance serves any number of panels."""

    def guard(self, root: QWidget) -> None:
        for widget in [root, *root.findChildren(QWidget)]:
            self._watch(widget)

    def _watch(self, widget: QWidget) -> None:
        if isinstance(widget, QScrollBar):
            return  # a scroll bar scrolls: that is what the wheel should do
        if isinstance(widget, GUARDED) and widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            # Qt gives focus to a WheelFocus widget before any filter sees the wheel event.
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.removeEventFilter(self)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ChildPolished:  # a widget added later (a new row, a tab)
            child = event.child()
            if isinstance(child, QWidget):
                self.guard(child)
            return False
        if kind != QEvent.Type.Wheel or not isinstance(watched, GUARDED):
            return False
        if watched.hasFocus():
            return False
        area = _scroll_area_of(watched)
        if area is not None:
            QCoreApplication.sendEvent(area.verticalScrollBar(), event)
        event.accept()
        return True  # the setting is left as it was


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not isinstance(parent, GUARDED):
            return parent
        parent = parent.parentWidget()
    return None


_GUARD: WheelGuard | None = None


def guard_wheel(root: QWidget) -> WheelGuard:
    """Apply the wheel rule to ``root`` and everything in it (now and later)."""
    global _GUARD
    if _GUARD is None:
        _GUARD = WheelGuard(QCoreApplication.instance())
    _GUARD.guard(root)
    return _GUARD
