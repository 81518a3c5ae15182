"""Refit on the corrections queue: the fast.ai lesson's "fit again on what it got wrong".

A refit is a new run that starts from the parent run's weights and trains a short one-cycle on
the pending queue items, oversampled, mixed with a fresh random replay sample of the rest of
the training set every epoch (so it does not forget what it knew). Queue items and validation
images are evaluated before and after; validation here means the validation images that are
*not* queued (a corrected validation image is trained on, so it would flatter the score). The
learner comes from ``session.build_learner``, so run history, checkpoints and the callbacks the
GUI attaches (live plots, Stop) work exactly as in a training run.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, Sampler

from workbench.core.runs import DEFAULT_THRESHOLD, RunStatus
from workbench.training.config import TrainConfig
from workbench.training.data import DeviceLoader
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.events import Callback, CancelFitException
from workbench.training.learner import Learner
from workbench.training.predict import predict_project
from workbench.training.refit_policy import (
    DEFAULT_RULE,
    RefitRate,
    Verdict,
    given_rate,
    judge,
    measured_rate,
)
from workbench.training.runs import (
    OpenedRun,
    chosen_threshold,
    end_run,
    ends_on_error,
    open_run,
    start_run,
)
from workbench.training.session import build_learner, metrics_for_task, new_run_id
from workbench.training.uncertainty import rank_unlabelled

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
DEFAULT_REPLAY = 0.5


@dataclass
class RefitSettings:
    epochs: int = 2
    lr: float | None = None      # None: measured on the refit mix (refit_policy.py); X: head LR
    replay: float = DEFAULT_REPLAY  # fraction of the rest of the training set drawn per epoch
    device: str = "auto"
    precision: str = "auto"         # see device.resolve_precision
    batch_size: int | None = None   # None: the parent's
    oversample: int | None = None   # None: queue items fill at least half of every epoch
    keep_worse: bool = False        # keep a refit the guard rejects
    lr_rule: str = DEFAULT_RULE     # which sweep reading a measured LR takes
    recalibrate_bn: bool = True     # BatchNorm statistics from the data afterwards (below)


@dataclass
class RefitResult:
    run: str
    parent: str
    items: list[str]
    before: dict[str, dict[str, Any]]   # {"queue": {"loss": x, <metric>: y}, "valid": {...}}
    after: dict[str, dict[str, Any]]
    verdict: Verdict
    rate: RefitRate
    seconds: dict[str, float] = field(default_factory=dict)  # refit, evaluation, prediction

    @property
    def accepted(self) -> bool:
        """Whether the refit is the current model now (the guard passed, or kept anyway)."""
        return self.verdict.accepted or self.verdict.kept_anyway

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "parent": self.parent, "items": list(self.items),
                "before": self.before, "after": self.after, "accepted": self.accepted,
                "guard": self.verdict.to_json(), "lr": self.rate.to_json()}


class RefitSampler(Sampler[int]):
    """Per epoch: every queue item (indices ``< n_queue``) ``oversample`` times plus a fresh
    random ``n_replay`` of the other images, shuffled together."""

    def __init__(self, n_queue: int, n_rest: int, oversample: int, n_replay: int,
                 seed: int = 0) -> None:
        self.n_queue, self.n_rest = n_queue, n_rest
        self.oversample, self.n_replay = oversample, min(n_replay, n_rest)
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.n_queue * self.oversample + self.n_replay

    def __iter__(self) -> Iterator[int]:
        replay = torch.randperm(self.n_rest, generator=self.gen)[:self.n_replay] + self.n_queue
        queue = torch.arange(self.n_queue).repeat(self.oversample)
        both = torch.cat([queue, replay])
        yield from both[torch.randperm(len(both), generator=self.gen)].tolist()


class _StopWhen(Callback):
    order = -30

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = should_stop

    def before_batch(self, learn: Learner) -> None:
        if self.should_stop():
            raise CancelFitException()


def base_lrs(ckpt: dict[str, Any]) -> list[float]:
    """The per-group LRs that bound a refit of this checkpoint: its last one-cycle's, or,
    when it is itself a refit, the bound that refit had, so rates never creep up by rounds."""
    refit_of = ((ckpt.get("config") or {}).get("extra") or {}).get("refit") or {}
    lrs = refit_of.get("base_lrs") or (ckpt.get("schedule") or {}).get("lr_max", [])
    return [float(v) for v in lrs]


def evaluate(learner: Learner, names: Sequence[str],
             threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Loss and the task's metrics of ``learner.model`` on ``names`` (validation transforms;
    tags decided at ``threshold``); {} for no image. NaN becomes None (valid JSON)."""
    if not names or learner.spec is None:
        return {}
    ds = learner.spec.eval_dataset(names, learner.data.size)
    dl = DeviceLoader(DataLoader(ds, learner.data.bs * 2, shuffle=False), learner.device)
    metrics = metrics_for_task(learner.data.task, learner.data.classes, threshold)
    total, count = 0.0, 0
    learner.model.eval()
    with torch.no_grad(), learner._autocast():
        for xb, yb in dl:
            pred = learner.model(xb).float()
            total += float(learner.loss_func(pred, yb)) * len(yb)
            count += len(yb)
            for m in metrics:
                m.accumulate(pred, yb)
    out: dict[str, Any] = {"loss": total / count}
    for m in metrics:
        out.update(m.value())
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()}


