"""The Refit button drives a real (tiny) refit on the training thread: live plots fill, the
before / after table shows, the new run is in History naming its parent, the items are done."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workbench.app import create_main_window
from workbench.qt.refit.queue_model import STATE
from workbench.training.config import TrainConfig
from workbench.training.session import train

TINY = TrainConfig(arch="resnet18", size=32, bs=4, epochs=1, lr=1e-3, pretrained=None,
                   device="cpu", seed=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_refit_button_runs_a_real_refit(qtbot, seg_project):
    parent = train(seg_project, TINY).run_id
    window = create_main_window(seg_project)
    qtbot.addWidget(window)
    window.show()
    loop, panel = window.loop, window.training_panel
    controls = loop.refit_controls
    assert controls.button.objectName() == "refitButton"
    assert not controls.button.isEnabled()  # nothing queued yet
    for name in ("img_00.png", "img_05.png"):
        seg_project.queue.add(name, reason="top loss", run_id=parent)
    assert controls.button.isEnabled() and controls.button.text() == "Refit on queue (2)"
    controls.epochs.setValue(1)
    qtbot.mouseClick(controls.button, Qt.MouseButton.LeftButton)
    assert panel.is_training()
    assert not controls.button.isEnabled()
    with qtbot.waitSignal(loop.refit_controller.finished, timeout=120000) as done:
        pass
    result = done.args[0]
    assert result is not None, controls.status.text()
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10000)
    assert result.parent == parent and sorted(result.items) == ["img_00.png", "img_05.png"]
    # the live plots got the refit's batches and the epoch's validation loss
    assert len(panel.plots.buffers.iters) > 0 and len(panel.plots.buffers.valid_losses) == 1
    # before / after side by side
    table = controls.table
    assert table.isVisibleTo(controls)
    before, after = result.before, result.after
    assert table.item(0, 0).text() == (f"{before['queue']['loss']:.3f} → "
                                       f"{after['queue']['loss']:.3f}")
    assert table.item(1, 1).text() == (f"{before['valid']['dice_mean']:.3f} → "
                                       f"{after['valid']['dice_mean']:.3f}")
    assert table.verticalHeaderItem(1).text() == "dice_mean"
    assert table.horizontalHeaderItem(1).text() == "validation"
    # the new run is in History (selected) and names its parent and items
    assert result.run in panel.history.run_ids()
    assert panel.history.selected_run_id() == result.run
    record = seg_project.db.get_run(result.run)
    assert record["parent"] == parent and sorted(record["queue_items"]) == sorted(result.items)
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
    controls.show_result(SimpleNamespace(before={"queue": figures, "valid": figures},
                                         after={"queue": figures, "valid": figures},
                                         run="r2", parent="r1", items=["a.png"]))
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
