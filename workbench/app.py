"""Where core meets Qt: check Qt can start, build the window for a project, run the event loop.

``create_main_window(project)`` builds the whole window without an event loop (tests drive it);
``run_app(path)`` is what ``workbench open`` / ``workbench demo`` call.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError
from workbench.system_libs import PLATFORM_LIBS, display_problem, find_missing, qt_platform

if TYPE_CHECKING:  # Qt is imported only after preflight_qt() has passed
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from workbench.core.project import Project
    from workbench.qt.main_window import MainWindow

log = logging.getLogger(__name__)


class QtUnavailableError(WorkbenchError):
    """Qt cannot open a window here: system libraries or a display are missing."""


def preflight_qt() -> None:
    """Fail with one actionable line instead of Qt's "could not load the platform plugin"."""
    if not sys.platform.startswith("linux"):
        return
    platform = qt_platform()
    problem = display_problem(platform)
    if problem:
        raise QtUnavailableError(problem)
    if platform in PLATFORM_LIBS:
        missing = find_missing([platform])
        if missing:
            raise QtUnavailableError(missing.message())


def ensure_application(theme: str | None = None) -> QApplication:
    """The QApplication (created and styled on first use)."""
    from PySide6.QtWidgets import QApplication

    from workbench.qt.theme import apply_theme

    app = QApplication.instance()
    if app is None:
        preflight_qt()
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Workbench")
        app.setOrganizationName("workbench")
    if app.property("workbenchTheme") is None or theme is not None:
        apply_theme(app, theme)
    return app  # type: ignore[return-value]


def default_settings() -> QSettings:
    """User settings (INI); $WORKBENCH_SETTINGS points them at another file (tests, kiosks)."""
    from PySide6.QtCore import QSettings

    path = os.environ.get("WORKBENCH_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "workbench",
                     "workbench")


def create_main_window(project: Project | str | Path,
                       settings: QSettings | None = None) -> MainWindow:
    """Build the whole window for ``project`` (a Project or its folder); no event loop.

    A folder is opened for writing and closed with the window; a Project object stays the
    caller's to close.
    """
    ensure_application()
    from workbench.core.prefs import ProjectPrefs
    from workbench.core.project import Project
    from workbench.qt.annotation import AnnotationWorkspace
    from workbench.qt.main_window import MainWindow
    from workbench.qt.project_prefs import PrefsBinder, saved_config
    from workbench.qt.refit.hookup import install_loop
    from workbench.qt.training import TrainingPanel

    owns = not isinstance(project, Project)
    if isinstance(project, Project):
        opened, why_readonly = project, None
    else:
        opened, why_readonly = _open_for_window(project)
    try:
        prefs = ProjectPrefs(opened.local_root, readonly=getattr(opened, "readonly", False))
        workspace = AnnotationWorkspace(opened)
        panel = TrainingPanel(opened, config=saved_config(prefs))
        window = MainWindow(opened, workspace, panel, settings, owns_project=owns)
        window.prefs = PrefsBinder(prefs, window, workspace, panel)
        install_loop(window)  # Mistakes, corrections queue, refit (workbench/qt/refit)
        from workbench.qt.team import install_team

        install_team(window)  # team projects: claims, live view, review (workbench/qt/team)
    except BaseException:
        if owns:
            opened.close()
        raise
    if settings is not None:
        window.recent.add(opened.root)
    if why_readonly is not None:
        window.setWindowTitle(f"{opened.name} (read-only) — Workbench")
        window.statusBar().showMessage("Opened read-only, for viewing: the project folder "
                                       "cannot be written.", 30000)
        window.statusBar().setToolTip(why_readonly)
    return window


def _open_for_window(path: str | Path) -> tuple[Project, str | None]:
    """Open for writing; a project that cannot be written (read-only mount or folder) opens
    read-only for viewing instead. Returns the project and why it is read-only (or None)."""
    from workbench.core.errors import ReadOnlyError
    from workbench.core.project import Project

    try:
        return Project.open(path), None
    except ReadOnlyError as exc:
        log.warning("%s; opening it read-only", exc)
        return Project.open(path, readonly=True), str(exc)


