"""The window at 1366x768 and 1920x1080 with the Training dock open: the image keeps at least
half of the width and no control is clipped, in every tab of the training panel, with a run in
the history, LR finder suggestions and a stage marker on the plots. With the Queue open too
(also through a refit and a restored layout, maximised or not) the window stays inside the
screen and nothing is clipped."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from workbench.app import create_main_window
from workbench.core.project import Project

from .layout_check import layout_problems
from .screen_probe import inside, run_probe

SIZES = [(1366, 768), (1920, 1080)]
RUN_CONFIG = {"arch": "resnet34", "size": 128, "resize": [128, 256], "lrs": [2.0e-5, 2.0e-3],
              "epochs": 12}


def open_with_training(qtbot, project: Project, settings: QSettings, size: tuple[int, int]):
    project.db.add_run("20261129-210630-12", RUN_CONFIG)
    project.db.update_run("20261129-210630-12", status="finished", epochs=12,
                          best_metric=0.8812, metric_name="dice_mean",
                          finished_at=project.db.get_run("20261129-210630-12").created_at
                          + 754)
    window = create_main_window(project, settings)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.workspace.current_name is not None, timeout=5000)
    qtbot.wait(50)  # the deferred dock sizing
    if not window.training_dock.isVisible():
        window.training_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: window.training_dock.height() >= 260, timeout=3000)
    # The device list arrives from a background probe and changes the settings' text.
    qtbot.waitUntil(lambda: window.training_panel.devices_probed, timeout=60000)
    qtbot.wait(50)
    return window


def fill_panel(panel) -> None:
    """Content as after a run: metric legend, LR finder suggestions, stage marker, history."""
    plots = panel.plots
    plots.reset(["dice_mean", "iou_mean", "pixel_acc"])
    plots.set_x_span(100, 5)
    plots.mark_stage(96.5, "unfrozen 256px")
    lrs = [1e-7 * 1.2 ** i for i in range(90)]
    losses = [1.0 - 0.006 * i if i < 70 else 0.6 + 0.05 * (i - 70) for i in range(90)]
    panel.lr_finder.set_result(lrs, losses, {"valley": lrs[40], "steep": lrs[50],
                                             "minimum": lrs[69] / 10})
    panel.refresh_history()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("fixture", ["seg_project", "tag_project"])
def test_training_dock_open_nothing_clipped(request, qtbot, settings, size, fixture):
    project = request.getfixturevalue(fixture)
    window = open_with_training(qtbot, project, settings, size)
    try:
        canvas = window.findChild(QWidget, "canvas")
        assert canvas.width() >= window.width() / 2, (canvas.width(), window.width())
        panel = window.training_panel
        fill_panel(panel)
        assert panel.history.run_ids() == ["20261129-210630-12"]
        for index in range(panel.tabs.count()):
            panel.tabs.setCurrentIndex(index)
            qtbot.wait(30)
            problems = layout_problems(window)
            assert problems == [], f"tab {panel.tabs.tabText(index)}:\n" + "\n".join(problems)
        panel.set_settings_visible(False)
        qtbot.wait(30)
        assert not panel.settings_section.isVisible()
        assert layout_problems(window) == []
    finally:
        window.close()


def test_stage_name_stays_inside_the_plot(qtbot, seg_project, settings):
    window = open_with_training(qtbot, seg_project, settings, SIZES[0])
    try:
        plots = window.training_panel.plots
        plots.set_x_span(100, 5)
        for x in (3.5, 50.5, 96.5):  # near the left edge, in the middle, near the right edge
            plots.mark_stage(x, "unfrozen 256px")
        qtbot.wait(30)
        assert len(plots.stage_lines) == 9
        for plot, line in plots.stage_lines:
            view = plot.getPlotItem().vb.sceneBoundingRect()
            label = line.label.sceneBoundingRect()
            assert view.contains(label), (plot.objectName(), line.value(), view, label)
    finally:
        window.close()


def test_legends_are_below_the_plots_not_on_the_data(qtbot, seg_project, settings):
    window = open_with_training(qtbot, seg_project, settings, SIZES[0])
    try:
        panel = window.training_panel
        fill_panel(panel)
        for plot in (panel.plots.loss_plot, panel.plots.metric_plot, panel.lr_finder.plot):
            assert plot.getPlotItem().legend is None  # no legend box inside the view
        legend = panel.findChild(QLabel, "metricLegend").text()
        assert all(name in legend for name in ("dice_mean", "iou_mean", "pixel_acc"))
        finder_legend = panel.findChild(QLabel, "lrFinderLegend").text()
        assert all(name in finder_legend for name in ("valley", "steep", "minimum"))
        # each marker's colour is in the legend next to its name
        for spot, name in zip(panel.lr_finder.markers.points(), ("valley", "steep", "minimum")):
            colour = spot.brush().color().name()
            assert colour in finder_legend.split(name)[0].rsplit("<span", 1)[-1]
        assert panel.findChild(QPushButton, "savePlotsButton").isVisible()
    finally:
        window.close()


@pytest.mark.parametrize("maximised", [True, False], ids=["maximised", "normal"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queue_and_training_together_stay_on_the_screen(tmp_path, seg_project, size, maximised):
    """Queue and Training opened together, then a refit (Training raised for its plots, the
    Queue with its before / after table), then the window reopened on that saved layout: the
    window never grows past the screen, nothing is clipped, the Refit button and the table
    are on the screen. Each screen size runs in its own process (tests/qt/screen_probe.py)."""
    root = Path(seg_project.root)
    seg_project.close()
    report = run_probe(tmp_path, root, size, ["show:training", "show:queue", "check:docks",
                                              "settings", "check:settings", "settings",
                                              "refit", "check:refit", "reopen"],
                       maximised=maximised)
    for check in [*report["checks"], report]:
        where = f"{check['label']}: {check['frame']} on {check['screen']}"
        assert inside(check["screen"], check["frame"]), where
        for key in ("training", "queue"):
            dock = check["docks"][key]
            assert dock["visible"] and not dock["floating"], (where, key, dock)
            assert inside(check["screen"], dock["global"]), (where, key, dock)
        assert check["docks"]["queue"]["area"] == "RightDockWidgetArea", where
        button = check["refit"]["button"]
        assert button[4] and inside(check["screen"], button[:4]), (where, button)
        assert check["problems"] == [], where + "\n" + "\n".join(check["problems"])
        assert check["under_file_menu_is_menu_bar"], (where, check["under_file_menu"])
    after_refit = report["checks"][2]
    table = after_refit["refit"]["table"]  # shown by the refit (not kept across a reopen)
    assert table[4] and inside(after_refit["screen"], table[:4]), table


def fake_mistakes(count: int = 24):
    """A scored run as the Mistakes view receives it: label | prediction | errors tiles."""
    import numpy as np

    tile = np.full((96, 96, 3), 120, np.uint8)
    items = [SimpleNamespace(image=f"img_{i:02d}.png", loss=1.0 - i / 50, dice=0.5, probs=None,
                             missed=[], extra=[]) for i in range(count)]
    interp = SimpleNamespace(run="20261129-210630-12", task="segmentation", items=items,
                             most_confused=[{"actual": "shape", "predicted": "background",
                                             "pixels": 1204}])
    return SimpleNamespace(interp=interp, cells=[[(tile, c) for c in ("label", "prediction",
                                                                      "errors")]] * count,
                           cached=False)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_mistakes_list_shows_at_least_four_rows(qtbot, seg_project, settings, size):
    window = open_with_training(qtbot, seg_project, settings, size)
    try:
        view = window.loop.mistakes
        window.training_panel.tabs.setCurrentWidget(view)
        view.show_result(fake_mistakes())
        table = view.table

        def whole_rows() -> int:
            height = table.viewport().height()
            return sum(1 for r in range(table.rowCount()) if 0 <= table.rowViewportPosition(r)
                       and table.rowViewportPosition(r) + table.rowHeight(r) <= height)

        qtbot.wait(50)
        assert whole_rows() >= 4, (whole_rows(), table.viewport().height())
        assert view.table.iconSize().height() >= 32  # still a picture, not a dot
        assert layout_problems(window) == []
    finally:
        window.close()


def test_default_1920_window_shows_every_annotation_control(tmp_path, seg_project):
    """The window as it first opens on a 1920x1080 screen (not maximised, Training shown):
    "From prediction" and the Label / Prediction / Errors buttons were cut off below."""
    root = Path(seg_project.root)
    seg_project.close()
    report = run_probe(tmp_path, root, (1920, 1080), [], maximised=False)
    side = report["side_panel"]
    assert side["training_visible"]
    assert side["cut"] == [] and side["scroll_max"] == 0, side