def _queued_images(project: Project) -> tuple[list[int], list[str]]:
    pending = project.queue.pending()
    if not pending:
        raise TrainingError("The corrections queue has no pending item; correct or add images "
                            "first (workbench queue PROJECT add IMAGE).")
    labelled = set(project.labelled_names())
    missing = sorted({i.image for i in pending if i.image not in labelled})
    if missing:
        raise TrainingError(f"Queued image(s) {', '.join(missing)} have no label; label them "
                            "or remove them from the queue before refitting.")
    return [i.id for i in pending], list(dict.fromkeys(i.image for i in pending))


def _refit_config(ckpt: dict[str, Any], settings: RefitSettings) -> TrainConfig:
    config = TrainConfig.from_dict(ckpt["config"])
    config.pretrained = None  # the parent's checkpoint has the weights
    config.size, config.resize = int(ckpt["size"]), None
    config.epochs, config.freeze_epochs, config.lrs = settings.epochs, 0, None
    config.device, config.precision = settings.device, settings.precision
    if settings.batch_size:
        config.bs = settings.batch_size
    return config


def _parent_learner(project: Project, parent: OpenedRun, settings: RefitSettings,
                    callbacks: list[Callback]) -> Learner:
    """A learner for a new run holding the parent's weights, freeze, and optimizer moments
    when the parent's checkpoint still has them."""
    ckpt = parent.ckpt
    learner = build_learner(project, _refit_config(ckpt, settings), callbacks,
                            run_id=new_run_id(project))
    learner.model.load_state_dict(ckpt["model"])
    if ckpt.get("optimizer") is not None:
        learner.opt.load_state_dict(ckpt["optimizer"])
    learner.freeze() if ckpt.get("frozen") else learner.unfreeze()
    return learner


def recalibrate_batchnorm(learner: Learner, names: Sequence[str]) -> None:
    """Recompute every BatchNorm layer's running statistics with the refitted weights over
    ``names``, each image once with the training augmentations, as the parent's were averaged.
    The running averages a refit's own batches leave behind describe those batches — half
    queue, a few images oversampled — not the data: on the nuclei demo they took validation
    Dice from 0.947 to 0.86–0.90 whatever the rate, and recomputed they kept 0.94–0.95.
    Keeping the parent's instead does not fit the new weights: validation loss rose 50–150 %."""
    spec = learner.spec
    if spec is None or len(names) < 2:
        return
    ds = spec.augmented_dataset(names, learner.data.size)
    bs = learner.data.bs
    gen = torch.Generator().manual_seed(learner.config.seed)
    # A last batch of one sample has no batch statistics (the tag head's BatchNorm1d).
    loader = DataLoader(ds, bs, shuffle=True, generator=gen, drop_last=len(ds) % bs == 1)
    with learner._autocast():
        update_bn(DeviceLoader(loader, learner.device), learner.model)


def _use_refit_mix(learner: Learner, items: list[str], settings: RefitSettings) -> dict:
    """Train on the queue items + replay sample; validate on the validation images not
    queued. Returns what was chosen (stored on the run)."""
    spec = learner.spec
    assert spec is not None  # build_learner always sets it
    rest = [n for n in spec.train_names if n not in items]
    n_replay = round(settings.replay * len(rest))
    oversample = settings.oversample or max(2, math.ceil(n_replay / len(items)))
    seed = learner.config.seed
    spec.train_names = items + rest
    spec.valid_names = [n for n in spec.valid_names if n not in items]
    spec.train_sampler = lambda _n: RefitSampler(len(items), len(rest), oversample, n_replay,
                                                 seed)
    learner.set_batch_size(learner.config.bs)  # rebuild the loaders on the refit mix
    return {"items": items, "oversample": oversample, "replay": settings.replay,
            "replayed_per_epoch": n_replay}


def _rate(learner: Learner, ckpt: dict[str, Any], settings: RefitSettings) -> RefitRate:
    parent_lrs = base_lrs(ckpt) or [float(ckpt["config"].get("lr") or 1e-3)] * learner.n_groups
    if settings.lr is not None:
        return given_rate(settings.lr, parent_lrs, learner.n_groups)
    return measured_rate(learner, parent_lrs, settings.lr_rule)


