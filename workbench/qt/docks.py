"""The main window's docks: where each one belongs, and the guards that keep them there.

Every dock is registered with its default area and whether it starts shown. That one table
gives the View menu its entries and *Reset Layout*, repairs a restored layout that left a dock
in no dock area (Qt draws such a dock as a bare child over the window's top-left corner) or
floating off every screen, and keeps the window inside the screen's available area whatever
docks are open (:meth:`DockManager.fit_screen`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRect, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

log = logging.getLogger(__name__)

NO_AREA = Qt.DockWidgetArea.NoDockWidgetArea
#: A floating dock must show at least this much of its title bar on a screen to be reachable.
REACHABLE_PX = (60, 16)


@dataclass
class DockSpec:
    dock: QDockWidget
    area: Qt.DockWidgetArea
    shown: Callable[[], bool]  # shown in the default layout?


class DockManager(QObject):
    """Creates and registers the window's docks; owns View's dock entries and Reset Layout."""

    def __init__(self, window: QMainWindow, view_menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.view_menu = view_menu
        self.specs: list[DockSpec] = []
        self._separator = view_menu.addSeparator()
        self.reset_action = QAction("&Reset Layout", window)
        self.reset_action.setObjectName("action_reset_layout")
        self.reset_action.setStatusTip("Put every panel back where it starts: Images on the "
                                       "left, Training under the image, Queue on the right")
        self.reset_action.triggered.connect(lambda _checked=False: self.reset())
        view_menu.addAction(self.reset_action)
        self.on_reset: Callable[[], None] | None = None  # the window's own default sizing
        self._pushed = False  # the window was made larger than the screen by its docks
        self._check = QTimer(self)
        self._check.setSingleShot(True)
        self._check.timeout.connect(self.check)

    # -- registry ----------------------------------------------------------------------------
    def add(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea, *,
            shown: bool | Callable[[], bool] = True) -> QDockWidget:
        """A movable, closable, floatable dock in ``area``, listed in the View menu."""
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.window.addDockWidget(area, dock)
        if shown is False:  # a rule (a callable) is the window's to apply once it has its size
            dock.hide()
        self.register(dock, area, shown)
        return dock

    def register(self, dock: QDockWidget, area: Qt.DockWidgetArea,
                 shown: bool | Callable[[], bool] = True) -> None:
        rule = shown if callable(shown) else (lambda value=bool(shown): value)
        self.specs.append(DockSpec(dock, area, rule))
        self.view_menu.insertAction(self._separator, dock.toggleViewAction())
        # A dock shown, floated or moved may need repairing or leave the window too large.
        dock.visibilityChanged.connect(lambda _visible: self.schedule_check())
        dock.topLevelChanged.connect(lambda _floating: self.schedule_check())
        dock.dockLocationChanged.connect(lambda _area: self.schedule_check())

    def docks(self) -> list[QDockWidget]:
        return [spec.dock for spec in self.specs]

    # -- guards ------------------------------------------------------------------------------
    def schedule_check(self) -> None:
        """Check after Qt has finished the change in progress (restores, shows, drags)."""
        self._check.start(0)

    def check(self) -> None:
        self.repair()
        self.fit_screen()

    def repair(self) -> list[str]:
        """Put back every dock that is in no dock area or floats where no screen shows it;
        returns their object names."""
        repaired = []
        for spec in self.specs:
            dock = spec.dock
            if dock.isFloating() and not _reachable(dock.frameGeometry()):
                dock.setFloating(False)
            if not dock.isFloating() and self.window.dockWidgetArea(dock) == NO_AREA:
                hidden = dock.isHidden()
                self.window.addDockWidget(spec.area, dock)
                dock.setHidden(hidden)
                repaired.append(dock.objectName())
            elif dock.isFloating() and not _reachable(dock.frameGeometry()):
                repaired.append(dock.objectName())
        if repaired:
            log.info("put back docks that were outside every dock area or screen: %s",
                     ", ".join(repaired))
        return repaired

    def reset(self) -> None:
        """The default layout: every dock unfloated, in its own area, shown or hidden."""
        for spec in self.specs:
            spec.dock.setFloating(False)
            self.window.removeDockWidget(spec.dock)
        for spec in self.specs:
            self.window.addDockWidget(spec.area, spec.dock)
            spec.dock.setVisible(spec.shown())
        if self.on_reset is not None:
            self.on_reset()
        self.schedule_check()

    def fit_screen(self) -> bool:
        """Keep docks from pushing the window past the screen's available area; True if the
        window had to change.

        Docks shown by a program (a refit raising Training while the Queue is open) raise the
        window's minimum size, and Qt then makes the window, even a maximised one, wider than
        the screen. The panels keep their minimum widths modest; when a combination still
        needs more than the screen, the last registered visible right-hand dock is tabbed
        with the image list, which frees its column. A window the user (or a test) sized larger than its
        minimum is left alone: only a size forced by the docks is undone."""
        window = self.window
        screen = window.screen()
        if screen is None or not window.isVisible() or window.isFullScreen():
            return False
        room = screen.availableGeometry()
        margins = _frame_margins(window)
        inner_w, inner_h = room.width() - margins[0], room.height() - margins[1]
        hint = window.minimumSizeHint()
        over_w, over_h = window.width() > inner_w, window.height() > inner_h
        if not (over_w or over_h):
            self._pushed = False
            return False
        forced = ((over_w and window.width() <= hint.width() + 2)
                  or (over_h and window.height() <= hint.height() + 2))
        if not (forced or self._pushed or window.isMaximized()):
            return False
        self._pushed = True  # until it fits again: the minimum shrinks only after a relayout
        if (hint.width() > inner_w or hint.height() > inner_h) and self._make_room():
            self.schedule_check()  # size it once the layout has its new minimum
            return True
        if window.isMaximized():
            state = window.windowState()
            frame, inner = window.frameGeometry(), window.geometry()
            window.setGeometry(room.adjusted(inner.left() - frame.left(),
                                             inner.top() - frame.top(),
                                             inner.right() - frame.right(),
                                             inner.bottom() - frame.bottom()))
            window.setWindowState(state | Qt.WindowState.WindowMaximized)
            return True
        window.resize(min(window.width(), inner_w), min(window.height(), inner_h))
        frame = window.frameGeometry()
        window.move(min(max(frame.x(), room.x()), room.right() - frame.width() + 1),
                    min(max(frame.y(), room.y()), room.bottom() - frame.height() + 1))
        return True

    def _make_room(self) -> bool:
        """Tab the last registered visible right or bottom dock with the image list: both
        are lists beside the image, and a tab there frees a column without making the window
        taller (tabbed under Training, the Queue's height made it taller instead)."""
        host = next((s.dock for s in self.specs
                     if s.area == Qt.DockWidgetArea.LeftDockWidgetArea), None)
        if host is None or not host.isVisible():
            return False
        for spec in reversed(self.specs):
            dock = spec.dock
            if dock is host or not dock.isVisible() or dock.isFloating() or \
                    self.window.dockWidgetArea(dock) != Qt.DockWidgetArea.RightDockWidgetArea:
                continue
            log.info("no room for %s beside the other panels: tabbed with %s",
                     dock.objectName(), host.objectName())
            self.window.tabifyDockWidget(host, dock)
            dock.raise_()
            return True
        return False


def _frame_margins(window: QWidget) -> tuple[int, int]:
    frame, inner = window.frameGeometry(), window.geometry()
    return frame.width() - inner.width(), frame.height() - inner.height()


def _reachable(frame: QRect) -> bool:
    """Whether enough of a floating dock's title strip lies on some screen to drag it."""
    title = QRect(frame.x(), frame.y(), frame.width(), 24)
    for screen in QGuiApplication.screens():
        seen = screen.availableGeometry().intersected(title)
        if seen.width() >= REACHABLE_PX[0] and seen.height() >= REACHABLE_PX[1]:
            return True
    return False
