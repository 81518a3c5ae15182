"""The Learner: a training loop that fires named events, with one-cycle, LR finder and
checkpoint helpers on top.

Loop (fastai's shape): BEFORE_FIT, then per epoch BEFORE_EPOCH, BEFORE_TRAIN, per batch
(BEFORE_BATCH, AFTER_PRED, AFTER_LOSS, BEFORE_STEP, AFTER_STEP, AFTER_BATCH), AFTER_TRAIN,
BEFORE_VALIDATE, the same batch events without the step, AFTER_VALIDATE, AFTER_EPOCH; and
finally AFTER_FIT (after AFTER_CANCEL_FIT when cancelled). Everything callbacks read is on
``learn.state`` (a :class:`FitState`), ``learn.opt``, ``learn.recorder`` and ``learn.data``.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.training import checkpoints
from workbench.training.callbacks import Recorder, one_cycle_scheduler
from workbench.training.config import LR_FIND_ITERS, LR_FIND_START, TrainConfig
from workbench.training.data import DataBunch, DataSpec
from workbench.training.device import autocast, resolve_precision
from workbench.training.distributed import active as distributed_active
from workbench.training.distributed import global_loss
from workbench.training.errors import NonFiniteLossError, OutOfMemoryError
from workbench.training.events import (
    Callback,
    CancelBatchException,
    CancelEpochException,
    CancelFitException,
    CancelTrainException,
    Event,
)
from workbench.training.lr_find import LRFindResult, run_lr_find
from workbench.training.metrics import Metric
from workbench.training.models import set_frozen
from workbench.training.reports import Notice, RunPlan
from workbench.training.schedules import spread_lrs

log = logging.getLogger(__name__)


@dataclass
class FitState:
    """What the loop is doing now; callbacks read it, only the Learner writes it."""

    stage: str = "fit"
    epoch: int = 0
    n_epoch: int = 0
    iter: int = 0            # batch index within the current epoch
    n_iter: int = 0          # training batches per epoch
    train_iter: int = 0      # training batches done in this fit (continues on resume)
    total_iters: int = 0
    training: bool = False
    lr_find: bool = False
    xb: Any = None
    yb: Any = None
    pred: Any = None
    loss: Any = None
    loss_value: float = math.nan
    cancelled: bool = False
    error: BaseException | None = None
    lr_find_result: LRFindResult | None = None
    schedule: dict[str, Any] = field(default_factory=dict)


class Learner:
    """Model + data + loss + optimizer (AdamW, decoupled weight decay) + callbacks."""

    def __init__(
        self,
        model: nn.Module,
        data: DataBunch,
        loss_func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        metrics: Sequence[Metric] = (),
        *,
        wd: float = 0.01,
        callbacks: Iterable[Callback] = (),
        precision: str = "auto",
        run_id: str = "run",
        checkpoint_dir: Path | None = None,
        config: TrainConfig | None = None,
        spec: DataSpec | None = None,
    ) -> None:
        self.data, self.loss_func, self.wd = data, loss_func, wd
        self.device = data.device
        self.precision = resolve_precision(self.device, precision)
        self.model = model.to(self.device)
        if self.precision.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.run_id, self.checkpoint_dir = run_id, checkpoint_dir
        self.config, self.spec = config or TrainConfig(), spec
        self.project: Any = None  # set by session.build_learner; used by predict()
        self.recorder = Recorder(metrics)
        self.callbacks: list[Callback] = [self.recorder, *callbacks]
        self.state = FitState()
        self.frozen = False
        self.stage_index = 0  # which stage of the recipe fits now (stored in checkpoints)
        # Setup notices (random init, batch size cut...): true for every fit of this learner,
        # so each new ReportCallback sends them again. Per-run ones are only fired.
        self.notices: list[Notice] = []
        self.plan: RunPlan | None = None  # the job's whole plan, for progress estimates
        self.snapshot_weights: bool | None = None  # for the OOM retry; None: on CUDA only
        self._cancel = threading.Event()
        self.amp_dtype = self.precision.dtype
        use_scaler = self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type) if use_scaler else None
        groups = getattr(model, "param_groups", lambda: [list(model.parameters())])()
        self.opt = torch.optim.AdamW(
            [{"params": g} for g in groups], lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd
        )

    # ---------------------------------------------------------------- callbacks and control
    def add_callback(self, cb: Callback) -> None:
        self.callbacks.append(cb)

    def remove_callback(self, cb: Callback) -> None:
        self.callbacks.remove(cb)

    def cancel(self) -> None:
        """Ask the running fit or lr_find to stop before its next batch (any thread).

        The request stays set (so a multi-stage recipe stops too) until :meth:`clear_cancel`.
        """
        self._cancel.set()

    def clear_cancel(self) -> None:
        self._cancel.clear()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def notify(self, kind: str, text: str, level: str = "warning", sticky: bool = True) -> None:
        """Tell the user about an adjustment the engine made on its own: kept on
        ``self.notices`` (while ``sticky``) and sent to the callbacks' ``notice`` method
        (ReportCallback turns it into a Notice message for the CLI and the panel)."""
        notice = Notice(kind, level, text)
        log.debug("notice (%s): %s", level, text)  # the sinks show it; no second copy
        self.notices.append(notice)
        try:
            self.fire(Event.NOTICE, self.sorted_callbacks())
        finally:
            if not sticky:
                self.notices.remove(notice)

    def announce(self, plan: RunPlan) -> None:
        """Tell the callbacks what the job will do (ReportCallback sends it on, so the CLI's
        progress and the panel's can estimate the time left of all of it)."""
        self.plan = plan
        self.fire(Event.PLANNED, self.sorted_callbacks())

    def fire(self, event: Event, cbs: Sequence[Callback]) -> None:
        for cb in cbs:
            cb(event, self)

    def sorted_callbacks(self, extra: Iterable[Callback] = ()) -> list[Callback]:
        return sorted([*self.callbacks, *extra], key=lambda cb: cb.order)

    # ---------------------------------------------------------------- freezing and lrs
    @property
    def n_groups(self) -> int:
        return len(self.opt.param_groups)

    def freeze(self) -> None:
        """Train only the decoder/head (and every BatchNorm)."""
        set_frozen(self.model, True)
        self.frozen = True

    def unfreeze(self) -> None:
        set_frozen(self.model, False)
        self.frozen = False

    def lr_list(self, lr: float | Sequence[float]) -> list[float]:
        """One max lr per group: a float is used for all groups, a (lo, hi) pair is spread."""
        if isinstance(lr, (int, float)):
            return [float(lr)] * self.n_groups
        return spread_lrs(lr, self.n_groups)

    # ---------------------------------------------------------------- data
    def set_size(self, size: int) -> None:
        """Progressive resizing: new loaders at ``size``, same model, optimizer and history."""
        self._rebuild_data(size=size, bs=self.data.bs)

    def set_batch_size(self, bs: int) -> None:
        self._rebuild_data(size=self.data.size, bs=bs)

    def _rebuild_data(self, size: int, bs: int) -> None:
        if self.spec is None:
            raise ValueError("this Learner was built without a DataSpec; cannot rebuild loaders")
        self.data = self.spec.build(size, bs, self.device)

    # ---------------------------------------------------------------- fitting
    def fit_one_cycle(
        self,
        epochs: int,
        lr_max: float | Sequence[float],
        div: float = 25.0,
        div_final: float = 1e5,
        pct_start: float = 0.25,
        moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
        wd: float | None = None,
        *,
        start_epoch: int = 0,
        stage: str = "fit",
    ) -> None:
        """One-cycle policy over ``epochs``; ``start_epoch`` resumes a cycle part way."""
        lrs = self.lr_list(lr_max)
        if wd is not None:
            for g in self.opt.param_groups:
                g["weight_decay"] = wd
        sched = one_cycle_scheduler(lrs, div, div_final, pct_start, moms)
        schedule = {"lr_max": lrs, "div": div, "div_final": div_final, "pct_start": pct_start,
                    "moms": list(moms), "wd": self.opt.param_groups[0]["weight_decay"],
                    "epochs": epochs, "stage": stage, "frozen": self.frozen}
        self.fit(epochs, [sched], start_epoch=start_epoch, stage=stage, schedule=schedule)

    def fit(self, n_epoch: int, cbs: Sequence[Callback] = (), *, start_epoch: int = 0,
            stage: str = "fit", schedule: dict[str, Any] | None = None) -> None:
        """Train ``n_epoch`` epochs. On CUDA out-of-memory, retry once at half the batch size
        from the state this call started with; otherwise raise OutOfMemoryError."""
        # Copying the weights costs time; only CUDA can run out of memory mid-fit (tests set
        # ``snapshot_weights`` to exercise the restore on the CPU).
        weights = self.snapshot_weights if self.snapshot_weights is not None else (
            self.device.type == "cuda")
        snapshot = self.snapshot(weights=weights)
        retried = False
        while True:
            try:
                # Under DDP a retry on one rank alone would leave the others waiting: fail all.
                retry = not retried and self.data.bs > 1 and self.spec is not None
                self._fit(n_epoch, self.sorted_callbacks(cbs), start_epoch, stage, schedule or {},
                          oom_retry=retry and not distributed_active())
                return
            except torch.cuda.OutOfMemoryError:
                retried = True
                self.restore(snapshot)
                new_bs = self.data.bs // 2
                self.notify("batch_size", f"Out of GPU memory at batch size {self.data.bs}: "
                            f"the batch size was cut to {new_bs} and the stage restarted.")
                self.set_batch_size(new_bs)

    def fit_lr_find(self, n_epoch: int, cbs: list[Callback]) -> None:
        """The loop as used by the LR finder: no validation, no NaN error, no OOM retry."""
        self._fit(n_epoch, cbs, 0, "lr_find", {}, oom_retry=False, lr_find=True)

    def _fit(self, n_epoch: int, cbs: list[Callback], start_epoch: int, stage: str,
             schedule: dict[str, Any], oom_retry: bool, lr_find: bool = False) -> None:
        n_iter = len(self.data.train_dl)
        st = self.state = FitState(
            stage=stage, epoch=start_epoch, n_epoch=n_epoch, n_iter=n_iter, lr_find=lr_find,
            train_iter=start_epoch * n_iter, total_iters=n_epoch * n_iter, schedule=schedule,
        )
        try:
            self.fire(Event.BEFORE_FIT, cbs)
            for epoch in range(start_epoch, n_epoch):
                st.epoch = epoch
                self._do_epoch(cbs)
        except CancelFitException:
            st.cancelled = True
            self.fire(Event.AFTER_CANCEL_FIT, cbs)
        except KeyboardInterrupt:  # Ctrl-C on the CLI: a cancel, recorded as such
            st.cancelled = True
            self.fire(Event.AFTER_CANCEL_FIT, cbs)
            self.fire(Event.AFTER_FIT, cbs)
            raise
        except torch.cuda.OutOfMemoryError as exc:
            _empty_cuda_cache()
            if oom_retry:
                raise
            st.error = OutOfMemoryError(
                f"Out of GPU memory at batch size {self.data.bs}, size {self.data.size}px. "
                "Use a smaller batch (--bs) or image size (--size), or train on the CPU."
            )
            self.fire(Event.AFTER_FIT, cbs)
            raise st.error from exc
        except BaseException as exc:
            st.error = exc
            self.fire(Event.AFTER_FIT, cbs)
            raise
        self.fire(Event.AFTER_FIT, cbs)

    def _do_epoch(self, cbs: list[Callback]) -> None:
        st = self.state
        try:
            self.fire(Event.BEFORE_EPOCH, cbs)
            self._run_train(cbs)
            if not st.lr_find:
                self._run_validate(cbs)
        except CancelEpochException:
            pass
        self.fire(Event.AFTER_EPOCH, cbs)

    def _run_train(self, cbs: list[Callback]) -> None:
        st = self.state
        st.training = True
        self.model.train()
        self.fire(Event.BEFORE_TRAIN, cbs)
        try:
            for i, (xb, yb) in enumerate(self.data.train_dl):
                st.iter = i
                self._one_batch(xb, yb, cbs)
                st.train_iter += 1
        except CancelTrainException:
            pass
        self.fire(Event.AFTER_TRAIN, cbs)

    def _run_validate(self, cbs: list[Callback]) -> None:
        st = self.state
        st.training = False
        self.model.eval()
        self.fire(Event.BEFORE_VALIDATE, cbs)
        with torch.no_grad():
            for i, (xb, yb) in enumerate(self.data.valid_dl):
                st.iter = i
                self._one_batch(xb, yb, cbs)
        self.fire(Event.AFTER_VALIDATE, cbs)

    def _autocast(self) -> Any:
        return autocast(self.device, self.precision)

    def _one_batch(self, xb: torch.Tensor, yb: torch.Tensor, cbs: list[Callback]) -> None:
        if self._cancel.is_set():
            raise CancelFitException()
        st = self.state
        if self.precision.channels_last:  # no copy when the loader made it so already
            xb = xb.contiguous(memory_format=torch.channels_last)
        st.xb, st.yb = xb, yb
        try:
            self.fire(Event.BEFORE_BATCH, cbs)
            with self._autocast():
                st.pred = self.model(st.xb)
                self.fire(Event.AFTER_PRED, cbs)
                st.loss = self.loss_func(st.pred.float(), st.yb)
            if st.training:
                # Under DDP: the global batch's loss, the same on every rank, so all stop together.
                st.loss_value, where = global_loss(st.loss)
                if not math.isfinite(st.loss_value) and not st.lr_find:
                    raise NonFiniteLossError(
                        f"The training loss became {st.loss_value} {where}at epoch {st.epoch + 1}, "
                        f"batch {st.iter + 1} (iteration {st.train_iter + 1}). Try a lower "
                        "learning rate; the last good checkpoint is kept.",
                        epoch=st.epoch, batch=st.iter, iteration=st.train_iter,
                    )
            self.fire(Event.AFTER_LOSS, cbs)
            if st.training:
                self._backward_step(cbs)
        except CancelBatchException:
            pass
        self.fire(Event.AFTER_BATCH, cbs)

    def _backward_step(self, cbs: list[Callback]) -> None:
        if self.scaler is not None:
            self.scaler.scale(self.state.loss).backward()
            self.fire(Event.BEFORE_STEP, cbs)
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.state.loss.backward()
            self.fire(Event.BEFORE_STEP, cbs)
            self.opt.step()
        self.fire(Event.AFTER_STEP, cbs)
        self.opt.zero_grad(set_to_none=True)

    # ---------------------------------------------------------------- state snapshots
    def snapshot(self, weights: bool = True) -> dict[str, Any]:
        """Deep copy of model, optimizer and scaler state (and the recorder's lengths)."""
        snap: dict[str, Any] = {"rec": (len(self.recorder.losses), len(self.recorder.epochs))}
        if weights:
            snap["model"] = copy.deepcopy(self.model.state_dict())
            snap["opt"] = copy.deepcopy(self.opt.state_dict())
            snap["scaler"] = copy.deepcopy(self.scaler.state_dict()) if self.scaler else None
        return snap

    def restore(self, snap: dict[str, Any]) -> None:
        """Put back exactly what :meth:`snapshot` saved."""
        if "model" in snap:
            self.model.load_state_dict(snap["model"])
            self.opt.load_state_dict(snap["opt"])
        if self.scaler is not None and snap.get("scaler") is not None:
            self.scaler.load_state_dict(snap["scaler"])
        self.recorder.truncate(*snap["rec"])

    # ---------------------------------------------------------------- LR finder, io, inference
    def lr_find(self, start_lr: float = LR_FIND_START, end_lr: float = 10.0,
                num_it: int = LR_FIND_ITERS, stop_div: bool = True) -> LRFindResult:
        """Exponential LR sweep; model and optimizer are restored bit-for-bit afterwards."""
        return run_lr_find(self, start_lr, end_lr, num_it, stop_div)

    def save_checkpoint(self, path: Path | None = None) -> Path:
        """Write model, optimizer, config, classes, history and schedule position (atomic)."""
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("no checkpoint_dir set; pass a path")
            path = self.checkpoint_dir / checkpoints.LAST
        checkpoints.save(self, path)
        return path

    def predict(self, names: Sequence[str]) -> list[Any]:
        """Index masks (segmentation, original size) or tag probabilities for project images."""
        from workbench.training.predict import predict_paths

        if self.project is None:
            raise ValueError("this Learner has no project; use predict.predict_paths")
        paths = [Path(self.project.image_path(n)) for n in names]
        return predict_paths(self.model, paths, self.data.task, self.data.size, self.device,
                             precision=self.config.precision)


def _empty_cuda_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
