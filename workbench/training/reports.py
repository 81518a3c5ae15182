"""Plain, immutable progress messages for the GUI and CLI, and the callback that sends them.

The sink is called on the training thread; it must be cheap (the GUI's sink emits a queued Qt
signal, the CLI's updates a progress bar). Messages hold only numbers and strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.training.events import Callback

if TYPE_CHECKING:
    from workbench.training.learner import Learner


@dataclass(frozen=True)
class FitStarted:
    stage: str
    epochs: int
    batches_per_epoch: int
    total_iters: int
    metric_names: list[str]
    run_id: str


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    batch: int
    iteration: int
    total_iters: int
    lr: float
    mom: float
    loss: float
    smooth_loss: float


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    train_loss: float
    valid_loss: float
    metrics: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class FitEnded:
    cancelled: bool
    error: str | None
    run_id: str
    best_metric: float | None


@dataclass(frozen=True)
class LRFindDone:
    """A finished LR sweep; ``cached``: remembered from an identical earlier sweep (same
    model, data and settings), so no batch was run."""

    lrs: list[float]
    losses: list[float]
    suggestions: dict[str, float] = field(default_factory=dict)
    cached: bool = False


@dataclass(frozen=True)
class ValidationStarted:
    """The epoch's training batches are done; the validation set is being scored."""

    epoch: int


@dataclass(frozen=True)
class PredictProgress:
    """``done`` of ``total`` images predicted (and written)."""

    done: int
    total: int


@dataclass(frozen=True)
class PlannedPhase:
    """One part of a job, as planned before it runs: an LR sweep ("sweep": ``units`` batches
    at most), a training stage ("stage": ``units`` epochs of ``batches`` training and
    ``valid_batches`` validation batches) or predictions ("predict": ``units`` images).
    ``cost``: the time of one of its batches relative to one of the first stage's (larger
    images cost more, a frozen encoder less)."""

    kind: str
    units: int
    name: str = ""
    batches: int = 0
    valid_batches: int = 0
    cost: float = 1.0


@dataclass(frozen=True)
class RunPlan:
    """Everything a job will do, sent once at its start so progress can cover all of it."""

    phases: list[PlannedPhase]
    batch_size: int = 1


@dataclass(frozen=True)
class LRFindStep:
    """One batch of an LR sweep: ``iteration`` of at most ``num_it`` (1-based), the learning
    rate tried and the smoothed loss, so a progress bar and the LR finder plot can follow it."""

    iteration: int
    num_it: int
    lr: float
    loss: float


@dataclass(frozen=True)
class Notice:
    """Something the engine decided on its own (batch size cut, random init, CPU instead of
    a GPU, almost nothing trained) that the user must see where they look, not only in a log.
    ``level``: "info" or "warning"; ``kind``: a short machine name for tests and filters."""

    kind: str
    level: str
    text: str


Message = (FitStarted | BatchEnd | EpochEnd | FitEnded | LRFindStep | LRFindDone | Notice
           | ValidationStarted | PredictProgress | RunPlan)


class ReportCallback(Callback):
    """Turns loop events into the messages above and hands each to ``sink``.

    Batches of an LR sweep are not reported as training batches (they would corrupt the loss
    and LR plots): each is an :class:`LRFindStep`, and the result arrives as one
    :class:`LRFindDone`.
    """

    order = 50
    during_lr_find = True  # sees the sweep's events, to report its steps

    def __init__(self, sink: Callable[[object], None]) -> None:
        self.sink = sink
        self._sent: set[int] = set()

    def notice(self, learn: Learner) -> None:
        self._send_notices(learn.notices)

    def planned(self, learn: Learner) -> None:
        if learn.plan is not None:
            self.sink(learn.plan)

    def _send_notices(self, notices: list[Notice]) -> None:
        # Notices made before this callback was attached (building the learner) go out at
        # its first fit; each one once.
        for notice in notices:
            if id(notice) not in self._sent:
                self._sent.add(id(notice))
                self.sink(notice)

    def before_fit(self, learn: Learner) -> None:
        self._send_notices(learn.notices)
        st = learn.state
        if st.lr_find:
            return
        self.sink(FitStarted(st.stage, st.n_epoch, st.n_iter, st.total_iters,
                             list(learn.recorder.metric_names), learn.run_id))

    def after_batch(self, learn: Learner) -> None:
        st, rec = learn.state, learn.recorder
        if st.lr_find:
            sweep = st.lr_find_result  # the running sweep's points, filled by the LRFinder
            if sweep is not None and sweep.lrs:
                self.sink(LRFindStep(len(sweep.lrs), st.total_iters, sweep.lrs[-1],
                                     sweep.losses[-1]))
            return
        if not st.training or not rec.losses:
            return
        self.sink(BatchEnd(st.epoch, st.iter, st.train_iter, st.total_iters, rec.lrs[-1],
                           rec.moms[-1], rec.losses[-1], rec.smooth_losses[-1]))

    def before_validate(self, learn: Learner) -> None:
        if not learn.state.lr_find:
            self.sink(ValidationStarted(learn.state.epoch))

    def after_epoch(self, learn: Learner) -> None:
        if learn.state.lr_find or not learn.recorder.epochs:
            return
        row = learn.recorder.epochs[-1]
        metrics = {k: v for k, v in row.items()
                   if k not in ("epoch", "train_loss", "valid_loss", "time")}
        self.sink(EpochEnd(int(row["epoch"]), row["train_loss"], row["valid_loss"], metrics,
                           row["time"]))

    def after_fit(self, learn: Learner) -> None:
        st = learn.state
        if st.lr_find:
            return
        best = learn.recorder.best_metric
        self.sink(FitEnded(st.cancelled, None if st.error is None else str(st.error),
                           learn.run_id, None if best is None or math.isnan(best) else best))

    def after_lr_find(self, learn: Learner) -> None:
        res = learn.state.lr_find_result
        if res is not None:
            self.sink(LRFindDone(list(res.lrs), list(res.losses), dict(res.suggestions),
                                 res.cached))
