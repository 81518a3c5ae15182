"""The LR finder: the training loop with an exponential LR schedule, plus suggestion rules.

It trains on training batches (several epochs if needed) while the learning rate grows
geometrically from ``start_lr`` to ``end_lr``, recording the smoothed loss; it stops when the
smoothed loss exceeds 4x its best (or becomes NaN/inf), then puts the model and optimizer back
exactly as they were. Only plain data comes back; plotting is the GUI's job.

fastai sweeps 100 batches from 1e-7 with the loss smoothed by 0.98. The default here is 40
batches from 1e-5 (``config.LR_FIND_ITERS`` / ``LR_FIND_START``), with the smoothing scaled so
that it averages over the same span of learning rates: on both demo projects its valley stays
within 0.3 decades of the 100-batch sweep's (``benchmarks/lr_find_length.py``; with 30 or 20
batches the multilabel demo's drifts by up to a decade).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from workbench.training.callbacks import SMOOTH_BETA, SmoothLoss
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.events import Callback, CancelFitException, Event
from workbench.training.schedules import sched_exp

if TYPE_CHECKING:
    from workbench.training.learner import Learner

STOP_FACTOR = 4.0
SKIP_START_FRACTION = 0.1
SKIP_END = 5
# fastai's sweep: 100 batches from 1e-7 to 10, loss smoothed with beta 0.98.
REFERENCE_STEPS_PER_DECADE = 100 / 8
REFERENCE_BETA = SMOOTH_BETA


def smoothing_for(num_it: int, start_lr: float = 1e-7, end_lr: float = 10.0) -> float:
    """The loss smoothing factor that averages over the same span of learning rates (in
    decades) as fastai's 100-batch sweep does with 0.98: a shorter sweep takes bigger steps,
    so each step must weigh more."""
    per_decade = num_it / max(math.log10(end_lr / start_lr), 1e-9)
    return REFERENCE_BETA ** (REFERENCE_STEPS_PER_DECADE / max(per_decade, 1e-9))


@dataclass
class LRFindResult:
    lrs: list[float]
    losses: list[float]  # smoothed (debiased EMA) loss per batch
    suggestions: dict[str, float] = field(default_factory=dict)
    raw_losses: list[float] = field(default_factory=list)
    cached: bool = False  # a remembered sweep of the same model, data and settings

    @property
    def valley(self) -> float:
        return self.suggestions["valley"]


def suggestion_series(lrs: Sequence[float], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The part of the curve the rules look at: drop the first 10% (the loss is still the
    initial noise) and the last 5 points (the divergence that stopped the sweep), then cut at
    the first NaN/inf. Falls back to the finite prefix when that leaves under 3 points."""
    lr, loss = np.asarray(lrs, np.float64), np.asarray(losses, np.float64)
    n = len(loss)
    start, end = int(n * SKIP_START_FRACTION), n - SKIP_END
    lr_s, loss_s = lr[start:end], loss[start:end]
    bad = np.flatnonzero(~np.isfinite(loss_s))
    if bad.size:
        lr_s, loss_s = lr_s[: bad[0]], loss_s[: bad[0]]
    if len(loss_s) < 3:
        bad = np.flatnonzero(~np.isfinite(loss))
        stop = bad[0] if bad.size else n
        lr_s, loss_s = lr[:stop], loss[:stop]
    if len(loss_s) < 2:
        raise TrainingError(
            f"the LR finder recorded only {len(loss_s)} usable loss value(s); use more "
            "labelled images, a smaller batch size, or a larger num_it"
        )
    return lr_s, loss_s


def valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's "valley": find the longest stretch over which the loss keeps going down (the
    longest decreasing subsequence), and pick the point about halfway along it — far enough
    into the slope to learn fast, far enough from the bottom to be safe."""
    n = len(losses)
    run = [1] * n
    best_start = best_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
        if run[best_end] < run[i]:
            best_end = i
            best_start = best_end - run[best_end]
    sections = (best_end - best_start) / 3
    idx = best_start + int(sections) + int(sections / 2)
    return float(lrs[min(max(idx, 0), n - 1)])


def steep(lrs: np.ndarray, losses: np.ndarray) -> float:
    """Where the loss falls fastest per step of log(lr): the most negative slope, looked for only
    up to the lowest loss — a drop after a divergence spike is recovery, not learning."""
    stop = max(int(np.argmin(losses)) + 1, 2)
    grads = np.gradient(losses[:stop], np.log(lrs[:stop]))
    return float(lrs[int(np.argmin(grads))])


def minimum(lrs: np.ndarray, losses: np.ndarray) -> float:
    """The lr of the lowest loss divided by 10: at the minimum itself training is already on
    the edge of diverging, one order of magnitude lower is the classic safe choice."""
    return float(lrs[int(np.argmin(losses))] / 10)


def suggest(lrs: Sequence[float], losses: Sequence[float]) -> dict[str, float]:
    lr_s, loss_s = suggestion_series(lrs, losses)
    return {"valley": valley(lr_s, loss_s), "steep": steep(lr_s, loss_s),
            "minimum": minimum(lr_s, loss_s)}


class LRFinder(Callback):
    """Exponential LR schedule over ``num_it`` training batches; records (lr, smoothed loss)."""

    order = -20

    def __init__(self, start_lr: float, end_lr: float, num_it: int, stop_div: bool) -> None:
        self.sched = sched_exp(start_lr, end_lr)
        self.num_it, self.stop_div = num_it, stop_div
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.raw: list[float] = []
        self._smooth = SmoothLoss(smoothing_for(num_it, start_lr, end_lr))
        self._best = math.inf

    def before_fit(self, learn: Learner) -> None:
        # The sweep's points so far, for callbacks that report progress; replaced by the
        # finished result (with suggestions) when the sweep ends.
        learn.state.lr_find_result = LRFindResult(self.lrs, self.losses, raw_losses=self.raw)
        learn.state.total_iters = self.num_it

    def before_batch(self, learn: Learner) -> None:
        lr = self.sched(learn.state.train_iter / max(self.num_it - 1, 1))
        for group in learn.opt.param_groups:
            group["lr"] = lr

    def after_loss(self, learn: Learner) -> None:
        st = learn.state
        value = st.loss_value
        smooth = self._smooth.update(value) if math.isfinite(value) else math.nan
        self.lrs.append(float(learn.opt.param_groups[-1]["lr"]))
        self.raw.append(value)
        self.losses.append(smooth)
        if not math.isfinite(smooth):
            raise CancelFitException()  # before backward: never step on a NaN loss
        self._best = min(self._best, smooth)
        if self.stop_div and smooth > STOP_FACTOR * self._best:
            raise CancelFitException()

    def after_batch(self, learn: Learner) -> None:
        if learn.state.train_iter + 1 >= self.num_it:
            raise CancelFitException()


def run_lr_find(learn: Learner, start_lr: float, end_lr: float, num_it: int,
                stop_div: bool) -> LRFindResult:
    """Sweep, restore, and announce the result with the AFTER_LR_FIND event."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    snapshot = learn.snapshot()
    finder = LRFinder(start_lr, end_lr, num_it, stop_div)
    n_epoch = math.ceil(num_it / max(len(learn.data.train_dl), 1))
    # Only callbacks that opt in see the sweep: it must not enter the training history.
    cbs = [cb for cb in learn.sorted_callbacks([finder])
           if cb is finder or getattr(cb, "during_lr_find", False)]
    try:
        learn.fit_lr_find(n_epoch, cbs)
    finally:
        learn.restore(snapshot)
    if learn.cancel_requested:
        raise TrainingCancelled("the learning-rate finder was cancelled")
    result = LRFindResult(finder.lrs, finder.losses, suggest(finder.lrs, finder.losses), finder.raw)
    learn.state.lr_find_result = result
    learn.fire(Event.AFTER_LR_FIND, learn.sorted_callbacks())
    return result
