"""History and the current model: a run stopped during its LR sweep is listed; "Use as the
model" moves the Mistakes view and the Refit button to the chosen run; "Delete" frees a run
that is not the model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings

from workbench.app import create_main_window
from workbench.core.runs import RunStatus, run_dir
from workbench.training.config import TrainConfig
from workbench.training.session import train

from .test_panel import wait_idle

TINY = TrainConfig(arch="resnet18", size=32, bs=4, epochs=1, lr=1e-3, pretrained=None,
                   device="cpu", seed=0)


def test_a_run_stopped_during_its_lr_sweep_is_in_history(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, epochs=1, bs=4, lr=None)  # empty Max LR: a sweep first
    panel.jobStarted.connect(lambda signals: signals.lrFindStep.connect(
        lambda _msg: panel.stop()))
    panel.start_training()
    wait_idle(qtbot, panel)
    runs = seg_project.db.list_runs()
    assert [r.status for r in runs] == [RunStatus.CANCELLED]
    assert panel.history.run_ids() == [runs[0].run_id]
    assert runs[0].finished_at is not None and runs[0].created_at <= runs[0].finished_at


def test_use_as_the_model_and_delete(qtbot, seg_project, tmp_path):
    older = train(seg_project, TINY).run_id
    newer = train(seg_project, TINY).run_id
    window = create_main_window(seg_project, QSettings(str(tmp_path / "s.ini"),
                                                       QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    panel, loop = window.training_panel, window.loop
    panel.auto_predict = False
    assert panel.host.current_model_id() == newer == loop.mistakes.run_id
    assert panel.history.tree.topLevelItem(0).text(0) == f"★ {newer}"

    with qtbot.waitSignal(panel.host.modelChanged, timeout=5000) as changed:
        panel.history.select_run(older)
        panel.history.use_button.click()
    assert changed.args == [older]
    assert panel.host.current_model_id() == older == loop.mistakes.run_id
    assert panel.history.current == older and "current model" in panel.message()[1]
    assert older in loop.refit_controls.button.toolTip()

    assert not panel.host.delete_run(older, confirm=False)  # the model cannot be deleted
    assert "is the current model" in panel.message()[1]
    assert panel.host.delete_run(newer, confirm=False)
    assert panel.history.run_ids() == [older]
    assert not run_dir(seg_project.root, newer).exists()
    wait_idle(qtbot, panel)
