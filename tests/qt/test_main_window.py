"""The main window as a host: docks, wiring between browser and workspace, progress, closing.

Host tests use a small stand-in workspace and trainer that implement the contract's signals
and methods, so they check the window's own behaviour; test_main_window_app.py builds the real
window with create_main_window.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from workbench.core.lock import LOCK_NAME
from workbench.core.project import Project, Status
from workbench.qt.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]


class RecordingWorkspace(QWidget):
    labelsSaved = Signal(str)
    statusChanged = Signal(str, str)
    navigateRequested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []
        self.flushes = 0

    @property
    def current_name(self) -> str | None:
        return self.opened[-1] if self.opened else None

    def open_image(self, name: str) -> None:
        self.opened.append(name)

    def flush(self) -> None:
        self.flushes += 1


class RecordingTrainer(QWidget):
    runFinished = Signal(str)

    def __init__(self, training: bool = False) -> None:
        super().__init__()
        self.training = training
        self.stop_calls = 0

    def is_training(self) -> bool:
        return self.training

    def stop_and_wait(self, timeout_ms: int = 10000) -> bool:
        self.stop_calls += 1
        self.training = False
        return True


@pytest.fixture
def host(qtbot, seg_project, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    workspace, trainer = RecordingWorkspace(), RecordingTrainer()
    window = MainWindow(seg_project, workspace, trainer, settings)
    window.show()
    qtbot.waitExposed(window)
    yield window
    trainer.training = False  # so closing at teardown never prompts
    window.close()
    window.deleteLater()


def test_layout_has_named_docks_and_widgets(host):
    assert host.centralWidget() is host.workspace
    assert host.findChild(QWidget, "imageList") is host.browser.view
    assert host.findChild(QWidget, "imageFilter") is host.browser.filter_box
    assert host.dockWidgetArea(host.images_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert host.dockWidgetArea(host.training_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    # the image list keeps the full height; the training dock goes under the image only
    assert host.corner(Qt.Corner.BottomLeftCorner) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert host.training_dock.widget() is host.training_panel
    menus = [a.text().replace("&", "") for a in host.menuBar().actions()]
    assert menus == ["File", "Go", "View", "Help"]


def test_first_image_opens_and_list_clicks_open_images(qtbot, host, seg_project):
    names = seg_project.image_names()
    qtbot.waitUntil(lambda: host.workspace.opened == [names[0]], timeout=3000)
    view = host.browser.view
    rect = view.visualRect(host.browser.proxy.index(2, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert host.workspace.opened[-1] == names[2]


def test_navigate_requests_move_the_list(qtbot, host, seg_project):
    names = seg_project.image_names()
    qtbot.waitUntil(lambda: host.workspace.current_name == names[0], timeout=3000)
    host.workspace.navigateRequested.emit("next")
    assert host.browser.current_name() == names[1] and host.workspace.opened[-1] == names[1]
    host.workspace.navigateRequested.emit("prev")
    assert host.workspace.opened[-1] == names[0]
    host.workspace.navigateRequested.emit("next_unlabelled")  # all labelled: stays, says so
    assert host.workspace.opened[-1] == names[0]
    assert "Every image is labelled" in host.statusBar().currentMessage()


def test_status_changes_update_list_and_progress(qtbot, host, seg_project):
    names = seg_project.image_names()
    assert host.progress_label.text().startswith(f"{len(names)} / {len(names)} labelled (100%)")
    seg_project.set_status(names[3], Status.UNLABELLED)
    host.workspace.statusChanged.emit(names[3], "unlabelled")
    assert host.browser.model.status(names[3]) == "unlabelled"
    assert host.progress_label.text().startswith(f"{len(names) - 1} / {len(names)} labelled")
    assert host.progress_bar.value() == len(names) - 1
    seg_project.set_status(names[3], Status.REVIEWED)
    host.workspace.labelsSaved.emit(names[3])  # the window asks the project for the status
    assert host.browser.model.status(names[3]) == "reviewed"
    assert "1 reviewed" in host.progress_label.text()


def test_close_while_training_asks_and_cancel_keeps_window(host, answer_message_box):
    host.training_panel.training = True
    seen = answer_message_box(QMessageBox.StandardButton.Cancel)
    assert host.close() is False
    assert seen == ["confirmStopTraining"]
    assert host.isVisible() and host.training_panel.stop_calls == 0
    assert host.workspace.flushes == 0


def test_close_while_training_yes_stops_then_flushes(host, answer_message_box):
    host.training_panel.training = True
    seen = answer_message_box(QMessageBox.StandardButton.Yes)
    assert host.close() is True
    assert seen == ["confirmStopTraining"]
    assert host.training_panel.stop_calls == 1
    assert host.workspace.flushes == 1


def test_close_when_idle_flushes_saves_layout_and_does_not_ask(qtbot, host):
    assert host.close() is True
    assert host.workspace.flushes == 1 and host.training_panel.stop_calls == 0
    assert host.settings.value("mainWindow/state") is not None


def _lock_owner_in_a_fresh_process(root) -> str:
    # Another process sees the lock file itself, not this process's shared reference count.
    probe = ("import sys\nfrom workbench.core.errors import ProjectLockedError\n"
             "from workbench.core.project import Project\n"
             "try:\n    Project.open(sys.argv[1]).close()\nexcept ProjectLockedError:\n"
             "    print('locked')\nelse:\n    print('free')\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True,
                            text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("owns", [True, False])
def test_window_releases_the_project_lock_only_when_it_owns_it(qtbot, seg_project, owns):
    root = seg_project.root
    seg_project.close()
    assert not (root / LOCK_NAME).exists()
    project = Project.open(root)
    window = MainWindow(project, RecordingWorkspace(), None, owns_project=owns)
    qtbot.addWidget(window)
    assert _lock_owner_in_a_fresh_process(root) == "locked"
    window.close()
    # An owning window closes the project: the lock file is gone and another program may
    # open it. A window that does not own it leaves the project (and its lock) to its owner.
    assert (root / LOCK_NAME).exists() is not owns
    assert _lock_owner_in_a_fresh_process(root) == ("free" if owns else "locked")
    project.close()
    assert not (root / LOCK_NAME).exists()


def test_import_action_reloads_the_list(qtbot, host, seg_project, tmp_path):
    from PIL import Image

    extra = tmp_path / "extra"
    extra.mkdir()
    Image.new("RGB", (48, 48), (10, 200, 30)).save(extra / "zz_new.png")
    seg_project.add_images([extra / "zz_new.png"])
    host.reload_images()
    assert "zz_new.png" in host.browser.model.names()
    assert host.browser.model.status("zz_new.png") == "unlabelled"
    assert "12 / 13 labelled" in host.progress_label.text()


def test_reopening_resumes_at_the_last_image(qtbot, host, seg_project):
    names = seg_project.image_names()
    qtbot.waitUntil(lambda: host.workspace.current_name == names[0], timeout=3000)
    host.browser.select(names[5])
    host.close()
    workspace = RecordingWorkspace()
    again = MainWindow(seg_project, workspace, None, host.settings)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: workspace.opened == [names[5]], timeout=3000)


class RecoveringWorkspace(RecordingWorkspace):
    recoveredEdits = Signal(str, int)
    errorOccurred = Signal(str)


def test_recovered_strokes_and_save_errors_are_told_in_the_status_bar(qtbot, seg_project,
                                                                      tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    workspace = RecoveringWorkspace()
    window = MainWindow(seg_project, workspace, RecordingTrainer(), settings)
    window.show()
    try:
        workspace.recoveredEdits.emit("img_01.png", 7)
        message = window.statusBar().currentMessage()
        assert "Recovered 7 unsaved stroke(s) on img_01.png" in message
        workspace.errorOccurred.emit("Could not save masks/img_01.png: the disk is full")
        assert "the disk is full" in window.statusBar().currentMessage()
    finally:
        window.close()
        window.deleteLater()
