"""The standard callbacks: Recorder (always on), one-cycle ParamScheduler, checkpointing.

Order numbers (lower runs first for the same event): the scheduler sets hyper-parameters
before anyone reads them; the Recorder finishes each batch/epoch record before checkpointing
and reporting callbacks (order >= 0) read it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from workbench.core.faultpoints import fault_point
from workbench.training.distributed import is_main
from workbench.training.events import Callback
from workbench.training.metrics import Metric
from workbench.training.schedules import Schedule, one_cycle_lr, one_cycle_mom

if TYPE_CHECKING:
    from workbench.training.learner import Learner

SMOOTH_BETA = 0.98


class SmoothLoss:
    """Exponential moving average with bias correction (so early values are not pulled to 0)."""

    def __init__(self, beta: float = SMOOTH_BETA) -> None:
        self.beta, self.avg, self.count = beta, 0.0, 0

    def update(self, value: float) -> float:
        self.count += 1
        self.avg = self.beta * self.avg + (1 - self.beta) * value
        return self.avg / (1 - self.beta**self.count)

    def reset(self) -> None:
        self.avg, self.count = 0.0, 0


class Recorder(Callback):
    """Keeps every training batch's lr, momentum, raw and smoothed loss, and one row per epoch
    (train/valid loss, metrics, seconds). Records accumulate across fits, so the GUI's plots
    show a whole multi-stage recipe; ``epochs`` rows carry a running epoch number."""

    order = -10

    def __init__(self, metrics: Sequence[Metric] = ()) -> None:
        self.metrics = list(metrics)
        self.lrs: list[float] = []
        self.moms: list[float] = []
        self.losses: list[float] = []
        self.smooth_losses: list[float] = []
        self.epochs: list[dict[str, float]] = []
        self._smooth = SmoothLoss()
        self._epoch_losses: list[float] = []
        self._valid_sum: torch.Tensor | None = None
        self._valid_n = 0
        self._t0 = 0.0

    @property
    def metric_names(self) -> list[str]:
        return [n for m in self.metrics for n in m.names]

    @property
    def main_metric(self) -> str | None:
        return self.metrics[0].main if self.metrics else None

    @property
    def best_metric(self) -> float | None:
        name = self.main_metric
        values = [r[name] for r in self.epochs if name and not math.isnan(r.get(name, math.nan))]
        return max(values) if values else None

    def truncate(self, n_batches: int, n_epochs: int) -> None:
        """Forget records past these lengths (a fit restarted after running out of memory)."""
        for seq in (self.lrs, self.moms, self.losses, self.smooth_losses):
            del seq[n_batches:]
        del self.epochs[n_epochs:]

    def before_epoch(self, learn: Learner) -> None:
        self._t0 = time.perf_counter()
        self._epoch_losses = []

    def after_batch(self, learn: Learner) -> None:
        st = learn.state
        if st.training:
            group = learn.opt.param_groups[-1]
            self.lrs.append(float(group["lr"]))
            self.moms.append(float(group["betas"][0]))
            self.losses.append(st.loss_value)
            self.smooth_losses.append(self._smooth.update(st.loss_value))
            self._epoch_losses.append(st.loss_value)
            return
        n = st.yb.shape[0]
        loss = st.loss.detach().float() * n
        self._valid_sum = loss if self._valid_sum is None else self._valid_sum + loss
        self._valid_n += n
        for m in self.metrics:
            m.accumulate(st.pred, st.yb)

    def before_validate(self, learn: Learner) -> None:
        self._valid_sum, self._valid_n = None, 0
        for m in self.metrics:
            m.reset()

    def gather_validation(self, all_gather: Callable[[Any], list[Any]]) -> None:
        """Make the validation loss and metrics cover every process's shard (DDP)."""
        local = (0.0 if self._valid_sum is None else float(self._valid_sum), self._valid_n)
        parts = all_gather(local)
        self._valid_n = sum(n for _, n in parts)
        self._valid_sum = torch.tensor(sum(s for s, _ in parts)) if self._valid_n else None
        for m in self.metrics:
            m.gather(all_gather)

    def after_epoch(self, learn: Learner) -> None:
        row: dict[str, float] = {"epoch": float(len(self.epochs))}
        row["train_loss"] = (
            sum(self._epoch_losses) / len(self._epoch_losses) if self._epoch_losses else math.nan
        )
        valid = self._valid_sum.item() / self._valid_n if self._valid_sum is not None else math.nan
        row["valid_loss"] = valid
        for m in self.metrics:
            row.update(m.value())
        row["time"] = time.perf_counter() - self._t0
        self.epochs.append(row)


class ParamScheduler(Callback):
    """Sets each parameter group's lr and Adam beta1 from schedules of progress before every
    training batch. Progress is ``train_iter / total_iters`` so a resumed fit continues exactly
    where the schedule stopped."""

    order = -20

    def __init__(self, lr_scheds: Sequence[Schedule], mom_sched: Schedule) -> None:
        self.lr_scheds, self.mom_sched = list(lr_scheds), mom_sched

    def before_batch(self, learn: Learner) -> None:
        st = learn.state
        if not st.training:
            return
        p = st.train_iter / max(st.total_iters, 1)
        mom = self.mom_sched(p)
        for group, sched in zip(learn.opt.param_groups, self.lr_scheds, strict=True):
            group["lr"] = sched(p)
            group["betas"] = (mom, group["betas"][1])


def one_cycle_scheduler(
    lr_maxes: Sequence[float],
    div: float = 25.0,
    div_final: float = 1e5,
    pct_start: float = 0.25,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
) -> ParamScheduler:
    lr_scheds = [one_cycle_lr(lr, div, div_final, pct_start) for lr in lr_maxes]
    return ParamScheduler(lr_scheds, one_cycle_mom(moms, pct_start))


class CheckpointCallback(Callback):
    """Saves ``last.pt`` (model, optimizer, config, classes, history, schedule position) after
    every completed epoch. A cancelled or failed epoch is never saved, so the file on disk is
    always the last good state."""

    order = 10

    def after_epoch(self, learn: Learner) -> None:
        if not learn.state.lr_find and is_main():  # DDP: every rank holds the same weights
            learn.save_checkpoint()
            fault_point("train.epoch_saved")