def refit(project: Project, parent_run: str | None = None,
          settings: RefitSettings | None = None, *, callbacks: Iterable[Callback] = (),
          progress: Callable[[int, int], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> RefitResult:
    """Fine-tune ``parent_run`` (None: the current model) on the pending queue, then let the
    guard decide (refit_policy.py). Kept: the run is finished and the current model, the items
    are marked used by it, predictions and uncertainty scores are refreshed. Rejected: the run
    is recorded as rejected, the parent stays the current model and the items stay pending.
    ``callbacks`` are Learner callbacks, as for ``session.train``; ``progress(done, total)``
    reports the predictions afterwards. A stopped refit raises TrainingCancelled."""
    settings = settings or RefitSettings()
    if settings.epochs < 1 or not 0 <= settings.replay <= 1:
        raise TrainingError("A refit needs at least 1 epoch and a replay fraction in 0..1.")
    started = time.time()
    parent = open_run(project, parent_run)
    ids, items = _queued_images(project)
    extra: list[Callback] = [_StopWhen(should_stop)] if should_stop else []
    learner = _parent_learner(project, parent, settings, [*callbacks, *extra])
    t0 = time.perf_counter()
    mix = _use_refit_mix(learner, items, settings)
    valid = list(learner.data.valid_names)
    before = {"queue": evaluate(learner, items, parent.threshold),
              "valid": evaluate(learner, valid, parent.threshold)}
    t_eval = time.perf_counter() - t0
    try:
        rate = _rate(learner, parent.ckpt, settings)
    except TrainingCancelled as exc:
        raise TrainingCancelled("The refit was stopped while measuring its learning rate; "
                                "nothing was recorded and the queue items stay pending.") from exc
    learner.config.lr = rate.lrs[-1]
    learner.config.extra["refit"] = {"parent": parent.run_id, "base_lrs": rate.parent_lrs,
                                     **rate.to_json(), **mix}
    start_run(learner, started_at=started, parent=parent.run_id)
    project.db.update_run(learner.run_id, queue_items=items)
    log.info("Refit %s of %s: %s", learner.run_id, parent.run_id, learner.config.extra["refit"])
    with ends_on_error(learner):
        result = _fit_and_judge(learner, parent, ids, items, before, rate, settings)
        result.seconds["evaluation"] += t_eval
        if result.accepted:
            project.queue.mark_used(ids, learner.run_id)
            t0 = time.perf_counter()
            predict_project(project, learner.run_id, "all", device=settings.device,
                            bs=learner.config.bs, progress=progress,
                            precision=settings.precision)
            rank_unlabelled(project, learner.run_id, device=settings.device,
                            batch_size=learner.config.bs)
            result.seconds["prediction"] = time.perf_counter() - t0
    return result


def _fit_and_judge(learner: Learner, parent: OpenedRun, ids: list[int], items: list[str],
                   before: dict[str, dict[str, Any]], rate: RefitRate,
                   settings: RefitSettings) -> RefitResult:
    """Train, score again, and record the guard's verdict: finished (the current model) or
    rejected (the parent stays current)."""
    t0 = time.perf_counter()
    learner.fit_one_cycle(settings.epochs, rate.lrs, pct_start=learner.config.pct_start,
                          wd=learner.config.wd, stage="refit")
    t_fit = time.perf_counter() - t0
    if learner.state.cancelled:
        raise TrainingCancelled(f"The refit was stopped; run {learner.run_id} is kept as "
                                "cancelled and the queue items stay pending.")
    t0 = time.perf_counter()
    if settings.recalibrate_bn:  # before judging, and before end_run saves the model
        recalibrate_batchnorm(learner, learner.spec.train_names if learner.spec else [])
    threshold = chosen_threshold(learner) or parent.threshold
    valid = list(learner.data.valid_names)
    after = {"queue": evaluate(learner, items, threshold),
             "valid": evaluate(learner, valid, threshold)}
    verdict = judge(before["valid"], after["valid"], learner.recorder.main_metric or "loss",
                    before["queue"], after["queue"])
    verdict.kept_anyway = not verdict.accepted and settings.keep_worse
    result = RefitResult(learner.run_id, parent.run_id, items, before, after, verdict, rate,
                         {"refit": t_fit, "evaluation": time.perf_counter() - t0,
                          "prediction": 0.0})
    guard = {**verdict.to_json(), "queue_ids": ids}
    # The model kept is the recalibrated one: its recorded score is the guard's, not the fit's
    # last epoch (measured before the recalibration, 0.06 Dice lower on the nuclei demo).
    scored = {}
    main_metric = learner.recorder.main_metric
    if main_metric and isinstance(after["valid"].get(main_metric), (int, float)):
        scored = {"best_metric": after["valid"][main_metric], "metric_name": main_metric}
    if result.accepted:
        end_run(learner, RunStatus.FINISHED, guard=guard, **scored)
    else:
        end_run(learner, RunStatus.REJECTED, guard=guard, **scored)
        log.info("Refit %s rejected: %s", learner.run_id, "; ".join(verdict.reasons))
    return result
