"""The annotation tool bar: built from the TOOLBAR table, and as descriptive as its width allows.

Wide: icons with text. Narrower: text only on the main actions. Narrowest: icons only, with the
text and shortcut in each tooltip. So the bar never hides buttons behind an overflow arrow.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar, QToolButton, QWidget

from workbench.qt.annotation.shortcuts import TOOLBAR
from workbench.qt.theme import ICON_DIR, icon

KEEP_TEXT = frozenset({"next_unlabelled", "reviewed", "contrast"})  # labelled longest when narrow


class AnnotationToolBar(QToolBar):
    """Tool bar whose button style follows the width it is given (see :meth:`fit`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Annotation", parent)
        self.setObjectName("annotationToolBar")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setIconSize(QSize(16, 16))
        self._idents: dict[str, QAction] = {}
        self._widths: list[int] = []  # size hint per level, measured on first fit
        self.level = -1

    def populate(self, actions: Mapping[str, QAction]) -> None:
        """Add the TOOLBAR entries found in ``actions`` (separators only between buttons)."""
        for entry in TOOLBAR:
            if entry is None:
                existing = self.actions()
                if existing and not existing[-1].isSeparator():
                    self.addSeparator()
            elif entry[0] in actions:
                ident, label, icon_name = entry
                act = actions[ident]
                act.setIconText(label)
                if icon_name and (ICON_DIR / f"{icon_name}.svg").exists():
                    act.setIcon(icon(icon_name))
                keys = act.shortcuts()
                act.setToolTip(f"{act.text()} ({keys[0].toString()})" if keys else act.text())
                self.addAction(act)
                self._idents[ident] = act

    def set_level(self, level: int) -> None:
        """0: icons and text; 1: text only on KEEP_TEXT actions; 2: icons only."""
        for ident, act in self._idents.items():
            button = self.widgetForAction(act)
            if isinstance(button, QToolButton):
                text = level == 0 or (level == 1 and ident in KEEP_TEXT)
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text
                                          else Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.level = level

    def fit(self, width: int) -> None:
        """Use the most descriptive level whose buttons fit in ``width`` pixels."""
        if not self._widths:  # measured once, with the final fonts
            for level in range(3):
                self.set_level(level)
                self.layout().invalidate()  # the cached size hint is stale otherwise
                self._widths.append(self.sizeHint().width())
            self.level = -1
        fits = [i for i, w in enumerate(self._widths) if w <= width]
        level = fits[0] if fits else 2
        if level != self.level:
            self.set_level(level)
