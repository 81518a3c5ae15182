"""Find clipped controls in a widget tree: what a person would see cut off on screen.

``layout_problems(root)`` walks every visible widget and reports, one line each, a widget that
is smaller than the size its layout must give it (Qt's own rule: the minimum size hint, or the
size hint for widgets that may not shrink), one that sticks out of its parent, a word-wrapped
label too short for its text, a line edit too narrow for its placeholder, a combo box too
narrow for its current text, a tab bar that needs scroll buttons, a tool bar that hides actions
behind its extension button, and a tree whose columns are wider than its view.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QScrollBar,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QTabBar,
    QToolButton,
    QTreeView,
    QWidget,
)

SHRINK = QSizePolicy.PolicyFlag.ShrinkFlag.value
IGNORED = QSizePolicy.Policy.Ignored


def _name(widget: QWidget) -> str:
    text = ""
    for attr in ("text", "title", "placeholderText", "currentText"):
        value = getattr(widget, attr, None)
        if callable(value) and isinstance(value(), str) and value():
            text = f" {value()[:40]!r}"
            break
    return f"{type(widget).__name__}({widget.objectName() or '-'}){text}"


def _required(policy: QSizePolicy.Policy, hint: int, min_hint: int, explicit: int) -> int:
    """qSmartMinSize for one direction: what a layout never goes below."""
    if explicit > 0:
        return explicit
    if policy == IGNORED:
        return 0
    return min_hint if policy.value & SHRINK else max(hint, min_hint)


def _too_small(widget: QWidget) -> str | None:
    policy, hint, min_hint = widget.sizePolicy(), widget.sizeHint(), widget.minimumSizeHint()
    need_w = _required(policy.horizontalPolicy(), hint.width(), min_hint.width(),
                       widget.minimumWidth())
    need_h = _required(policy.verticalPolicy(), hint.height(), min_hint.height(),
                       widget.minimumHeight())
    if widget.width() + 1 < need_w or widget.height() + 1 < need_h:
        return f"{widget.width()}x{widget.height()} < needed {need_w}x{need_h}"
    return None


def _scroll_content(widget: QWidget) -> bool:
    """The widget a scroll area scrolls: it may be taller than the viewport, not wider."""
    viewport = widget.parentWidget()
    area = viewport.parentWidget() if viewport is not None else None
    return isinstance(area, QAbstractScrollArea) and area.viewport() is viewport


def _cut(widget: QWidget) -> str | None:
    parent = widget.parentWidget()
    if parent is None:
        return None
    geo, room = widget.geometry(), parent.rect()
    if _scroll_content(widget):
        if geo.right() > room.right() + 1:
            return f"wider ({geo.width()}) than the scroll area's view ({room.width()})"
        return None
    if not room.adjusted(-1, -1, 1, 1).contains(geo):
        return f"{_rect(geo)} sticks out of its parent {_rect(room)}"
    return None


def _rect(r: QRect) -> str:
    return f"({r.x()},{r.y()} {r.width()}x{r.height()})"


def _text_cut(widget: QWidget) -> str | None:
    if isinstance(widget, QLabel) and widget.wordWrap() and widget.text():
        need = widget.heightForWidth(widget.width())
        if widget.height() + 1 < need:
            return f"wrapped text needs {need}px height, has {widget.height()}"
    if isinstance(widget, QLineEdit) and not widget.text() and widget.placeholderText():
        need = widget.fontMetrics().horizontalAdvance(widget.placeholderText()) + 8
        if widget.width() < need:
            return f"placeholder needs {need}px, has {widget.width()}"
    if isinstance(widget, QComboBox) and widget.currentText() and not widget.isEditable():
        option = QStyleOptionComboBox()
        widget.initStyleOption(option)
        field = widget.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                              QStyle.SubControl.SC_ComboBoxEditField, widget)
        need = widget.fontMetrics().horizontalAdvance(widget.currentText())
        if field.width() < need:
            return f"current text needs {need}px, field is {field.width()}"
    if isinstance(widget, QTabBar) and widget.sizeHint().width() > widget.width() + 1:
        return f"tabs need {widget.sizeHint().width()}px, bar has {widget.width()}"
    if isinstance(widget, QTreeView) and not widget.header().isHidden():
        need = widget.header().length()
        if need > widget.viewport().width() + 1:
            return f"columns need {need}px, view has {widget.viewport().width()}"
    if isinstance(widget, QToolButton) and widget.objectName() == "qt_toolbar_ext_button":
        return "tool bar hides actions behind its extension button"
    return None


def _skipped(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    # Parts of composite widgets are placed by their owner, not by a layout (the main
    # window's dock separators overlap the window's edge by a pixel or two by design). A dock
    # behind another one's tab is parked outside the window by Qt, not hidden.
    return (isinstance(widget, QScrollBar | QHeaderView)
            or isinstance(parent, QAbstractSpinBox)
            or widget.objectName().startswith(("qt_scrollarea_", "qt_qmainwindow_"))
            or (isinstance(widget, QDockWidget) and isinstance(parent, QMainWindow)
                and bool(parent.tabifiedDockWidgets(widget))
                and widget.visibleRegion().isEmpty()))


def layout_problems(root: QWidget) -> list[str]:
    problems = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or widget.isWindow() or _skipped(widget):
            continue
        checks = (_text_cut(widget),) if widget.objectName() == "qt_toolbar_ext_button" else (
            _too_small(widget), _cut(widget), _text_cut(widget))
        problems += [f"{_name(widget)}: {found}" for found in checks if found]
    return problems
