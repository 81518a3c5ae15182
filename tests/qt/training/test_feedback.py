"""What the panel shows from the moment Start is pressed: the LR sweep before training (progress
text, live curve, its tab), then the plots; a sweep just run on the same model is reused; and
closing the project during training does not touch the closed database."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
from types import SimpleNamespace

from workbench.qt.training.engine_state import EngineState
from workbench.qt.training.jobs import SweepReused, _first_stage_lr, sweep_key
from workbench.training.config import TrainConfig
from workbench.training.session import Stage

from .test_panel import wait_idle

SWEEP_TEXT = re.compile(r"^Finding the learning rate · batch (\d+)/(\d+)$")


def test_empty_max_lr_shows_the_sweep_live_then_the_plots(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, lr=None, bs=4, epochs=1)
    panel.lr_find_iters = 20  # a short sweep: this machine's CPUs are shared
    seen: dict[str, list] = {"texts": [], "drawn": [], "tab_at_sweep": [], "tab_at_batch": []}

    def on_step(msg: object) -> None:  # connected after the panel's own handler
        seen["texts"].append(panel.progress.format())
        xs = panel.lr_finder.curve.getData()[0]
        seen["drawn"].append(0 if xs is None else len(xs))
        seen["tab_at_sweep"].append(panel.tabs.currentWidget() is panel.lr_finder)

    def on_batch(_msg: object) -> None:
        seen["tab_at_batch"].append(panel.tabs.currentWidget() is panel.plots)

    def connect(signals: object) -> None:
        signals.lrFindStep.connect(on_step)
        signals.batchEnded.connect(on_batch)

    panel.jobStarted.connect(connect)
    panel.tabs.setCurrentWidget(panel.history)
    panel.progress.finish("Stopped")  # what the last run left in the bar
    panel.start_training()
    assert panel.progress.format().startswith("Preparing")  # at once, not "Stopped"
    wait_idle(qtbot, panel, timeout=180000)
    assert seen["texts"], panel.message()
    steps = [SWEEP_TEXT.match(text) for text in seen["texts"]]
    assert all(steps), seen["texts"][:3]
    assert [int(m.group(1)) for m in steps] == list(range(1, len(steps) + 1))
    assert {int(m.group(2)) for m in steps} == {20}
    assert all(seen["tab_at_sweep"])
    assert max(seen["drawn"]) > 0  # the curve was drawn while the sweep still ran
    assert seen["tab_at_batch"] and all(seen["tab_at_batch"])  # plots in front while training
    assert panel.lr_finder.suggestions and not panel.lr_finder.live


def test_start_reuses_the_sweep_just_run_on_the_same_model(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, lr=None, bs=4, epochs=1)
    panel.lr_find_iters = 20
    panel.run_lr_find()
    wait_idle(qtbot, panel, timeout=180000)
    valley = panel.lr_finder.suggestions["valley"]
    sweeps: list[object] = []
    others: list[object] = []

    def connect(signals: object) -> None:
        signals.lrFindStep.connect(sweeps.append)
        signals.otherMessage.connect(others.append)

    panel.jobStarted.connect(connect)
    panel.start_training()
    wait_idle(qtbot, panel, timeout=180000)
    assert sweeps == []  # no second sweep
    reused = [m for m in others if isinstance(m, SweepReused)]
    assert [m.lr for m in reused] == [valley]  # and the panel said so
    lrs = panel.engine.learner.recorder.lrs
    assert max(lrs) <= valley * 1.0001 and max(lrs) > valley / 2  # one cycle peaking at it


class FakeLearner:
    """What _first_stage_lr uses of a Learner; counts the sweeps it runs."""

    def __init__(self, size: int = 64) -> None:
        self.data = SimpleNamespace(size=size)
        self.sweeps: list[tuple[bool, int]] = []
        self.frozen = False

    def freeze(self) -> None:
        self.frozen = True

    def unfreeze(self) -> None:
        self.frozen = False

    def lr_find(self, num_it: int) -> SimpleNamespace:
        self.sweeps.append((self.frozen, num_it))
        return SimpleNamespace(valley=1e-4)


def test_a_sweep_is_reused_only_for_the_same_model_and_settings():
    state = EngineState()
    learner = FakeLearner()
    config = TrainConfig(size=64, bs=8, lr=None)
    state.sweep = (sweep_key(learner, state, config, frozen=True), 3e-3)
    reports: list[object] = []
    ctx = SimpleNamespace(report=reports.append)

    def first_lr(frozen: bool = True, size: int | None = None, cfg: TrainConfig = config,
                 model: FakeLearner = learner) -> float | None:
        stages = [Stage("frozen", 1, frozen=frozen, size=size), Stage("unfrozen", 1)]
        _first_stage_lr(stages, model, state, cfg, 20, ctx)
        assert stages[1].lr is None  # later stages are left alone
        return stages[0].lr

    assert first_lr() == 3e-3 and learner.sweeps == []
    assert reports and reports[-1].lr == 3e-3  # the panel says it reused the sweep
    assert first_lr(cfg=TrainConfig(size=64, bs=8, lr=None, epochs=9)) == 3e-3  # not swept
    assert learner.sweeps == []
    assert first_lr(frozen=False) == 1e-4 and learner.sweeps == [(False, 20)]
    assert first_lr(cfg=TrainConfig(size=64, bs=16, lr=None)) == 1e-4
    other = FakeLearner()
    assert first_lr(model=other) == 1e-4 and len(other.sweeps) == 1
    assert first_lr(size=128) is None  # run_stages sweeps after resizing
    state.sweep = (sweep_key(learner, state, config, frozen=True), 3e-3)
    state.fits += 1  # trained since: the weights changed
    assert first_lr() == 1e-4


def test_closing_the_project_during_training_leaves_the_database_alone(
        qtbot, seg_project, make_panel, caplog):
    panel = make_panel(seg_project, bs=4, epochs=20)
    panel.start_training()
    qtbot.waitUntil(lambda: panel.engine.learner is not None
                    and len(panel.engine.learner.recorder.losses) > 0, timeout=60000)
    with caplog.at_level(logging.WARNING):
        assert panel.stop_and_wait(20000)  # what the window does before closing the project
        seg_project.close()
        qtbot.wait(300)  # the job's last queued reports arrive now
    assert not [r for r in caplog.records if "run history" in r.getMessage()]
    assert panel.message()[0] != "error"
