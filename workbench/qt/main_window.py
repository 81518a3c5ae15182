"""The main window: a thin host for the image browser, the annotation workspace and the training
panel. It owns docks, menus, the tool bar and the status bar, and wires the panels' signals;
everything else is delegated to them."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.core.project import Project, Status
from workbench.qt.browser import ImageBrowser
from workbench.qt.class_progress import ClassProgress
from workbench.qt.dialogs.export import ExportMenu
from workbench.qt.dialogs.recent import RecentProjects
from workbench.qt.docks import DockManager
from workbench.qt.prediction_offer import PredictionOffer
from workbench.qt.theme import icon

if TYPE_CHECKING:
    from workbench.qt.project_prefs import PrefsBinder
    from workbench.qt.team import TeamLink

log = logging.getLogger(__name__)

IMAGES_DOCK_WIDTH = 235
# The training dock sits under the image (plots in a strip), so the image keeps its width.
# Below this window height it starts hidden (its tool bar button shows it), so the image keeps
# its height too; taller windows show it from the start.
TRAINING_DOCK_MIN_HEIGHT = 900
# saveState() layouts of older versions (training dock on the right) are not restored.
LAYOUT_VERSION = 2


class MainWindow(QMainWindow):
    """Hosts one open project. Emits requests for project-level actions (new/open) so the app
    controller decides what happens to this window; importing happens in place."""

    openProjectRequested = Signal(str)  # a project folder, or "" to ask for one
    newProjectRequested = Signal()

    def __init__(self, project: Project, workspace: QWidget, training_panel: QWidget | None,
                 settings: QSettings | None = None, *, owns_project: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.workspace = workspace
        self.training_panel = training_panel
        self.settings = settings
        self.recent = RecentProjects(settings) if settings is not None else None
        self._owns_project = owns_project
        self._closed = False
        self.confirm_on_close = True  # False: a close nobody can answer (SIGTERM) stops training
        self.prefs: PrefsBinder | None = None  # the project's remembered settings (set by app)
        self.team: TeamLink | None = None  # team projects: the live view (set by app)
        self.setObjectName("mainWindow")
        self.setWindowTitle(f"{project.name} — Workbench")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.browser = ImageBrowser.for_project(project)
        self.setCentralWidget(workspace)
        self._build_menus()
        self.images_dock = self.docks.add("Images", "imagesDock", self.browser,
                                          Qt.DockWidgetArea.LeftDockWidgetArea)
        # The image list keeps the window's full height; the training dock spans the rest.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.training_dock = (self.docks.add("Training", "trainingDock", training_panel,
                                             Qt.DockWidgetArea.BottomDockWidgetArea,
                                             shown=self._training_shown_by_default)
                              if training_panel is not None else None)
        self.docks.on_reset = self._size_docks
        self._build_status_bar()
        self._build_actions()
        self._wire()
        self._restore_geometry()
        self.update_progress()
        QTimer.singleShot(0, self._open_first_image)

    # -- construction ------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.project_label = QLabel(f"{self.project.name} · {self.project.task.value}")
        self.progress_label = QLabel(objectName="progressLabel")
        self.progress_bar = QProgressBar(objectName="labelProgress")
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedWidth(140)
        self.class_progress = ClassProgress(self.project)
        bar.addPermanentWidget(self.project_label)
        bar.addPermanentWidget(self.progress_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.class_progress)

    def _action(self, text: str, slot: Callable[[], object], icon_name: str | None = None,
                shortcut: QKeySequence | str | None = None, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text.replace("…", "").replace("&", ""))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.go_menu = bar.addMenu("&Go")
        self.view_menu = bar.addMenu("&View")
        self.view_menu.setObjectName("viewMenu")
        self.help_menu = bar.addMenu("&Help")
        self.docks = DockManager(self, self.view_menu)

    def _build_actions(self) -> None:
        self.new_action = self._action("&New Project…", self.newProjectRequested.emit,
                                       "project-new", QKeySequence.StandardKey.New)
        self.open_action = self._action("&Open Project…",
                                        lambda: self.openProjectRequested.emit(""),
                                        "folder-open", QKeySequence.StandardKey.Open)
        self.import_action = self._action("&Import Images…", self.show_import_dialog, "import",
                                          "Ctrl+I", "Add images (and masks or tags) to this "
                                          "project")
        quit_action = self._action("&Quit", self.close, None, QKeySequence.StandardKey.Quit)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu = self.file_menu
        self.export_menu = ExportMenu(self, file_menu)  # the same exporters as the CLI
        for item in (self.new_action, self.open_action, self.recent_menu, None,
                     self.import_action, self.export_menu.menu, None, quit_action):
            _add(file_menu, item)
        # Navigation keys belong to the workspace (PgUp/PgDown, A/D, N); the menu shows them.
        go_menu = self.go_menu
        for text, direction, name in (("Previous Image\tPgUp", "prev", "go-prev"),
                                      ("Next Image\tPgDown", "next", "go-next"),
                                      ("Next to Do\tN", "next_unlabelled", "next-unlabelled")):
            go_menu.addAction(self._action(text, lambda d=direction: self.navigate(d), name))
        if self.training_dock is not None:
            self.training_dock.toggleViewAction().setIcon(icon("training"))
        self.help_menu.addAction(self._action("&About Workbench", self._about))
        self._build_toolbar()

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Project", self)
        toolbar.setObjectName("mainToolBar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.new_action, self.open_action, self.import_action):
            toolbar.addAction(action)
        if self.training_dock is not None:
            toolbar.addSeparator()
            toolbar.addAction(self.training_dock.toggleViewAction())
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _wire(self) -> None:
        self.browser.set_in_progress(self.project.in_progress())
        self.browser.currentImageChanged.connect(self._on_current_image)
        self.browser.filterChanged.connect(lambda _mode: self.update_progress())
        ws = self.workspace
        ws.navigateRequested.connect(self.navigate)
        ws.statusChanged.connect(self._on_status_changed)
        ws.labelsSaved.connect(self._on_labels_saved)
        if (error := getattr(ws, "errorOccurred", None)) is not None:
            error.connect(lambda msg: self.statusBar().showMessage(msg, 10000))
        if (recovered := getattr(ws, "recoveredEdits", None)) is not None:
            recovered.connect(lambda name, n: self.statusBar().showMessage(
                f"Recovered {n} unsaved stroke(s) on {name} from the last session.", 10000))
        if self.training_panel is not None and hasattr(self.training_panel, "runFinished"):
            self.training_panel.runFinished.connect(
                lambda run_id: self.statusBar().showMessage(f"Training run {run_id} ended.", 8000))
        if hasattr(ws, "predictionMissing") and hasattr(self.training_panel, "predictionsWritten"):
            self.prediction_offer = PredictionOffer(self, ws, self.training_panel)

    def _restore_geometry(self) -> None:
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        width = min(1800, int(screen.width() * 0.92)) if screen is not None else 1440
        height = min(1100, int(screen.height() * 0.92)) if screen is not None else 900
        size = [max(width, 1024), max(height, 680)]
        if screen is not None:  # a small screen: never larger than its available area
            size = [min(size[0], screen.width() - 8), min(size[1], screen.height() - 40)]
        self.resize(*size)
        self._default_docks = True
        self._training_sized = False
        self._layout_restored = False
        if self.settings is not None:
            geometry = self.settings.value("mainWindow/geometry")
            if isinstance(geometry, QByteArray):
                self.restoreGeometry(geometry)
        if self.training_dock is not None:
            self.training_dock.visibilityChanged.connect(self._on_training_visibility)

    def restore_layout(self) -> bool:
        """Restore the saved dock layout once, after every dock exists (the corrections loop
        adds its own after the window is built). Restoring earlier left those docks out of
        the layout Qt re-applies when a maximised window gets its size: drawn at the window's
        top-left, over the menus. True if a saved layout was restored."""
        if self._layout_restored:
            return not self._default_docks
        self._layout_restored = True
        state = self.settings.value("mainWindow/state") if self.settings is not None else None
        if isinstance(state, QByteArray):
            self._default_docks = not self.restoreState(state, LAYOUT_VERSION)
            self._training_sized = not self._default_docks
        self.docks.schedule_check()
        return not self._default_docks

    def _training_shown_by_default(self) -> bool:
        return self.height() >= TRAINING_DOCK_MIN_HEIGHT

    def showEvent(self, event: QShowEvent) -> None:
        self.restore_layout()
        super().showEvent(event)
        if self._default_docks:  # dock sizes only stick once the window has its real size
            self._default_docks = False
            QTimer.singleShot(0, self._size_docks)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # A maximised window re-applies the restored layout when it gets its size.
        self.docks.schedule_check()

    def _size_docks(self) -> None:
        self.resizeDocks([self.images_dock], [IMAGES_DOCK_WIDTH], Qt.Orientation.Horizontal)
        if self.training_dock is None:
            return
        if not self._training_shown_by_default():
            self.training_dock.hide()
            self._training_sized = False  # sized when the user first shows it
        else:
            self._size_training_dock()

    def training_dock_height(self) -> int:
        """The training dock's default height: about 40 % of the window, which leaves the
        image most of the height and the plots enough to read."""
        return max(270, min(480, int(self.height() * 0.42)))

    def _size_training_dock(self) -> None:
        if self.training_dock is not None and self.training_dock.isVisible():
            self._training_sized = True
            self.resizeDocks([self.training_dock], [self.training_dock_height()],
                             Qt.Orientation.Vertical)

    def _on_training_visibility(self, visible: bool) -> None:
        # Shown for the first time (it started hidden): give it its default width, not the
        # width Qt remembers from before it was hidden.
        if visible and not self._training_sized and not self._default_docks:
            QTimer.singleShot(0, self._size_training_dock)

    # -- behaviour ---------------------------------------------------------------------------
    def navigate(self, direction: str) -> bool:
        moved = self.browser.navigate(direction)
        if not moved:
            message = ("Every image is labelled and none is in progress."
                       if direction == "next_unlabelled"
                       else f"No {'next' if direction == 'next' else 'previous'} image here.")
            self.statusBar().showMessage(message, 4000)
        return moved

    def update_progress(self) -> None:
        counts = self.browser.model.counts()
        total = sum(counts.values())
        done = counts.get("labelled", 0) + counts.get("reviewed", 0)
        pct = round(100 * done / total) if total else 0
        started = len(self.browser.model.in_progress_names())
        self.progress_label.setText(f"{done} / {total} labelled ({pct}%) · "
                                    + (f"{started} in progress · " if started else "")
                                    + f"{counts.get('reviewed', 0)} reviewed")
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)

    def _last_image_key(self) -> str:
        return "lastImage/" + hashlib.sha1(str(self.project_root).encode()).hexdigest()[:16]

    def _open_first_image(self) -> None:
        """Resume at the image open last time in this project, else at the start image."""
        if self._closed or self.browser.current_name() is not None:
            return
        last = self.settings.value(self._last_image_key()) if self.settings is not None else None
        if isinstance(last, str) and self.browser.select(last):
            return
        start = self.start_image()
        if not (start is not None and self.browser.select(start)):
            self.browser.select_first()

    def start_image(self) -> str | None:
        """Where a project without history opens: the image its manifest names (a demo's best
        slice), else the first unlabelled image in list order, else None (the first image)."""
        chosen = getattr(self.project, "start_image", None)
        if chosen:
            return str(chosen)
        statuses = self.project.statuses()
        return next((name for name in self.project.image_names()
                     if statuses.get(name) == Status.UNLABELLED), None)

    def _on_current_image(self, name: str) -> None:
        if self._closed:  # a queued selection after closing must not touch the closed project
            return
        if getattr(self.workspace, "current_name", None) != name:
            self.workspace.open_image(name)

    def _on_status_changed(self, name: str, status: str) -> None:
        self.browser.set_status(name, status)
        self.browser.set_in_progress(self._in_progress())
        self.class_progress.update_image(name)
        self.update_progress()

    def _on_labels_saved(self, name: str) -> None:
        # The workspace reports the new status separately; saving may still change it (e.g. the
        # first mask of an image), so ask the project, which is the source of truth.
        self.browser.set_status(name, self.project.status(name))
        self.class_progress.update_image(name)
        self.update_progress()

    def _in_progress(self) -> set[str]:
        try:
            return self.project.in_progress()
        except WorkbenchError as exc:  # a locked database must not break the status line
            log.warning("could not read which images are in progress: %s", exc)
            return self.browser.model.in_progress_names()

    def show_import_dialog(self) -> None:
        from workbench.qt.dialogs.import_dialog import ImportDialog  # loaded when first used

        prefs = self.prefs
        dialog = ImportDialog(self.project, self, prefs.import_folder() if prefs else "")
        dialog.imported.connect(self.reload_images)
        if prefs is not None:
            dialog.imported.connect(
                lambda _report: prefs.remember_import_folder(str(dialog.values()["images"])))
        dialog.exec()

    def reload_images(self) -> None:
        self.project.refresh()
        self.browser.reload(self.project.image_names(), self.project.statuses())
        self.class_progress.refresh()
        self.update_progress()
        if self.browser.current_name() is None:
            self.browser.select_first()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths() if self.recent is not None else []
        for path in paths:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.openProjectRequested.emit(str(p)))
        if not paths:
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    def _about(self) -> None:
        QMessageBox.about(self, "About Workbench",
                          "<b>Workbench</b><br>Label images and train segmentation / multi-label "
                          "models on them in one window.")

    # -- closing -----------------------------------------------------------------------------
    def confirm_stop_training(self) -> bool:
        """Ask whether to stop the running training; a QMessageBox tests can answer."""
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "A training run is in progress. Stop it and close the project?\n"
                          "The last good checkpoint is kept.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setObjectName("confirmStopTraining")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        panel = self.training_panel
        if panel is not None and panel.is_training():
            if self.confirm_on_close and not self.confirm_stop_training():
                event.ignore()
                return
            if not panel.stop_and_wait(15000):
                log.warning("training did not stop within 15 s; closing anyway")
        self.workspace.flush()
        if self.team is not None:
            self.team.shutdown()  # stops listening, releases the open image's claim
        self.export_menu.shutdown()  # a running export finishes before the project closes
        self.browser.shutdown()
        self.class_progress.stop()
        if self.settings is not None:
            if (current := self.browser.current_name()) is not None:
                self.settings.setValue(self._last_image_key(), current)
            self.settings.setValue("mainWindow/geometry", self.saveGeometry())
            self.settings.setValue("mainWindow/state", self.saveState(LAYOUT_VERSION))
        if self._owns_project:
            self.project.close()
        self._closed = True
        event.accept()

    @property
    def project_root(self) -> Path:
        return Path(self.project.root)


def _add(menu: QMenu, item: QAction | QMenu | None) -> None:
    if item is None:
        menu.addSeparator()
    elif isinstance(item, QMenu):
        menu.addMenu(item)
    else:
        menu.addAction(item)
