"""The panel's parts on plain data: plots, LR finder plot, epoch table, form, stages, history."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from workbench.core.runs import Run
from workbench.qt.training.config_form import ConfigForm, parse_lr
from workbench.qt.training.devices import DevicePicker, describe
from workbench.qt.training.epoch_table import EpochRow, EpochTable, format_seconds
from workbench.qt.training.history import RunHistory, run_row
from workbench.qt.training.lr_finder_plot import LRFinderPlot
from workbench.qt.training.plots import LivePlots
from workbench.qt.training.progress import TrainingProgress
from workbench.qt.training.stages import StageControls, StageSettings
from workbench.training.config import TrainConfig


def click_view_point(qtbot, plot_widget, x: float, y: float) -> None:
    """Left-click the pixel where view coordinates (x, y) are drawn."""
    view = plot_widget.getPlotItem().vb
    scene_pos = view.mapViewToScene(QPointF(x, y))
    qtbot.mouseClick(plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=plot_widget.mapFromScene(scene_pos))


def test_live_plots_draw_only_on_refresh_and_match_buffers(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.reset(["dice"])
    before = plots.redraws
    for i in range(500):  # a burst of batches costs no redraw until the timer's refresh
        plots.add_batch(i + 1, 1e-3 * i, 0.9, 1.0 / (i + 1), 0.5)
    plots.add_epoch(500, 0.4, {"dice": 0.7})
    assert plots.redraws == before
    plots.refresh()
    plots.refresh()  # nothing new: no second redraw
    assert plots.redraws == before + 1
    x, y = plots.lr_curve.getData()
    assert list(x) == plots.buffers.iters and list(y) == plots.buffers.lrs
    assert list(plots.raw_loss_curve.getData()[1]) == plots.buffers.losses
    assert list(plots.valid_loss_curve.getData()[0]) == [500.0]
    assert list(plots.metric_curves["dice"].getData()[1]) == [0.7]


def test_live_plots_hover_and_png(qtbot, tmp_path):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(800, 500)
    plots.reset([])
    for i in range(10):
        plots.add_batch(i + 1, 1e-4 * (i + 1), 0.9, 2.0 - i * 0.1, 1.9)
    plots.add_epoch(10, 1.5, {})
    plots.refresh()
    text = plots._hovers[2].show_at(3.2)  # loss plot, nearest iteration 3
    assert "iter 3" in text and "loss 1.8" in text and "valid 1.5" not in text
    assert "valid 1.5" in plots._hovers[2].show_at(10)
    out = plots.save_png(tmp_path / "plots.png")
    assert out.stat().st_size > 1000


def test_lr_finder_click_curve_and_marker_pick_lr(qtbot):
    widget = LRFinderPlot()
    qtbot.addWidget(widget)
    widget.resize(700, 450)
    widget.show()
    qtbot.waitExposed(widget)
    lrs = list(np.logspace(-6, 0, 60))
    losses = [1.5 - 0.8 * math.exp(-((math.log10(v) + 3) ** 2)) for v in lrs]
    widget.set_result(lrs, losses, {"valley": 1e-3, "steep": 1e-4})
    assert set(widget.suggestion_buttons) == {"valley", "steep"}
    with qtbot.waitSignal(widget.lrPicked, timeout=2000) as blocker:
        click_view_point(qtbot, widget.plot, *widget.suggestion_pos("steep"))
    assert blocker.args == [pytest.approx(1e-4)]
    target = lrs[45]
    with qtbot.waitSignal(widget.lrPicked, timeout=2000) as blocker:
        click_view_point(qtbot, widget.plot, math.log10(target), losses[45])
    assert blocker.args == [pytest.approx(target)]
    with qtbot.waitSignal(widget.lrPicked, timeout=2000) as blocker:
        widget.suggestion_buttons["valley"].click()
    assert blocker.args == [pytest.approx(1e-3)]


def test_epoch_table_model(qtbot, qtmodeltester):
    table = EpochTable()
    qtbot.addWidget(table)
    model = table.table_model
    model.reset(["dice"])
    model.append(EpochRow(0, 0.9, 0.8, {"dice": 0.5}, 12.4, "frozen"))
    model.append(EpochRow(1, 0.7, float("nan"), {"dice": 0.6, "iou": 0.4}, 75, "frozen"))
    qtmodeltester.check(model)
    assert model.headers() == ["stage", "epoch", "train_loss", "valid_loss", "dice", "iou", "time"]
    assert model.index(1, 3).data() == "nan"
    assert model.index(0, 4).data() == "0.500000"
    assert model.index(0, 5).data() == ""
    assert model.index(1, 6).data() == "01:15"
    assert format_seconds(3725) == "1:02:05"


def test_config_form_binds_both_ways(qtbot):
    form = ConfigForm(TrainConfig(arch="resnet18", epochs=3))
    qtbot.addWidget(form)
    form.epochs_spin.setValue(7)
    form.bs_spin.setValue(16)
    form.top_down_check.setChecked(True)
    form.pretrained_check.setChecked(False)
    qtbot.keyClicks(form.lr_edit, "3e-3")
    assert (form.config.epochs, form.config.bs, form.config.top_down) == (7, 16, True)
    assert form.config.pretrained is None and form.config.lr == pytest.approx(3e-3)
    form.set_lr(0.0123456)
    assert form.config.lr == 0.0123456 and form.lr_edit.text() == "0.01235"
    form.lr_edit.clear()
    assert form.config.lr is None
    other = TrainConfig(arch="resnet50", size=256, wd=0.1, device="cpu")
    form.set_config(other)
    assert form.arch_combo.currentText() == "resnet50" and form.size_spin.value() == 256
    with pytest.raises(ValueError):
        parse_lr("-1")


def test_device_picker_says_why_no_gpu(qtbot):
    no_cuda = [{"id": "cpu", "name": "CPU", "cuda_unavailable": "no NVIDIA driver"}]
    choices, summary = describe(no_cuda)
    assert [c[0] for c in choices] == ["auto", "cpu"] and "no NVIDIA driver" in summary
    gpu = [{"id": "cpu", "name": "CPU"},
           {"id": "cuda:0", "name": "NVIDIA H100", "memory_gb": 79.6}]
    picker = DevicePicker()
    qtbot.addWidget(picker)
    picker.set_devices(gpu, "cuda:0")
    assert picker.device() == "cuda:0" and "NVIDIA H100 (80 GB)" in picker.summary.text()


def test_stage_plans():
    config = TrainConfig(epochs=3, lr=1e-3, size=128)
    settings = StageSettings(unfreeze_epochs=2, resize_enabled=True, resize_size=256)
    plan = settings.plan(config, pretrained_loaded=True)
    assert [(s.name, s.frozen, s.size) for s in plan] == [
        ("frozen", True, 128), ("unfrozen", False, 128), ("256px", False, 256)]
    assert plan[1].lr == pytest.approx(2e-4) and plan[1].spread == 100  # (2e-6 … 2e-4)
    assert not any(s.frozen for s in settings.plan(config, pretrained_loaded=False))
    settings.mode, settings.lo, settings.hi = "unfrozen", 1e-6, 1e-4
    assert [s.lrs for s in settings.plan(config, True)] == [(1e-6, 1e-4)]
    assert settings.continues_model()


def test_stage_controls_update_settings(qtbot):
    controls = StageControls()
    qtbot.addWidget(controls)
    controls.set_mode("resize")
    controls.resize_size.setValue(320)
    qtbot.keyClicks(controls.hi_edit, "5e-4")
    assert controls.settings.mode == "resize" and controls.settings.resize_size == 320
    assert controls.settings.hi == pytest.approx(5e-4)
    controls.update_summary(TrainConfig(lr=None))
    assert "320px" in controls.summary.text()


def test_run_history_rows_marks_the_model_and_offers_use_and_delete(qtbot):
    runs = [
        Run.from_row({"run_id": "r3", "created_at": 1100.0, "status": "rejected",
                      "config": {"size": 64, "lr": 0.001}, "parent": "r2",
                      "queue_items": ["a.png"], "guard": {
                          "accepted": False, "reasons": ["validation dice_mean fell by 0.05"]}}),
        Run.from_row({"run_id": "r2", "created_at": 1000.0, "finished_at": 1065.0,
                      "status": "finished", "config": {"size": 64, "epochs": 2, "lr": 0.002},
                      "best_metric": 0.81, "metric_name": "dice_mean", "epochs": 2}),
        Run.from_row({"run_id": "r1", "created_at": 900.0, "status": "running",
                      "config": '{"size": 32, "lrs": [1e-6, 1e-4], "resize": [32, 64]}'}),
    ]
    assert run_row(runs[1])[1:] == ["finished", "64", "2", "2.00e-03", "dice_mean 0.8100",
                                    "01:05"]
    assert run_row(runs[0])[1] == "refit rejected"
    assert run_row(runs[2])[2] == "32→64" and run_row(runs[2])[4] == "1.00e-06…1.00e-04"
    history = RunHistory()
    qtbot.addWidget(history)
    history.set_runs(runs, current="r2")
    assert history.run_ids() == ["r3", "r2", "r1"]
    assert history.tree.topLevelItem(1).text(0) == "★ r2"
    assert "current model" in history.tree.topLevelItem(1).toolTip(0)
    assert "rejected: the previous model was kept" in history.tree.topLevelItem(0).toolTip(0)
    history.select_run("r1")  # running: nothing to load, use or delete yet
    assert not any(b.isEnabled() for b in (history.load_button, history.use_button,
                                           history.delete_button))
    history.select_run("r2")  # the model: loadable, but neither used again nor deleted
    assert history.load_button.isEnabled() and not history.use_button.isEnabled()
    assert not history.delete_button.isEnabled()
    with qtbot.waitSignal(history.loadRequested, timeout=1000) as blocker:
        history.load_button.click()
    assert blocker.args == ["r2"]
    history.select_run("r3")  # a rejected refit may be kept anyway, or deleted
    with qtbot.waitSignal(history.useRequested, timeout=1000) as used:
        history.use_button.click()
    with qtbot.waitSignal(history.deleteRequested, timeout=1000) as deleted:
        history.delete_button.click()
    assert used.args == deleted.args == ["r3"]
    history.set_busy(True)
    assert not history.use_button.isEnabled() and not history.delete_button.isEnabled()


def test_progress_bar_shows_the_estimate_it_is_given(qtbot):
    bar = TrainingProgress()
    qtbot.addWidget(bar)
    bar.set_busy("Preparing…")
    assert bar.maximum() == 0 and bar.format() == "Preparing…"  # indeterminate
    bar.show_estimate("Stage 2 of 2 · epoch 1/2 · batch 3/4 · about 1 min left", 0.7)
    assert bar.format() == "Stage 2 of 2 · epoch 1/2 · batch 3/4 · about 1 min left"
    assert bar.value() / bar.maximum() == pytest.approx(0.7)
    bar.show_estimate("Done", 1.5)  # clamped
    assert bar.value() == bar.maximum()


def test_precision_setting_is_bound_to_the_config(qtbot):
    form = ConfigForm(TrainConfig())
    qtbot.addWidget(form)
    combo = form.precision_combo
    assert combo.currentData() == "auto" and form.config.precision == "auto"
    combo.setCurrentIndex(combo.findData("fp32"))
    assert form.config.precision == "fp32"
    form.set_config(TrainConfig(precision="bf16"))
    assert combo.currentData() == "bf16"
    form.set_cpu_bf16(True)  # what the device probe found
    assert combo.itemText(0) == "Auto (bf16 on this CPU)"
    form.set_cpu_bf16(False)
    assert combo.itemText(0) == "Auto (fp32 on this CPU)"


def test_lr_finder_before_each_stage_option(qtbot):
    stages = StageControls()
    qtbot.addWidget(stages)
    config = TrainConfig(lr=None, pretrained=None)
    stages.update_summary(config)
    once = stages.summary.text()
    assert "lr from the LR finder" in once and "the LR finder's × 0.2" in once
    assert not stages.settings.to_config(config).lr_find_each_stage
    stages.each_stage_check.setChecked(True)
    assert stages.settings.to_config(config).lr_find_each_stage
    stages.update_summary(config)
    assert stages.summary.text().count("lr from the LR finder") == 2
