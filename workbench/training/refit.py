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
from torch.utils.data import DataLoader, Sampler

from workbench.training import checkpoints
from workbench.training.config import TrainConfig
from workbench.training.data import DeviceLoader
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.events import Callback, CancelFitException
from workbench.training.learner import Learner
from workbench.training.predict import latest_run, predict_project, run_dir
from workbench.training.session import build_learner, metrics_for_task, new_run_id
from workbench.training.uncertainty import rank_unlabelled

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
REFIT_LR_FACTOR = 2.0
"""Default refit LR: the parent's last one-cycle maximum (per layer group) times this."""
DEFAULT_REPLAY = 0.5


@dataclass
class RefitSettings:
    epochs: int = 2
    lr: float | None = None      # None: parent's last stage LR x REFIT_LR_FACTOR; X: head LR X
    replay: float = DEFAULT_REPLAY  # fraction of the rest of the training set drawn per epoch
    device: str = "auto"
    precision: str = "auto"         # see device.resolve_precision
    batch_size: int | None = None   # None: the parent's
    oversample: int | None = None   # None: queue items fill at least half of every epoch


@dataclass
class RefitResult:
    run: str
    parent: str
    items: list[str]
    before: dict[str, dict[str, Any]]   # {"queue": {"loss": x, <metric>: y}, "valid": {...}}
    after: dict[str, dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)  # refit, evaluation, prediction

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "parent": self.parent, "items": list(self.items),
                "before": self.before, "after": self.after}


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
    """The per-group LRs a refit of this checkpoint starts from: its last one-cycle's, or, when
    it is itself a refit, the base that refit used, so the rate does not double every round."""
    refit_of = ((ckpt.get("config") or {}).get("extra") or {}).get("refit") or {}
    lrs = refit_of.get("base_lrs") or (ckpt.get("schedule") or {}).get("lr_max", [])
    return [float(v) for v in lrs]


def refit_lrs(ckpt: dict[str, Any], lr: float | None, n_groups: int) -> list[float]:
    """Per-group max LRs: the base LRs (see :func:`base_lrs`) x REFIT_LR_FACTOR, or scaled so
    the head gets ``lr`` (the base's ratios between layer groups are kept)."""
    parent = base_lrs(ckpt)
    if len(parent) != n_groups:
        base = lr or ckpt["config"].get("lr") or 1e-3
        return [float(base)] * n_groups
    if lr is None:
        return [v * REFIT_LR_FACTOR for v in parent]
    return [v * lr / parent[-1] for v in parent]


def evaluate(learner: Learner, names: Sequence[str]) -> dict[str, Any]:
    """Loss and the task's metrics of ``learner.model`` on ``names`` (validation transforms);
    {} for no image. NaN becomes None so the result is valid JSON."""
    if not names or learner.spec is None:
        return {}
    ds = learner.spec.eval_dataset(names, learner.data.size)
    dl = DeviceLoader(DataLoader(ds, learner.data.bs * 2, shuffle=False), learner.device)
    metrics = metrics_for_task(learner.data.task, learner.data.classes)
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


def _parent_learner(project: Project, parent: str, settings: RefitSettings,
                    callbacks: list[Callback]) -> tuple[Learner, dict[str, Any]]:
    """A learner for a new run holding the parent's weights, optimizer moments and freeze."""
    ckpt = checkpoints.load(run_dir(project, parent) / checkpoints.LAST)
    if list(ckpt["classes"]) != list(project.classes):
        raise TrainingError(f"run {parent} was trained on classes {ckpt['classes']} but the "
                            f"project now has {project.classes}; train a new model")
    learner = build_learner(project, _refit_config(ckpt, settings), callbacks,
                            run_id=new_run_id(project))
    learner.model.load_state_dict(ckpt["model"])
    # The parent's Adam moments: a fresh optimizer's first steps move every weight by about
    # the full LR whatever its gradient, which undoes much of a small model's training.
    learner.opt.load_state_dict(ckpt["optimizer"])
    learner.freeze() if ckpt.get("frozen") else learner.unfreeze()
    return learner, ckpt


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


def refit(project: Project, parent_run: str | None = None,
          settings: RefitSettings | None = None, *, callbacks: Iterable[Callback] = (),
          progress: Callable[[int, int], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> RefitResult:
    """Fine-tune ``parent_run`` (None: the newest run with a checkpoint) on the pending queue.

    ``callbacks`` are Learner callbacks, as for ``session.train``. ``progress(done, total)``
    reports the prediction of every image afterwards. Marks the items used by the new run,
    records parent and items on it, and refreshes predictions and uncertainty scores. A
    stopped refit raises TrainingCancelled and leaves the items pending.
    """
    settings = settings or RefitSettings()
    if settings.epochs < 1 or not 0 <= settings.replay <= 1:
        raise TrainingError("A refit needs at least 1 epoch and a replay fraction in 0..1.")
    parent = parent_run or latest_run(project)
    ids, items = _queued_images(project)
    extra = [_StopWhen(should_stop)] if should_stop else []
    learner, ckpt = _parent_learner(project, parent, settings, [*callbacks, *extra])
    run_id, config = learner.run_id, learner.config
    lrs = refit_lrs(ckpt, settings.lr, learner.n_groups)
    t0 = time.perf_counter()
    valid = [n for n in learner.data.valid_names if n not in items]
    before = {"queue": evaluate(learner, items), "valid": evaluate(learner, valid)}
    config.lr = lrs[-1]
    config.extra["refit"] = {"parent": parent, "lrs": lrs, "base_lrs": base_lrs(ckpt),
                             **_use_refit_mix(learner, items, settings)}
    project.db.add_run(run_id, config.to_dict())
    project.db.update_run(run_id, parent=parent, queue_items=items)
    t_eval = time.perf_counter() - t0
    log.info("Refit %s of %s: %s", run_id, parent, config.extra["refit"])
    t0 = time.perf_counter()
    learner.fit_one_cycle(settings.epochs, lrs, pct_start=config.pct_start, wd=config.wd,
                          stage="refit")
    t_fit = time.perf_counter() - t0
    if learner.state.cancelled:
        raise TrainingCancelled(f"The refit was stopped; run {run_id} is kept as cancelled and "
                                "the queue items stay pending.")
    t0 = time.perf_counter()
    after = {"queue": evaluate(learner, items), "valid": evaluate(learner, valid)}
    t_eval += time.perf_counter() - t0
    project.queue.mark_used(ids, run_id)
    t0 = time.perf_counter()
    predict_project(project, run_id, "all", device=settings.device, bs=config.bs,
                    progress=progress, precision=settings.precision)
    rank_unlabelled(project, run_id, device=settings.device, batch_size=config.bs)
    seconds = {"refit": t_fit, "evaluation": t_eval, "prediction": time.perf_counter() - t0}
    return RefitResult(run_id, parent, items, before, after, seconds)
