"""How far a job is and how long the rest will take, from the engine's report messages.

:class:`RunEstimate` is a report sink (like the CLI's console progress): it takes the job's
:class:`~workbench.training.reports.RunPlan` (LR sweep, every stage, the predictions written
afterwards) and then the sweep steps, batches, validations and predictions as they happen. It
says nothing about time until :data:`MIN_TIMED` batches have been timed; then the estimate
covers everything left in the plan. Times come from the batches themselves: a training batch
(or sweep step) of each phase, the validation and checkpoint after each epoch, each predicted
image. What has not been timed yet is inferred from what has, through the phases' planned
relative ``cost``. Torch-free and Qt-free (the panel imports it at start-up); the clock is a
parameter so tests can drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.training.recipe import Stage, needs_lr
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

if TYPE_CHECKING:
    from workbench.training.learner import Learner

MIN_TIMED = 3  # batches timed before any estimate is shown
FROZEN_COST = 0.65  # a frozen encoder's batch vs the whole network's: 0.60-0.67 measured (U-Net r18, bf16 CPU)
VALID_COST = 0.6  # one validation batch (twice the images, forward only) vs a training batch
PREDICT_COST = 0.05  # one predicted image (forward, resize back, PNG) vs a training batch
GAP_COST = 2.0  # a phase's start beyond its first batch (loaders rebuilt, kernels warmed up)
PREDICT_START = 1.5  # validation previews, then the predict job loading the model


def plan_phases(stages: Sequence[Stage], *, batches: int, valid_batches: int, size: int,
                sweep_iters: int, each_stage: bool = False, sweep_first: bool = True,
                predict_images: int = 0) -> list[PlannedPhase]:
    """The phases of a training job: an LR sweep before the first stage without a rate (and
    before each later one with ``each_stage``; none when ``sweep_first`` is False because it
    ran already), every stage, and ``predict_images`` predictions afterwards."""
    phases: list[PlannedPhase] = []
    swept = False
    for i, stage in enumerate(stages):
        stage_size = stage.size or size
        cost = (stage_size / size) ** 2 * (FROZEN_COST if stage.frozen else 1.0)
        if needs_lr(stage) and (not swept or each_stage) and (i > 0 or sweep_first):
            phases.append(PlannedPhase("sweep", sweep_iters, stage.name, cost=cost))
        swept = swept or needs_lr(stage)
        phases.append(PlannedPhase("stage", stage.epochs, stage.name, batches, valid_batches,
                                   cost))
    if predict_images:
        phases.append(PlannedPhase("predict", predict_images, "predictions"))
    return phases


def plan_for(learner: Learner, stages: Sequence[Stage], predict_images: int = 0) -> RunPlan:
    """What training ``stages`` on ``learner`` will do (then ``predict_images`` predictions),
    in the terms :class:`RunEstimate` times."""
    cfg = learner.config
    phases = plan_phases(stages, batches=len(learner.data.train_dl),
                         valid_batches=len(learner.data.valid_dl), size=learner.data.size,
                         sweep_iters=cfg.lr_find_iters, each_stage=cfg.lr_find_each_stage,
                         predict_images=predict_images)
    return RunPlan(phases, learner.data.bs)


def format_left(seconds: float) -> str:
    """'about 40 s left', 'about 3 min left', 'about 1 h 20 min left'."""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 60:
        return f"about {int(round(seconds / 5) * 5)} s left"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


@dataclass
class _Phase:
    plan: PlannedPhase
    done: int = 0  # sweep steps / training batches of the stage / images
    epochs_done: int = 0
    epoch: int = 0  # of the last batch, 0-based within the stage
    batch: int = 0  # of the last batch, 0-based within its epoch
    validating: bool = False
    finished: bool = False
    first: float | None = None  # seconds from the previous phase's end to its first step
    first_units: int = 1  # steps that first report covered (predictions come 8 at a time)
    batch_times: list[float] = field(default_factory=list)  # seconds, this phase's own
    tail_times: list[float] = field(default_factory=list)  # validation + checkpoint, per epoch


class RunEstimate:
    """Phase, position and time left of one job (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 predict_label: str = "Predicting · image") -> None:
        self.clock = clock
        self.predict_label = predict_label
        self.phases: list[_Phase] = []
        self.current = -1
        self.started = clock()
        self._last: float | None = None  # time of the last batch-like event of this phase
        self._idle_since: float | None = self.started  # when the last phase ended
        self._finishing = ""  # what happens between phases ("Learning rate found…")
        self._peak = 0.0  # the bar never goes back

    # ---------------------------------------------------------------- messages in
    def __call__(self, msg: object) -> None:
        now = self.clock()
        if isinstance(msg, RunPlan):
            self.phases = [_Phase(p) for p in msg.phases]
            self.current, self._last, self._finishing = -1, None, ""
            self._idle_since = now
        elif isinstance(msg, LRFindStep):
            phase = self._enter("sweep", PlannedPhase("sweep", msg.num_it))
            self._timed_step(phase, now)
            phase.done = msg.iteration
        elif isinstance(msg, LRFindDone):
            phase = self._enter("sweep", PlannedPhase("sweep", len(msg.lrs)))
            self._close(phase, "Learning rate found", now)
        elif isinstance(msg, FitStarted):
            phase = self._enter("stage", PlannedPhase("stage", msg.epochs, msg.stage,
                                                      msg.batches_per_epoch), fresh=True)
            self._last = None
        elif isinstance(msg, BatchEnd):
            phase = self._enter("stage", PlannedPhase("stage", 1, "", msg.total_iters))
            self._timed_step(phase, now)
            phase.done, phase.validating = msg.iteration + 1, False
            phase.epoch, phase.batch = msg.epoch, msg.batch
        elif isinstance(msg, ValidationStarted):
            if self._in("stage"):
                self.phases[self.current].validating = True
        elif isinstance(msg, EpochEnd):
            if self._in("stage"):
                phase = self.phases[self.current]
                if self._last is not None:
                    phase.tail_times.append(now - self._last)
                phase.epochs_done += 1
                phase.validating = False
                phase.epoch, phase.batch = phase.epoch + 1, -1
                self._last = now  # the next batch's time counts from here
        elif isinstance(msg, FitEnded):
            if self._in("stage"):
                self._close(self.phases[self.current], "", now)
        elif isinstance(msg, PredictProgress):
            phase = self._enter("predict", PlannedPhase("predict", msg.total))
            self._timed_step(phase, now, per=max(1, msg.done - phase.done))
            phase.done = msg.done
            if msg.done >= msg.total:
                self._close(phase, "", now)

    def between(self, text: str) -> None:
        """The job is between phases doing ``text`` (e.g. loading the model to predict)."""
        if 0 <= self.current < len(self.phases):
            self.phases[self.current].finished = True
        self._finishing = text
        self._last = None
        self._idle_since = self._idle_since or self.clock()

    def _in(self, kind: str) -> bool:
        return 0 <= self.current < len(self.phases) and \
            self.phases[self.current].plan.kind == kind and \
            not self.phases[self.current].finished

    def _enter(self, kind: str, adhoc: PlannedPhase, fresh: bool = False) -> _Phase:
        """The phase a message of ``kind`` belongs to: the current one, else the next one of
        that kind in the plan (phases skipped on the way, e.g. a sweep answered from the
        cache, count as done), else ``adhoc`` added at the end (a job without a plan)."""
        if self._in(kind) and not fresh:
            return self.phases[self.current]
        for i in range(self.current + 1, len(self.phases)):
            if self.phases[i].plan.kind == kind:
                for skipped in self.phases[self.current + 1:i]:
                    skipped.finished = True
                if 0 <= self.current < len(self.phases):
                    self.phases[self.current].finished = True
                self.current, self._last, self._finishing = i, None, ""
                return self.phases[i]
        if 0 <= self.current < len(self.phases):
            self.phases[self.current].finished = True
        self.phases.append(_Phase(adhoc))
        self.current, self._last, self._finishing = len(self.phases) - 1, None, ""
        return self.phases[-1]

    def _close(self, phase: _Phase, text: str, now: float) -> None:
        phase.finished = True
        self._finishing = text
        self._last = None
        self._idle_since = now

    def _timed_step(self, phase: _Phase, now: float, per: int = 1) -> None:
        # The first step of a phase includes its start-up (building loaders, loading a model,
        # warming kernels up): it is timed apart, as the phase's ``first``; the others count
        # as batches.
        if self._last is not None:
            phase.batch_times.append((now - self._last) / per)
        elif phase.first is None and self._idle_since is not None:
            phase.first, phase.first_units = now - self._idle_since, per
        self._last = now
        self._idle_since = None

    # ---------------------------------------------------------------- estimates out
    def timed(self) -> int:
        return sum(len(p.batch_times) for p in self.phases if p.plan.kind != "predict")

    def _reference(self) -> float | None:
        """Seconds of one training batch of cost 1, from the batches timed so far (the last
        phase that timed any counts most: it is the most like what comes next)."""
        for phase in reversed(self.phases):
            if phase.batch_times and phase.plan.kind != "predict":
                return _mean(phase.batch_times[-30:]) / max(phase.plan.cost, 1e-6)
        return None

    def _batch_time(self, phase: _Phase, ref: float) -> float:
        if len(phase.batch_times) >= MIN_TIMED and phase.plan.kind != "predict":
            return _mean(phase.batch_times[-30:])
        return ref * phase.plan.cost

    def _tail_time(self, phase: _Phase, ref: float) -> float:
        for p in [phase, *reversed(self.phases)]:
            if p.tail_times and p.plan.valid_batches:
                per_valid = _mean(p.tail_times) / (p.plan.valid_batches * p.plan.cost)
                return per_valid * phase.plan.valid_batches * phase.plan.cost
        return ref * VALID_COST * phase.plan.valid_batches * phase.plan.cost

    def _start_up(self, phase: _Phase, ref: float) -> float:
        """Seconds a phase takes to start beyond one batch (set-up, warm-up), from the phases
        of the same sort that started already (per unit of cost), else a prior."""
        predict = phase.plan.kind == "predict"
        samples = []
        for p in self.phases:
            if p.first is None or (p.plan.kind == "predict") != predict or p is phase:
                continue
            one = (_mean(p.batch_times) if p.batch_times else ref * p.plan.cost)
            samples.append(max(0.0, p.first - one * p.first_units) / max(p.plan.cost, 1e-6))
        if samples:
            return _mean(samples) * phase.plan.cost
        return ref * (PREDICT_START if predict else GAP_COST * phase.plan.cost)

    def _phase_left(self, phase: _Phase, ref: float, now: float, current: bool) -> float:
        plan = phase.plan
        start = 0.0
        if phase.first is None:  # not started: its set-up is still to come (or under way)
            waited = now - self._idle_since if current and self._idle_since is not None else 0
            start = max(0.0, self._start_up(phase, ref) - waited)
        if plan.kind == "sweep":
            return start + max(0, plan.units - phase.done) * self._batch_time(phase, ref)
        if plan.kind == "predict":
            per_image = (_mean(phase.batch_times) if len(phase.batch_times) >= 1
                         else ref * PREDICT_COST)
            return start + max(0, plan.units - phase.done) * per_image
        batches = max(0, plan.units * plan.batches - phase.done)
        tails = max(0, plan.units - phase.epochs_done)
        return start + batches * self._batch_time(phase, ref) + tails * self._tail_time(phase,
                                                                                        ref)

    def seconds_left(self) -> float | None:
        """Seconds until the whole plan is done; None until MIN_TIMED batches were timed."""
        ref = self._reference()
        if ref is None or self.timed() < MIN_TIMED:
            return None
        now, left = self.clock(), 0.0
        after = self.current
        if 0 <= self.current < len(self.phases) and self.phases[self.current].finished:
            after += 1  # between phases: the next one's set-up is under way
        for i, phase in enumerate(self.phases):
            if phase.finished or i < self.current:
                continue
            left += self._phase_left(phase, ref, now, current=i == after)
        return left

    def fraction(self) -> float:
        """Share of the job done, 0..1, by time once estimated (else by the current phase's
        steps); never goes back."""
        left = self.seconds_left()
        if left is not None:
            elapsed = self.clock() - self.started
            value = elapsed / max(elapsed + left, 1e-9)
        elif 0 <= self.current < len(self.phases):
            phase = self.phases[self.current]
            total = phase.plan.units * (phase.plan.batches or 1)
            value = 0.0 if not total else min(1.0, phase.done / total) * 0.1
        else:
            value = 0.0
        self._peak = max(self._peak, min(value, 1.0))
        return self._peak

    def text(self) -> str:
        """'Stage 2 of 2 · epoch 1/2 · batch 3/4 · about 1 min left', 'Finding the learning
        rate · 12/40', ...; '' before the first message."""
        if not 0 <= self.current < len(self.phases):
            return ""
        phase = self.phases[self.current]
        where = self._between(phase) if phase.finished else self._where(phase)
        left = self.seconds_left()
        parts = [where] if where else []
        if left is not None and left > 0 and where:
            parts.append(format_left(left))
        return " · ".join(parts)

    def _between(self, phase: _Phase) -> str:
        """What happens after a finished phase, until the next one reports."""
        nxt = next((p for p in self.phases[self.current + 1:] if not p.finished), None)
        if self._finishing:
            done = self._finishing
        elif phase.plan.kind == "stage":
            stages = [p for p in self.phases if p.plan.kind == "stage"]
            done = f"Stage {stages.index(phase) + 1} of {len(stages)} done"
        else:
            done = "Done"
        if nxt is None:
            return done if phase.plan.kind != "stage" else f"{done} · validation previews"
        follows = {"sweep": "finding the learning rate", "predict": "predictions next",
                   "stage": "starting the next stage"}[nxt.plan.kind]
        if phase.plan.kind == "stage" and nxt.plan.kind == "predict":
            follows = "validation previews, then predictions"
        return f"{done} · {follows}"

    def _where(self, phase: _Phase) -> str:
        plan = phase.plan
        if plan.kind == "sweep":
            return f"Finding the learning rate · {phase.done}/{plan.units}"
        if plan.kind == "predict":
            return f"{self.predict_label} {phase.done}/{plan.units}"
        stages = [p for p in self.phases if p.plan.kind == "stage"]
        head = f"Stage {stages.index(phase) + 1} of {len(stages)}"
        if phase.done == 0 and not phase.validating:
            return f"{head} · starting"
        epoch = f"epoch {min(phase.epoch + 1, plan.units)}/{plan.units}"
        if phase.validating:
            return f"{head} · {epoch} · validating"
        if phase.batch < 0 and phase.epochs_done >= plan.units:
            return f"{head} · epoch {plan.units}/{plan.units} done"
        if phase.batch < 0:  # an epoch ended; the next one's first batch is under way
            return f"{head} · {epoch} · starting"
        return f"{head} · {epoch} · batch {phase.batch + 1}/{max(plan.batches, 1)}"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