class AppController:
    """Keeps one window open at a time: the welcome window or one project's main window."""

    def __init__(self, settings: QSettings) -> None:
        from workbench.qt.dialogs.recent import RecentProjects

        self.settings = settings
        self.recent = RecentProjects(settings)
        self.window = None

    def _connect(self, window: object) -> None:
        window.openProjectRequested.connect(self.open_project)
        window.newProjectRequested.connect(self.new_project)
        if hasattr(window, "demoRequested"):
            window.demoRequested.connect(self.open_demo)

    def show_welcome(self) -> None:
        from workbench.qt.dialogs.welcome import WelcomeWindow

        welcome = WelcomeWindow(self.recent)
        self._connect(welcome)
        self._replace(welcome)

    def open_project(self, path: str | Path = "") -> bool:
        """Open ``path`` (or ask for a folder) in place of the current window."""
        from PySide6.QtWidgets import QMessageBox

        from workbench.qt.dialogs.open_project import choose_project_folder

        if not path:
            chosen = choose_project_folder(self.window, self._last_dir())
            if chosen is None:
                return False
            path = chosen
        current = getattr(self.window, "project_root", None)
        if current is not None and Path(path).resolve() == current:
            return True
        if self.window is not None and not self.window.close():
            return False  # the user kept the current project (e.g. training is running)
        try:
            window = create_main_window(path, self.settings)
        except WorkbenchError as exc:
            QMessageBox.warning(None, "Cannot open project", str(exc))
            if not (Path(path) / "workbench.json").is_file():
                self.recent.remove(path)  # gone, or no project: a locked or damaged one stays
            self.window = None
            self.show_welcome()
            return False
        self._connect(window)
        self._replace(window)
        return True

    def new_project(self) -> None:
        from workbench.qt.dialogs.new_project import NewProjectDialog

        dialog = NewProjectDialog(self.window, self._last_dir())
        if dialog.exec() and dialog.created_path is not None:
            self.open_project(dialog.created_path)

    def open_demo(self) -> None:
        from workbench.core.demo import create_demo

        self.open_project(create_demo())

    def _last_dir(self) -> Path:
        paths = self.recent.paths()
        return paths[0].parent if paths else Path.home()

    def _replace(self, window: object) -> None:
        old, self.window = self.window, window
        window.show()
        if old is not None and old is not window:
            old.close()
            old.deleteLater()


def _schedule_screenshot(controller: AppController) -> None:
    """$WORKBENCH_SCREENSHOT=file.png and $WORKBENCH_QUIT_AFTER_MS=ms: save the window, quit."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    shot = os.environ.get("WORKBENCH_SCREENSHOT")
    delay = os.environ.get("WORKBENCH_QUIT_AFTER_MS")
    if not shot and not delay:
        return

    def finish() -> None:
        if shot and controller.window is not None:
            controller.window.grab().save(shot)
            log.info("saved screenshot %s", shot)
        if delay and controller.window is not None:
            controller.window.close()
        if delay:
            QApplication.quit()

    QTimer.singleShot(int(delay or 3000), finish)


def run_app(project_path: Path | str | None = None) -> int:
    """Open the app on ``project_path`` (or the welcome window) and run the event loop."""
    app = ensure_application()
    from workbench.qt.gui_gc import GuiThreadCollector
    from workbench.qt.termination import SigtermQuit

    GuiThreadCollector(app).start()  # never collect Qt objects on the training thread
    SigtermQuit(app)  # SIGTERM: stop training cleanly and close, as a confirmed close would
    controller = AppController(default_settings())
    if project_path is not None:
        # Open errors surface as one CLI line (lock held, not a project) before any window.
        window = create_main_window(project_path, controller.settings)
        controller._connect(window)
        controller._replace(window)
    else:
        controller.show_welcome()
    _schedule_screenshot(controller)
    return int(app.exec())
