"""The real window at common sizes: where it opens, how the docks share the width, and that
the annotation side panel, its tool bar and the training panel fit without clipping."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from workbench.app import create_main_window
from workbench.core.project import Project, Status
from workbench.qt.main_window import IMAGES_DOCK_WIDTH, TRAINING_DOCK_MIN_WINDOW


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def open_window(qtbot, settings):
    windows = []

    def make(project: Project, width: int = 1256, height: int = 706):
        window = create_main_window(project, settings)
        window.resize(width, height)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.workspace.current_name is not None, timeout=5000)
        qtbot.wait(50)  # the deferred dock sizing
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        window.deleteLater()


def test_demo_opens_on_its_start_image(open_window, nuclei_project):
    window = open_window(nuclei_project)
    assert window.workspace.current_name == "nuclei_z30.png"


def test_without_start_image_the_first_unlabelled_image_opens(open_window, seg_project):
    names = seg_project.image_names()
    seg_project.set_status(names[4], Status.UNLABELLED)
    window = open_window(seg_project)
    assert window.workspace.current_name == names[4]


def test_remembered_image_wins_over_the_start_image(qtbot, open_window, nuclei_project,
                                                     settings):
    window = open_window(nuclei_project)
    window.workspace.navigateRequested.emit("next")
    assert window.workspace.current_name == "nuclei_z31.png"
    window.close()
    assert open_window(nuclei_project).workspace.current_name == "nuclei_z31.png"


def test_narrow_window_gives_the_canvas_the_room_and_training_is_one_click_away(
        qtbot, open_window, seg_project):
    window = open_window(seg_project, 1256, 706)
    assert not window.training_dock.isVisible()
    assert window.workspace.width() > window.width() * 0.6
    toggle = window.training_dock.toggleViewAction()
    assert toggle in window.toolbar.actions()
    toggle.trigger()
    # the room comes from the canvas, not from the image list
    qtbot.waitUntil(lambda: window.training_dock.width() >= 440
                    and window.images_dock.width() >= IMAGES_DOCK_WIDTH - 5, timeout=3000)
    panel = window.training_panel
    assert panel.compact and panel.tabs.tabText(0) == "Settings"
    assert panel.tabs.tabBar().sizeHint().width() <= panel.tabs.width()  # every tab visible


def test_wide_window_shows_the_training_dock_at_about_a_third(open_window, seg_project):
    window = open_window(seg_project, TRAINING_DOCK_MIN_WINDOW + 66, 993)
    assert window.training_dock.isVisible()
    assert 0.25 * window.width() < window.training_dock.width() < 0.4 * window.width()
    assert window.workspace.width() > window.training_dock.width()


def _clipped(root: QWidget) -> list[str]:
    found = []
    for widget in root.findChildren(QWidget):
        text_widget = isinstance(widget, QAbstractButton | QLabel) and widget.isVisible()
        if text_widget and widget.sizeHint().width() > widget.width() + 1:
            found.append(f"{widget.objectName() or type(widget).__name__}: {widget.text()!r}")
    return found


@pytest.mark.parametrize("project_fixture", ["seg_project", "tag_project"])
def test_side_panel_and_toolbar_fit_at_1366(request, qtbot, open_window, project_fixture):
    window = open_window(request.getfixturevalue(project_fixture), 1256, 706)
    workspace = window.workspace
    side = workspace.findChild(QWidget, "annotationSidePanel")
    assert _clipped(side) == []
    for show_training in (False, True):
        if show_training:
            window.training_dock.toggleViewAction().trigger()
            qtbot.waitUntil(lambda: window.training_dock.width() >= 440, timeout=3000)
        assert workspace.toolbar.sizeHint().width() <= workspace.width()
    assert workspace.toolbar.actions()[0].isSeparator() is False
    assert workspace.minimumSizeHint().width() < 520  # the status line no longer sets it


def test_training_panel_moves_settings_into_a_tab_when_narrow(qtbot, seg_project):
    from workbench.qt.training import TrainingPanel

    panel = TrainingPanel(seg_project)
    qtbot.addWidget(panel)
    panel.resize(1100, 700)
    panel.show()
    qtbot.waitUntil(lambda: not panel.compact and panel.splitter.count() == 2, timeout=3000)
    assert panel.tabs.indexOf(panel.settings_scroll) == -1
    panel.resize(480, 700)
    qtbot.waitUntil(lambda: panel.compact, timeout=3000)
    assert panel.tabs.widget(0) is panel.settings_scroll
    assert panel.tabs.currentWidget() is panel.settings_scroll  # idle: settings come first
    panel.resize(1100, 700)
    qtbot.waitUntil(lambda: not panel.compact, timeout=3000)
    assert panel.splitter.widget(0) is panel.settings_scroll and panel.settings_scroll.isVisible()
    assert panel.tabs.tabText(0) == "Plots"


def test_annotation_toolbar_drops_text_step_by_step(qtbot, seg_project):
    from workbench.qt.annotation import AnnotationWorkspace

    workspace = AnnotationWorkspace(seg_project)
    qtbot.addWidget(workspace)
    bar = workspace.toolbar
    for width, level in ((1200, 0), (700, 1), (450, 2)):
        workspace.resize(width, 600)
        workspace.show()
        qtbot.waitUntil(lambda level=level: bar.level == level, timeout=3000)
        assert bar.sizeHint().width() <= width or level == 2
    reviewed = workspace.actions_by_id["reviewed"]
    assert reviewed.toolTip().endswith("(R)")  # icon-only buttons still name their key
