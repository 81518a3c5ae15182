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
from workbench.qt.main_window import IMAGES_DOCK_WIDTH, LAYOUT_VERSION, TRAINING_DOCK_MIN_HEIGHT


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


def test_short_window_starts_without_training_and_it_is_one_click_away(
        qtbot, open_window, seg_project):
    window = open_window(seg_project, 1256, 706)
    assert not window.training_dock.isVisible()
    canvas = window.findChild(QWidget, "canvas")
    toggle = window.training_dock.toggleViewAction()
    assert toggle in window.toolbar.actions()
    width_before = canvas.width()
    toggle.trigger()
    # the dock goes under the image: the canvas keeps its width, the list its full height
    qtbot.waitUntil(lambda: window.training_dock.height() >= 0.35 * window.height(),
                    timeout=3000)
    assert abs(canvas.width() - width_before) <= 2
    assert window.images_dock.geometry().bottom() >= window.training_dock.geometry().bottom() - 2
    assert window.training_dock.width() < window.width() - IMAGES_DOCK_WIDTH + 10


def test_tall_window_shows_the_training_dock_under_the_image(open_window, seg_project):
    window = open_window(seg_project, 1766, TRAINING_DOCK_MIN_HEIGHT + 93)
    assert window.training_dock.isVisible()
    assert 0.3 * window.height() < window.training_dock.height() < 0.5 * window.height()
    assert window.workspace.height() > window.training_dock.height()


def test_layout_of_an_older_version_is_not_restored(qtbot, open_window, seg_project,
                                                      settings):
    from PySide6.QtCore import Qt

    window = open_window(seg_project, 1766, 993)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.training_dock)
    settings.setValue("mainWindow/state", window.saveState(LAYOUT_VERSION - 1))
    window._closed = True  # close without saving over the old layout
    window.close()
    again = open_window(seg_project, 1766, 993)
    assert again.dockWidgetArea(again.training_dock) == Qt.DockWidgetArea.BottomDockWidgetArea


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
            qtbot.waitUntil(lambda: window.training_dock.height() >= 250, timeout=3000)
        assert workspace.toolbar.sizeHint().width() <= workspace.width()
    assert workspace.toolbar.actions()[0].isSeparator() is False
    assert workspace.minimumSizeHint().width() < 520  # the status line no longer sets it


def test_training_panel_settings_collapse_and_use_two_columns_when_wide(qtbot, seg_project):
    from workbench.qt.training import TrainingPanel

    panel = TrainingPanel(seg_project)
    qtbot.addWidget(panel)
    panel.resize(1100, 400)
    panel.show()
    section = panel.settings_section
    qtbot.waitUntil(lambda: section.columns == 1, timeout=3000)
    one_column = section.width()
    panel.resize(1700, 400)
    qtbot.waitUntil(lambda: section.columns == 2, timeout=3000)
    assert section.width() > 1.5 * one_column  # Model and Stages side by side
    tabs_before = panel.tabs.width()
    panel.settings_button.click()
    qtbot.waitUntil(lambda: not section.isVisible(), timeout=3000)
    qtbot.waitUntil(lambda: panel.tabs.width() > tabs_before + 200, timeout=3000)
    panel.settings_button.click()
    qtbot.waitUntil(section.isVisible, timeout=3000)


def test_extra_views_become_tabs(qtbot, seg_project):
    from PySide6.QtWidgets import QLabel

    from workbench.qt.training import TrainingPanel

    panel = TrainingPanel(seg_project)
    qtbot.addWidget(panel)
    view = QLabel("mistakes")
    index = panel.add_view(view, "Mistakes")
    assert panel.tabs.widget(index) is view and panel.tabs.tabText(index) == "Mistakes"


def test_annotation_toolbar_drops_text_step_by_step(qtbot, seg_project):
    from workbench.qt.annotation import AnnotationWorkspace

    workspace = AnnotationWorkspace(seg_project)
    qtbot.addWidget(workspace)
    bar = workspace.toolbar
    for width, level in ((1200, 0), (800, 1), (450, 2)):  # Auto contrast keeps its text at 1
        workspace.resize(width, 600)
        workspace.show()
        qtbot.waitUntil(lambda level=level: bar.level == level, timeout=3000)
        assert bar.sizeHint().width() <= width or level == 2
    reviewed = workspace.actions_by_id["reviewed"]
    assert reviewed.toolTip().endswith("(R)")  # icon-only buttons still name their key


def test_narrow_training_panel_shows_settings_or_tabs_never_squeezes_both(qtbot, seg_project):
    from workbench.qt.training import TrainingPanel

    panel = TrainingPanel(seg_project)
    qtbot.addWidget(panel)
    panel.resize(1100, 400)
    panel.show()
    body, section = panel.body, panel.settings_section
    qtbot.waitUntil(lambda: section.isVisible() and panel.tabs.isVisible(), timeout=3000)
    # its minimum is the wider of the two, not their sum: a refit beside the Queue fits
    assert body.minimumSizeHint().width() < section.width() + panel.tabs.minimumSizeHint().width()
    panel.resize(body.needed_beside() - 60, 400)
    qtbot.waitUntil(lambda: body.narrow, timeout=3000)
    assert panel.tabs.isVisible() and not section.isVisible()
    assert not panel.settings_button.isChecked()
    panel.settings_button.click()
    assert section.isVisible() and not panel.tabs.isVisible()
    body.show_tabs()  # what starting a job does: the plots come into view
    assert panel.tabs.isVisible() and not section.isVisible()
    panel.resize(1100, 400)
    qtbot.waitUntil(lambda: not body.narrow, timeout=3000)
    assert section.isVisible() and panel.tabs.isVisible()  # the wide choice is kept
