"""The real window from create_main_window, the app controller, welcome window, recent projects,
the Qt preflight check and `workbench open`."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QWidget

from workbench import app as app_module
from workbench.app import AppController, QtUnavailableError, create_main_window
from workbench.core.lock import LOCK_NAME
from workbench.qt.dialogs.recent import RecentProjects
from workbench.qt.dialogs.welcome import PathRole, WelcomeWindow
from workbench.system_libs import MissingLibs


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _close(window) -> None:
    window.close()
    window.deleteLater()


def test_create_main_window_from_a_path_hosts_real_panels(qtbot, seg_project, settings):
    root = seg_project.root
    seg_project.close()
    window = create_main_window(root, settings)
    window.show()
    try:
        from workbench.qt.annotation import AnnotationWorkspace
        from workbench.qt.training import TrainingPanel

        assert isinstance(window.centralWidget(), AnnotationWorkspace)
        assert isinstance(window.training_panel, TrainingPanel)
        for name in ("imageList", "imageFilter", "canvas", "trainStartButton"):
            assert window.findChild(QWidget, name) is not None, name
        first = window.project.image_names()[0]
        qtbot.waitUntil(lambda: window.workspace.current_name == first, timeout=5000)
        window.workspace.navigateRequested.emit("next")  # what ANNOT's PgDown does
        assert window.workspace.current_name == window.project.image_names()[1]
        assert RecentProjects(settings).paths() == [root]
        assert (root / LOCK_NAME).exists()  # the window holds the project's lock
    finally:
        _close(window)
    assert not (root / LOCK_NAME).exists()  # released on close


def test_real_window_updates_list_when_workspace_marks_reviewed(qtbot, seg_project):
    window = create_main_window(seg_project)
    window.show()
    try:
        first = seg_project.image_names()[0]
        qtbot.waitUntil(lambda: window.workspace.current_name == first, timeout=5000)
        window.workspace.toggle_reviewed()
        assert window.browser.model.status(first) == "reviewed"
        assert "1 reviewed" in window.progress_label.text()
    finally:
        _close(window)


def test_multilabel_project_opens(qtbot, tag_project):
    window = create_main_window(tag_project)
    window.show()
    try:
        assert window.project_label.text().endswith("multilabel")
        assert window.browser.model.rowCount() == len(tag_project.image_names())
    finally:
        _close(window)


def test_controller_switches_between_welcome_and_projects(qtbot, seg_project, tag_project,
                                                          settings):
    roots = [seg_project.root, tag_project.root]
    seg_project.close()
    tag_project.close()
    controller = AppController(settings)
    controller.show_welcome()
    assert isinstance(controller.window, WelcomeWindow)
    assert controller.open_project(roots[0])
    first = controller.window
    assert first.project_root == roots[0]
    assert controller.open_project(roots[1])
    assert controller.window.project_root == roots[1] and not first.isVisible()
    assert not (roots[0] / LOCK_NAME).exists()  # the first window released its project
    assert RecentProjects(settings).paths() == [roots[1], roots[0]]
    _close(controller.window)


def test_welcome_lists_recent_projects_and_opens_on_double_click(qtbot, seg_project, settings):
    recent = RecentProjects(settings)
    recent.add(seg_project.root)
    recent.add(seg_project.root.parent / "gone")  # no workbench.json: not listed
    welcome = WelcomeWindow(recent)
    qtbot.addWidget(welcome)
    welcome.show()
    assert welcome.recent_list.count() == 1
    item = welcome.recent_list.item(0)
    assert item.data(PathRole) == str(seg_project.root)
    rect = welcome.recent_list.visualItemRect(item)
    viewport = welcome.recent_list.viewport()
    with qtbot.waitSignal(welcome.openProjectRequested) as blocker:
        # a real double click is press, release, then the double-click event
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [str(seg_project.root)]
    with qtbot.waitSignal(welcome.openProjectRequested) as blocker:
        qtbot.keyClick(welcome.recent_list, Qt.Key.Key_Return)
    assert blocker.args == [str(seg_project.root)]
    with qtbot.waitSignal(welcome.newProjectRequested):
        qtbot.mouseClick(welcome.new_button, Qt.MouseButton.LeftButton)


def test_recent_projects_are_deduplicated_and_bounded(tmp_path, settings):
    recent = RecentProjects(settings, limit=3)
    folders = []
    for i in range(5):
        folder = tmp_path / f"p{i}"
        folder.mkdir()
        (folder / "workbench.json").write_text("{}")
        folders.append(folder.resolve())
        recent.add(folder)
    recent.add(folders[3])
    assert recent.paths() == [folders[3], folders[4], folders[2]]
    recent.remove(folders[4])
    assert recent.paths() == [folders[3], folders[2]]


def test_preflight_names_packages_when_libraries_are_missing(monkeypatch):
    monkeypatch.setattr(app_module.sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":99")
    missing = MissingLibs("xcb", ("libxcb-cursor.so.0",), ("libxcb-cursor0",))
    monkeypatch.setattr(app_module, "find_missing", lambda platforms: missing)
    with pytest.raises(QtUnavailableError, match="apt-get install -y libxcb-cursor0"):
        app_module.preflight_qt()


def test_preflight_explains_a_missing_display(monkeypatch):
    monkeypatch.setattr(app_module.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(QtUnavailableError, match="xvfb-run"):
        app_module.preflight_qt()


def test_preflight_passes_for_offscreen_here(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    app_module.preflight_qt()  # the test machine has what offscreen needs


def test_workbench_open_reports_a_bad_folder_in_one_line(tmp_path, capsys):
    from workbench.cli import main

    assert main(["open", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workbench: error:")
    assert "nowhere" in err[0]


def test_welcome_names_projects_by_title_and_never_scrolls_sideways(qtbot, tmp_path, settings):
    from workbench.core.demo import create_demo

    deep = tmp_path / ("a-very-long-folder-name-" * 6) / "demo-segmentation"
    root = create_demo(deep, "segmentation")
    recent = RecentProjects(settings)
    recent.add(root)
    welcome = WelcomeWindow(recent)
    qtbot.addWidget(welcome)
    welcome.resize(900, 560)
    welcome.show()
    qtbot.waitExposed(welcome)
    item = welcome.recent_list.item(0)
    assert item.text().splitlines()[0] == "Nuclei (demo)"  # not "demo-segmentation"
    assert item.toolTip() == str(root)
    view = welcome.recent_list
    assert view.fontMetrics().horizontalAdvance(str(root)) > view.viewport().width()
    assert not view.horizontalScrollBar().isVisible()
    assert view.visualItemRect(item).right() <= view.viewport().width()
    # The second line is the path, shortened in the middle so that it fits the row.
    shown = item.text().splitlines()[1]
    assert "…" in shown and shown.endswith("demo-segmentation")
    assert view.fontMetrics().horizontalAdvance(shown) < view.viewport().width()
