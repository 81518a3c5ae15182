"""Adds the corrections loop to a main window: Queue dock (right), Mistakes tab, refit, the
label/prediction/errors toggle, and the "add to queue" action. The window's modules only call
:func:`install_loop`; everything the loop needs lives here and in its sibling modules.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from workbench.core.project import Task
from workbench.qt.annotation.shortcuts import keys_of
from workbench.qt.browser.model import NameRole
from workbench.qt.refit.corrections import CorrectionTracker
from workbench.qt.refit.launcher import (
    MistakesController,
    RefitController,
    rank_unlabelled_on,
)
from workbench.qt.refit.mistakes import MistakesView
from workbench.qt.refit.prediction_view import PredictionView, ViewToggle
from workbench.qt.refit.queue_model import QueueModel
from workbench.qt.refit.queue_panel import QUEUE_KEY, QueuePanel, badge_title
from workbench.qt.refit.refit_panel import RefitControls
from workbench.qt.refit.tag_predictions import TagPredictions
from workbench.qt.theme import icon
from workbench.qt.wheel_guard import guard_wheel

VIEW_KEY = keys_of("cycle_view")[0]


class CorrectionsLoop(QObject):
    """The loop's parts for one window (kept as ``window.loop``)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        project, workspace, browser = window.project, window.workspace, window.browser
        self.tracker = CorrectionTracker(project, self)
        self.mistakes_dock: QDockWidget | None = None
        self.queue_model = QueueModel(project.queue, self._thumbnail, self)
        browser.model.dataChanged.connect(self._thumbnail_changed)
        self.queue_panel = QueuePanel(self.queue_model)
        self.queue_panel.openRequested.connect(self.open_image)
        self.queue_dock = self._dock()
        self.queue_panel.countChanged.connect(self._badge)
        self._badge(self.queue_model.pending_count())
        workspace.labelsSaved.connect(self.tracker.labels_saved)
        browser.currentImageChanged.connect(self._image_changed)
        self.view: PredictionView | None = None
        self.tag_predictions: TagPredictions | None = None
        if Task(project.task) == Task.SEGMENTATION:
            self._install_view()
        else:
            self.tag_predictions = TagPredictions(workspace, self)
        self.mistakes: MistakesView | None = None
        panel = getattr(window, "training_panel", None)
        if panel is not None and hasattr(panel, "tabs"):
            self._install_mistakes(panel)
            self.refit_controls = RefitControls()
            self.queue_panel.footer.addWidget(self.refit_controls)
            guard_wheel(self.refit_controls)
            self.refit_controller = RefitController(panel.host, self.refit_controls,
                                                    self.queue_model, self)
            self.refit_controller.finished.connect(self._refit_finished)
            self.refit_controller.started.connect(self._refit_started)
        self._install_actions()
        browser.set_uncertainty(project.db.uncertainty())

    # -- construction ------------------------------------------------------------------------
    def _tabbed_dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = self.window.docks.add(title, name, widget, Qt.DockWidgetArea.RightDockWidgetArea)
        training = getattr(self.window, "training_dock", None)
        if training is not None:
            self.window.tabifyDockWidget(training, dock)
            training.raise_()
            if training.isHidden():
                dock.hide()
        return dock

    def _dock(self) -> QDockWidget:
        # Its own dock on the right, the full height for the list, the refit settings and the
        # before / after table; hidden until asked for (toolbar button with the pending count,
        # Corrections menu, or a finished refit), so the image keeps the width at 1366 px.
        # Registered with the window's docks: in the View menu, put back by Reset Layout and
        # repaired if a restored layout leaves it nowhere.
        dock = self.window.docks.add("Queue", "queueDock", self.queue_panel,
                                     Qt.DockWidgetArea.RightDockWidgetArea, shown=False)
        training = getattr(self.window, "training_dock", None)
        if training is not None:
            training.visibilityChanged.connect(self._training_visibility)
            training.toggleViewAction().toggled.connect(self._training_toggled)
        toolbar = getattr(self.window, "toolbar", None)
        if toolbar is not None:
            dock.toggleViewAction().setIcon(icon("reviewed"))
            toolbar.addAction(dock.toggleViewAction())  # its text carries the pending count
        return dock

    def _training_toggled(self, shown: bool) -> None:
        if shown and self.mistakes_dock is not None:  # tabbed with Training: follows it
            self.mistakes_dock.show()
            self.window.training_dock.raise_()

    def _training_visibility(self, _visible: bool) -> None:
        if self.window.training_dock.isHidden() and self.mistakes_dock is not None:
            self.mistakes_dock.hide()  # closed, not just behind another tab

    def _install_view(self) -> None:
        ws = self.window.workspace
        self.view = PredictionView(ws, self)
        self.view_toggle = ViewToggle(self.view)
        layout = ws.seg_panel.layout()
        layout.insertWidget(max(0, layout.count() - 1), self.view_toggle)  # above the stretch
        # Window-wide like the other annotation keys: V also works after clicking the list.
        self.cycle_view_action = ws.add_action("cycle_view", "Show Label / Prediction / Errors",
                                               [VIEW_KEY], self.view.cycle)

    def _install_mistakes(self, panel: QWidget) -> None:
        self.mistakes = MistakesView()
        if hasattr(panel, "add_view"):  # the panel hosts extra views beside its own tabs
            panel.add_view(self.mistakes, "Mistakes")
        else:  # no room for a seventh tab: a dock tabbed with Training instead
            self.mistakes_dock = self._tabbed_dock("Mistakes", "mistakesDock", self.mistakes)
            self.mistakes_dock.visibilityChanged.connect(lambda _v: self._tab_changed(0))
        self.mistakes_controller = MistakesController(panel.host, self.mistakes, self)
        self.mistakes.correctRequested.connect(
            lambda name, run, loss: self.correct(name, run, loss))
        panel.tabs.currentChanged.connect(self._tab_changed)

    def rank_unlabelled(self) -> bool:
        bar = self.window.statusBar()
        started = rank_unlabelled_on(
            self.window.training_panel.host, lambda _r: self._uncertainty_ready(),
            lambda text: bar.showMessage(f"Ranking failed: {text}", 10000))
        if not started:
            bar.showMessage("Ranking needs a trained model and a free training thread.", 6000)
        return started

    def _uncertainty_ready(self) -> None:
        scores = self.window.project.db.uncertainty()
        self.window.browser.set_uncertainty(scores)
        self.window.statusBar().showMessage(
            f"{len(scores)} unlabelled image(s) ranked: “Most uncertain first” in the image "
            "list; N follows it.", 8000)

    def _refit_started(self) -> None:
        training = getattr(self.window, "training_dock", None)
        if training is not None:  # the live plots, as for a training run
            training.show()
            training.raise_()

    def _refit_finished(self, result: object) -> None:
        if result is None:
            return
        self.queue_dock.show()
        self.queue_dock.raise_()  # the before / after table is under the queue
        if result.accepted:
            self._uncertainty_ready()  # the refit refreshed the scores
            self.window.statusBar().showMessage(
                f"Refit run {result.run} kept: it is the current model.", 8000)
        else:
            self.window.statusBar().showMessage(
                f"Refit run {result.run} made validation worse: kept the previous model "
                f"{result.parent}.", 12000)

    def _tab_changed(self, _index: int) -> None:
        # Shown for the first time with a run but nothing in it: the saved scores, if any.
        view = self.mistakes
        if view is not None and view.isVisible() and view.result is None and view.run_id:
            self.mistakes_controller.score(use_cache=True)

    def _install_actions(self) -> None:
        bar = self.window.menuBar()
        help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
        menu = QMenu("&Corrections", bar)
        if help_menu is not None:  # before Help, which stays last
            bar.insertMenu(help_menu, menu)
        else:
            bar.addMenu(menu)
        menu.setObjectName("correctionsMenu")
        self.add_action = QAction("&Add Image to Queue", self.window)
        self.add_action.setObjectName("action_queue_add")
        self.add_action.setShortcut(QKeySequence(QUEUE_KEY))
        self.add_action.setStatusTip("Queue the open image for the next refit")
        self.add_action.triggered.connect(lambda _c=False: self.add_current())
        menu.addAction(self.add_action)
        if self.view is not None:
            menu.addAction(f"Show Label / Prediction / Errors\t{VIEW_KEY}", self.view.cycle)
        if getattr(self.window, "training_panel", None) is not None:
            rank = menu.addAction("&Rank Unlabelled by Uncertainty", self.rank_unlabelled)
            rank.setObjectName("action_rank_unlabelled")
            rank.setStatusTip("Score the unlabelled images with the current model; the image "
                              "list's “Most uncertain first” and N then follow the scores")
        menu.addSeparator()
        menu.addAction(self.queue_dock.toggleViewAction())
        if self.mistakes_dock is not None:
            menu.addAction(self.mistakes_dock.toggleViewAction())

    # -- behaviour ---------------------------------------------------------------------------
    def open_image(self, name: str) -> bool:
        return bool(self.window.browser.select(name))

    def correct(self, name: str, run_id: str | None, score: float | None,
                reason: str = "top loss") -> bool:
        """Open ``name`` as a correction: its next saves put it in the queue."""
        self.window.workspace.flush()
        self.tracker.begin(name, run_id=run_id, score=score, reason=reason)
        opened = self.open_image(name)
        if opened and self.tag_predictions is not None:
            self.tag_predictions.refresh(name)  # scoring may have just written them
        if opened and self.view is not None and self.view.prediction() is not None:
            self.view.set_view("errors")  # what the model got wrong, one toggle from the label
        return opened

    def add_current(self) -> bool:
        name = self.window.browser.current_name()
        if name is None:
            return False
        self.window.workspace.flush()
        item = self.tracker.add_by_hand(name)
        self.window.statusBar().showMessage(f"{item.image} queued for the next refit.", 5000)
        return True

    def _image_changed(self, name: str) -> None:
        self.tracker.forget_others(name)
        if self.view is not None:
            self.view.image_opened()
        if self.tag_predictions is not None:
            self.tag_predictions.refresh(name)

    def _badge(self, pending: int) -> None:
        self.queue_dock.setWindowTitle(badge_title("Queue", pending))

    def _thumbnail(self, name: str):
        model = self.window.browser.model
        row = model.row_of(name)
        return model.index(row).data(Qt.ItemDataRole.DecorationRole) if row >= 0 else None

    def _thumbnail_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        if roles and Qt.ItemDataRole.DecorationRole not in roles:
            return
        for row in range(top.row(), bottom.row() + 1):
            self.queue_model.thumbnail_ready(str(top.model().index(row, 0).data(NameRole)))


def install_loop(window: QMainWindow) -> CorrectionsLoop:
    window.loop = CorrectionsLoop(window)
    return window.loop
