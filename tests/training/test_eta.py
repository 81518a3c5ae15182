"""The run estimate (phase, position, time left) driven by a fake clock."""

from __future__ import annotations

import pytest

from workbench.training.eta import FROZEN_COST, MIN_TIMED, RunEstimate, format_left, plan_phases
from workbench.training.recipe import Stage
from workbench.training.reports import (
    BatchEnd,
    EpochEnd,
    FitEnded,
    FitStarted,
    LRFindDone,
    LRFindStep,
    PlannedPhase,
    PredictProgress,
    RunPlan,
    ValidationStarted,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def batch(epoch: int, i: int, per_epoch: int, epochs: int) -> BatchEnd:
    return BatchEnd(epoch, i, epoch * per_epoch + i, epochs * per_epoch, 1e-3, 0.9, 0.5, 0.5)


def timeline(plan: list[PlannedPhase], *, step: float = 1.0, warmup: float = 3.0,
             tail: float = 0.8, gap: float = 1.5, image: float = 0.06,
             predict_start: float = 0.5, cached_sweep: bool = False,
             ) -> list[tuple[float, object]]:
    """The messages a job with ``plan`` sends and when: each phase's first batch is slow
    (warm-up), epochs end with validation and a checkpoint, phases are separated by set-up,
    the predictions start with the validation previews and loading the model."""
    t, out = 0.0, [(0.0, RunPlan(plan, 8))]
    for phase in plan:
        t += gap
        if phase.kind == "sweep":
            if cached_sweep:
                out.append((t, LRFindDone([1e-3], [0.5], {"valley": 1e-3}, cached=True)))
                continue
            for k in range(phase.units):
                t += (warmup if k == 0 else step) * phase.cost
                out.append((t, LRFindStep(k + 1, phase.units, 1e-3, 0.5)))
            out.append((t, LRFindDone([1e-3] * phase.units, [0.5] * phase.units)))
        elif phase.kind == "stage":
            out.append((t, FitStarted(phase.name, phase.units, phase.batches,
                                      phase.units * phase.batches, ["dice_mean"], "run")))
            for e in range(phase.units):
                for i in range(phase.batches):
                    first = e == 0 and i == 0
                    t += (warmup if first else step) * phase.cost
                    out.append((t, batch(e, i, phase.batches, phase.units)))
                out.append((t, ValidationStarted(e)))
                t += tail * phase.cost
                out.append((t, EpochEnd(e, 0.5, 0.5, {}, 1.0)))
            out.append((t, FitEnded(False, None, "run", 0.5)))
        else:
            t += predict_start * step
            for done in range(8, phase.units + 8, 8):
                done = min(done, phase.units)
                t += image * 8 * step
                out.append((t, PredictProgress(done, phase.units)))
    return out


PLAN = [PlannedPhase("sweep", 10, "random init"),
        PlannedPhase("stage", 3, "random init", 4, 1),
        PlannedPhase("stage", 2, "unfrozen", 4, 1),
        PlannedPhase("predict", 20, "predictions")]


def run(plan: list[PlannedPhase], **kw: float) -> list[tuple[float, float | None, str]]:
    """(true seconds left, estimated seconds left, text) after every message."""
    clock = Clock()
    est = RunEstimate(clock, predict_label="Predicting · image")
    events = timeline(plan, **kw)
    end = events[-1][0]
    out = []
    for t, msg in events:
        clock.now = t
        est(msg)
        out.append((end - t, est.seconds_left(), est.text()))
    return out


def test_no_estimate_until_a_few_batches_are_timed() -> None:
    points = run(PLAN)
    # The plan message, then the sweep's first steps: the first includes its warm-up, so
    # MIN_TIMED steps after it are needed before any time is shown.
    assert all(left is None for _, left, _ in points[:MIN_TIMED + 1])
    assert all("left" not in text for _, _, text in points[:MIN_TIMED + 1])
    assert points[MIN_TIMED + 1][1] is not None


def test_after_the_first_epoch_the_estimate_is_within_30_percent() -> None:
    points = run(PLAN)
    texts = [text for _, _, text in points]
    first_epoch = next(i for i, (_, _, text) in enumerate(points)
                       if text.startswith("Stage 1 of 2 · epoch 2/3"))
    for true_left, left, text in points[first_epoch:]:
        if true_left < 5:  # the last seconds: a ratio of small numbers says little
            continue
        assert left == pytest.approx(true_left, rel=0.3), (text, true_left, left)
    # Right at the start the plan already counts every phase: the sweep's estimate after
    # its first timed steps includes both stages and the predictions.
    true_left, left, _ = points[MIN_TIMED + 1]
    assert left is not None and left > 0.5 * true_left
    assert any(t.startswith("Predicting · image 8/20") for t in texts)


def test_estimate_follows_larger_and_frozen_stages() -> None:
    stages = [Stage("frozen", 2, frozen=True, size=64), Stage("unfrozen", 2, size=64,
                                                              spread=100),
              Stage("128px", 1, size=128, spread=100)]
    plan = plan_phases(stages, batches=4, valid_batches=1, size=64, sweep_iters=10,
                       predict_images=16)
    assert [p.kind for p in plan] == ["sweep", "stage", "stage", "stage", "predict"]
    assert [p.cost for p in plan[1:4]] == pytest.approx([FROZEN_COST, 1.0, 4.0])
    assert plan[0].cost == plan[1].cost  # the sweep runs on stage 1's model
    points = run(plan)
    first_epoch = next(i for i, (_, _, text) in enumerate(points)
                       if text.startswith("Stage 1 of 3 · epoch 2/2"))
    for true_left, left, text in points[first_epoch:]:
        if true_left >= 5:
            assert left == pytest.approx(true_left, rel=0.3), (text, true_left, left)


def test_plan_sweeps_once_unless_asked_for_each_stage() -> None:
    stages = [Stage("random init", 3), Stage("unfrozen", 2, spread=100, lr_factor=0.2)]
    once = plan_phases(stages, batches=4, valid_batches=1, size=128, sweep_iters=30)
    assert [p.kind for p in once] == ["sweep", "stage", "stage"]
    each = plan_phases(stages, batches=4, valid_batches=1, size=128, sweep_iters=30,
                       each_stage=True)
    assert [p.kind for p in each] == ["sweep", "stage", "sweep", "stage"]
    typed = plan_phases([Stage("a", 1, lr=1e-3)], batches=4, valid_batches=1, size=128,
                        sweep_iters=30, predict_images=5)
    assert [p.kind for p in typed] == ["stage", "predict"] and typed[1].units == 5


def test_text_names_the_phase_and_stage() -> None:
    texts = [text for _, _, text in run(PLAN)]
    sweep = [t for t in texts if t.startswith("Finding the learning rate")]
    assert sweep[0] == "Finding the learning rate · 1/10"
    assert sweep[-1].startswith("Finding the learning rate · 10/10 · about")
    assert any(t.startswith("Stage 1 of 2 · epoch 1/3 · batch 1/4 · about ") for t in texts)
    assert any(t.startswith("Stage 2 of 2 · epoch 1/2 · batch 3/4 · ") and t.endswith(" left")
               for t in texts)
    assert any(t.startswith("Stage 1 of 2 · epoch 3/3 · validating") for t in texts)
    assert any(t.startswith("Stage 1 of 2 · epoch 2/3 · starting") for t in texts)
    assert any(t.startswith("Stage 1 of 2 · epoch 3/3 done") for t in texts)
    assert any(t.startswith("Stage 1 of 2 done · starting the next stage") for t in texts)
    assert any(t.startswith("Stage 2 of 2 done · validation previews, then predictions")
               for t in texts)
    assert texts[-1] == "Done"


def test_a_cached_sweep_is_skipped_and_the_bar_never_goes_back() -> None:
    clock = Clock()
    est = RunEstimate(clock)
    fractions = []
    for t, msg in timeline(PLAN, cached_sweep=True):
        clock.now = t
        est(msg)
        fractions.append(est.fraction())
        assert not est.text().startswith("Finding")
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0, abs=0.05)


def test_messages_without_a_plan_still_give_phase_and_time() -> None:
    # A job that sends no plan (a refit, the LR finder's own job): phases from the messages.
    clock = Clock()
    est = RunEstimate(clock)
    for k in range(1, 8):
        clock.now = float(k)
        est(LRFindStep(k, 30, 1e-3, 0.5))
    assert est.text().startswith("Finding the learning rate · 7/30 · about 25 s left")


@pytest.mark.parametrize(("seconds", "text"), [
    (3, "a few seconds left"), (41, "about 40 s left"), (62, "about 1 min left"),
    (150, "about 2 min left"), (3 * 3600 + 600, "about 3 h 10 min left")])
def test_format_left(seconds: float, text: str) -> None:
    assert format_left(seconds) == text
