"""The Refit button drives a real (tiny) refit on the training thread: live plots fill, the
before / after table shows, the new run is in History naming its parent, the items are done."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from workbench.app import create_main_window
from workbench.qt.refit.queue_model import STATE
from workbench.training.config import TrainConfig
from workbench.training.session import train

TINY = TrainConfig(arch="resnet18", size=32, bs=4, epochs=1, lr=1e-3, pretrained=None,
                   device="cpu", seed=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def trained_window(qtbot, project):
    """A tiny run trained, then the real window on its project."""
    parent = train(project, TINY).run_id
    window = create_main_window(project)
    qtbot.addWidget(window)
    window.show()
    return parent, window


def test_refit_button_runs_a_real_refit(qtbot, seg_project):
    parent, window = trained_window(qtbot, seg_project)
    loop, panel = window.loop, window.training_panel
    controls = loop.refit_controls
    assert controls.button.objectName() == "refitButton"
    assert not controls.button.isEnabled()  # nothing queued yet
    for name in ("img_00.png", "img_05.png"):
        seg_project.queue.add(name, reason="top loss", run_id=parent)
    assert controls.button.isEnabled() and controls.button.text() == "Refit on queue (2)"
    controls.epochs.setValue(1)
    controls.lr.setText("1e-6")  # barely moves the weights: the guard keeps it
    qtbot.mouseClick(controls.button, Qt.MouseButton.LeftButton)
    assert panel.is_training()
    assert not controls.button.isEnabled()
    with qtbot.waitSignal(loop.refit_controller.finished, timeout=120000) as done:
        pass
    result = done.args[0]
    assert result is not None, controls.status.text()
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10000)
    assert result.parent == parent and sorted(result.items) == ["img_00.png", "img_05.png"]
    assert result.accepted, result.verdict.reasons
    # the live plots got the refit's batches and the epoch's validation loss
    assert len(panel.plots.buffers.iters) > 0 and len(panel.plots.buffers.valid_losses) == 1
    # before / after side by side
    table = controls.table
    assert table.isVisibleTo(controls)
    before, after = result.before, result.after
    assert table.item(0, 0).text() == (f"{before['queue']['loss']:.3f} → "
                                       f"{after['queue']['loss']:.3f}")
    assert table.item(1, 1).text().startswith(f"{before['valid']['dice_mean']:.3f} → "
                                              f"{after['valid']['dice_mean']:.3f} (")
    assert table.verticalHeaderItem(1).text() == "dice_mean"
    assert table.horizontalHeaderItem(1).text() == "validation"
    # the new run is in History (selected, the current model) and names its parent and items
    assert result.run in panel.history.run_ids()
    assert panel.history.selected_run_id() == result.run
    assert panel.history.current == result.run == panel.host.current_model_id()
    assert "is the current model" in controls.status.text()
    assert not controls.keep_button.isVisibleTo(controls)
    assert f"Refit run {result.run} kept" in panel.message()[1]
    record = seg_project.db.get_run(result.run)
    assert record.parent == parent and sorted(record.queue_items) == sorted(result.items)
    # the items are kept, shown as done
    model = loop.queue_model
    assert model.pending_count() == 0 and model.rowCount() == 2
    assert all(model.index(r, STATE).data() == "done" for r in range(2))
    assert all(f"Used by refit run {result.run}" in model.index(r, STATE).data(
        Qt.ItemDataRole.ToolTipRole) for r in range(2))
    assert window.loop.queue_dock.windowTitle() == "Queue"
    assert not controls.button.isEnabled()


def test_before_after_cells_are_never_elided(qtbot):
    from types import SimpleNamespace

    from workbench.qt.refit.refit_panel import RefitControls

    controls = RefitControls()
    qtbot.addWidget(controls)
    figures = {"loss": 17.6634, "dice_mean": 0.3921}
    verdict = SimpleNamespace(accepted=True, kept_anyway=False, reasons=[])
    controls.show_result(SimpleNamespace(before={"queue": figures, "valid": figures},
                                         after={"queue": figures, "valid": figures},
                                         run="r2", parent="r1", items=["a.png"],
                                         accepted=True, verdict=verdict))
    controls.resize(controls.minimumSizeHint())
    controls.show()
    table = controls.table
    metrics = table.fontMetrics()
    for column in range(table.columnCount()):
        for row in range(table.rowCount()):
            needed = metrics.horizontalAdvance(table.item(row, column).text())
            assert table.columnWidth(column) >= needed
    assert table.viewport().width() >= sum(table.columnWidth(c)
                                           for c in range(table.columnCount()))


def strict_guard(monkeypatch) -> None:
    """Every refit is rejected (any change of the metric is "a fall"): the window's rejected
    path is tested whatever a tiny refit happens to do to the metric."""
    from workbench.training import refit_policy

    monkeypatch.setattr(refit_policy, "METRIC_TOLERANCE", -1.0)


def test_a_rejected_refit_keeps_the_parent_until_used_anyway(qtbot, seg_project, monkeypatch):
    parent, window = trained_window(qtbot, seg_project)
    loop, panel = window.loop, window.training_panel
    controls = loop.refit_controls
    seg_project.queue.add("img_00.png", reason="top loss", run_id=parent)
    loop.queue_model.reload()
    strict_guard(monkeypatch)
    with qtbot.waitSignal(loop.refit_controller.finished, timeout=120000) as done:
        qtbot.mouseClick(controls.button, Qt.MouseButton.LeftButton)
    result = done.args[0]
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10000)
    assert result is not None and not result.accepted
    assert panel.host.current_model_id() == parent == panel.history.current
    status = controls.status.text()
    assert "Kept the previous model" in status and result.run in status
    assert "validation dice_mean fell" in status
    assert controls.keep_button.isVisibleTo(controls)
    assert loop.queue_model.pending_count() == 1  # the item went back to pending
    assert panel.message()[0] == "warning" and "rejected" in panel.message()[1]

    qtbot.waitUntil(controls.keep_button.isEnabled, timeout=10000)  # the refit's thread ended
    with qtbot.waitSignal(panel.host.busyChanged, timeout=10000):  # predicting starts
        qtbot.mouseClick(controls.keep_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=120000)
    assert panel.host.current_model_id() == result.run == panel.history.current
    assert not controls.keep_button.isVisibleTo(controls)
    assert loop.queue_model.pending_count() == 0
    preds = seg_project.predictions_dir / result.run
    assert sorted(p.name for p in preds.glob("*.png")) == sorted(seg_project.image_names())


def test_the_window_and_the_cli_refit_the_same_model(qtbot, seg_project, tmp_path, monkeypatch):
    from workbench.cli import main
    from workbench.core.runs import choose_model

    chosen = train(seg_project, TINY).run_id
    newer = train(seg_project, TINY).run_id  # the newest finished run: the model by default
    choose_model(seg_project, chosen)  # until the user picks another ("Use as the model")
    seg_project.queue.add("img_00.png", reason="top loss")
    window = create_main_window(seg_project)
    qtbot.addWidget(window)
    loop, panel = window.loop, window.training_panel
    assert panel.host.current_model_id() == chosen != newer
    strict_guard(monkeypatch)  # rejected: the model stays the same for the CLI
    with qtbot.waitSignal(loop.refit_controller.finished, timeout=120000) as done:
        qtbot.mouseClick(loop.refit_controls.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10000)
    gui = done.args[0]
    window.close()
    root = seg_project.root
    seg_project.close()
    out = tmp_path / "refit.json"
    assert main(["refit", str(root), "--json", str(out)]) == 3
    cli = json.loads(out.read_text())
    assert gui.parent == cli["parent"] == chosen


def test_a_blown_up_loss_keeps_the_before_after_table_narrow(qtbot):
    from types import SimpleNamespace

    from workbench.qt.refit.refit_panel import RefitControls, before_after

    assert before_after(0.439, 764626176.0) == "0.439 → 7.6e+08"
    controls = RefitControls()
    qtbot.addWidget(controls)
    normal, blown = {"loss": 0.4391, "dice_mean": 0.9}, {"loss": 764626176.0, "dice_mean": 0.3}
    verdict = SimpleNamespace(accepted=False, kept_anyway=False, reasons=["validation fell"])
    controls.show_result(SimpleNamespace(before={"queue": normal, "valid": normal},
                                         after={"queue": normal, "valid": normal},
                                         run="r2", parent="r1", items=["a.png"],
                                         accepted=False, verdict=verdict))
    width = controls.table.minimumWidth()
    controls.show_result(SimpleNamespace(before={"queue": normal, "valid": normal},
                                         after={"queue": blown, "valid": blown},
                                         run="r3", parent="r1", items=["a.png"],
                                         accepted=False, verdict=verdict))
    assert controls.table.minimumWidth() <= width + 20  # the dock does not grow off screen
