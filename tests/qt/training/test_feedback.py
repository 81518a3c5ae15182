"""What the panel shows from the moment Start is pressed: the LR sweep as its own phase (progress
text, live curve, its tab), then the plots; one sweep per run, reused when the same sweep ran
before; progress text that follows every phase change; and closing the project during training
does not touch the closed database."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import threading

from workbench.qt.training import jobs
from workbench.training.reports import (
    BatchEnd,
    EpochEnd,
    FitEnded,
    FitStarted,
    LRFindDone,
    LRFindStep,
    PlannedPhase,
    RunPlan,
)

from .test_panel import wait_idle

LEFT = re.compile(r"^(.*) · (about .* left|a few seconds left)$")
SWEEP_TEXT = re.compile(r"^Finding the learning rate · (\d+)/(\d+)( · .*left)?$")


def test_empty_max_lr_shows_the_sweep_live_then_the_plots(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, lr=None, bs=4, epochs=1, lr_find_iters=20)
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
    # The bar is redrawn 10 times a second: once the sweep reports, it names the sweep.
    shown = [SWEEP_TEXT.match(t) for t in seen["texts"] if not t.startswith("Preparing")]
    assert shown and all(shown), seen["texts"]
    counts = [int(m.group(1)) for m in shown]
    assert counts == sorted(counts) and {int(m.group(2)) for m in shown} == {20}
    assert all(seen["tab_at_sweep"])
    assert max(seen["drawn"]) > 0  # the curve was drawn while the sweep still ran
    assert seen["tab_at_batch"] and all(seen["tab_at_batch"])  # plots in front while training
    assert panel.lr_finder.suggestions and not panel.lr_finder.live


def test_start_reuses_the_sweep_just_run_on_the_same_model(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, lr=None, bs=4, epochs=1, lr_find_iters=20)
    panel.run_lr_find()
    wait_idle(qtbot, panel, timeout=180000)
    valley = panel.lr_finder.suggestions["valley"]
    sweeps: list[object] = []
    done: list[object] = []

    def connect(signals: object) -> None:
        signals.lrFindStep.connect(sweeps.append)
        signals.lrFindDone.connect(done.append)

    panel.jobStarted.connect(connect)
    panel.start_training()
    wait_idle(qtbot, panel, timeout=180000)
    assert sweeps == []  # no second sweep
    assert [(m.cached, m.suggestions["valley"]) for m in done] == [(True, valley)]
    lrs = panel.engine.learner.recorder.lrs
    assert max(lrs) <= valley * 1.0001 and max(lrs) > valley / 2  # one cycle peaking at it


def test_the_recipe_sweeps_once_and_the_bar_names_each_stage(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, lr=None, bs=4, epochs=1, lr_find_iters=12)
    panel.stages.set_mode("recipe")  # stage 1, then stage 2 unfrozen
    panel.stages.unfreeze_epochs.setValue(1)
    steps: list[object] = []
    texts: list[str] = []
    panel.jobStarted.connect(lambda s: s.lrFindStep.connect(steps.append))
    panel.jobStarted.connect(lambda s: s.batchEnded.connect(
        lambda _m: texts.append(panel.progress.format())))
    panel.start_training()
    wait_idle(qtbot, panel, timeout=180000)
    assert "finished" in panel.message()[1], panel.message()  # (few iterations: a warning)
    assert [m.iteration for m in steps if m.iteration == 1] == [1]  # one sweep
    assert any(t.startswith("Stage 2 of 2 · epoch 1/1 · batch") for t in texts), texts


class ScriptedJob:
    """A training job that sends a given list of reports, pausing after each phase change
    until the test has looked at the progress bar (a real job would keep reporting)."""

    def __init__(self, script: list[tuple[str, list[object]]]) -> None:
        self.script = script
        self.at: str | None = None
        self.go = threading.Event()

    def __call__(self, ctx: object) -> None:
        for name, messages in self.script:
            for msg in messages:
                ctx.report(msg)
            self.go.clear()
            self.at = name
            self.go.wait(20)


def batches(epochs: int, per_epoch: int) -> list[object]:
    out: list[object] = []
    for e in range(epochs):
        for b in range(per_epoch):
            out.append(BatchEnd(e, b, e * per_epoch + b, epochs * per_epoch, 1e-3, 0.9, 0.5,
                                0.5))
        out.append(EpochEnd(e, 0.5, 0.5, {"dice_mean": 0.5}, 1.0))
    return out


def test_the_bar_text_never_goes_stale_across_a_phase_change(qtbot, seg_project, make_panel,
                                                            monkeypatch):
    # Stage 1 ends; then a second LR sweep runs (the "sweep before each stage" option). The
    # bar must name the sweep at once, not keep the last batch's "epoch 3/3 · batch 4/4".
    plan = RunPlan([PlannedPhase("stage", 3, "random init", 4, 1),
                    PlannedPhase("sweep", 30, "unfrozen"),
                    PlannedPhase("stage", 2, "unfrozen", 4, 1)], 8)
    stage1 = [FitStarted("random init", 3, 4, 12, ["dice_mean"], "run"), *batches(3, 4)]
    script = ScriptedJob([
        ("stage 1", [plan, *stage1]),
        ("stage 1 ended", [FitEnded(False, None, "run", 0.5)]),
        ("sweep", [LRFindStep(k, 30, 1e-4 * k, 0.5) for k in range(1, 13)]),
        ("sweep done", [LRFindDone([1e-3] * 12, [0.5] * 12, {"valley": 1e-3})]),
        ("stage 2", [FitStarted("unfrozen", 2, 4, 8, ["dice_mean"], "run"),
                     *batches(1, 4)[:3]]),
    ])
    monkeypatch.setattr(jobs, "training_job", lambda *a, **k: script)
    panel = make_panel(seg_project, lr=None)
    panel.stages.set_mode("recipe")
    seen: dict[str, str] = {}
    panel.start_training()
    for name, _ in script.script:
        qtbot.waitUntil(lambda name=name: script.at == name, timeout=10000)
        qtbot.wait(250)  # two redraws of the bar
        seen[name] = panel.progress.format()
        script.go.set()
    wait_idle(qtbot, panel)
    assert seen["stage 1"].startswith("Stage 1 of 2 · epoch 3/3 done")
    assert seen["stage 1 ended"].startswith("Stage 1 of 2 done · finding the learning rate")
    assert LEFT.match(seen["sweep"]).group(1) == "Finding the learning rate · 12/30"
    assert seen["sweep done"].startswith("Learning rate found")
    assert LEFT.match(seen["stage 2"]).group(1) == "Stage 2 of 2 · epoch 1/2 · batch 3/4"


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
