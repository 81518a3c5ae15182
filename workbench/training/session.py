"""Building a Learner for a Project, the multi-stage recipe, run history and resuming.

This is the façade the CLI and the GUI use: ``build_learner(project, config)`` then
``run_stages(learner, stages_from_config(config, ...))`` (or the convenience ``train``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from workbench.core.runs import DEFAULT_THRESHOLD, RunStatus
from workbench.training import checkpoints
from workbench.training.callbacks import CheckpointCallback
from workbench.training.config import TrainConfig
from workbench.training.data import data_spec, task_name
from workbench.training.device import (
    configure_backend,
    cuda_unavailable_reason,
    describe_devices,
    resolve_device,
)
from workbench.training.distributed import broadcast_object
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.eta import plan_for
from workbench.training.events import Callback
from workbench.training.learner import Learner
from workbench.training.losses import loss_for_task
from workbench.training.metrics import Metric, MultilabelMetrics, SegmentationMetrics
from workbench.training.models import build_model
from workbench.training.predict import run_dir
from workbench.training.recipe import Stage, needs_lr, plan_stages, with_found_lr
from workbench.training.runs import RunHistoryCallback, is_recorded, recorded_run
from workbench.training.schedules import spread_lrs
from workbench.training.weights import hub_checkpoint_dir

if TYPE_CHECKING:
    from workbench.core.project import Project

__all__ = ["Stage", "build_learner", "describe_devices", "resume_run", "run_stages",
           "stages_from_config", "train"]
log = logging.getLogger(__name__)
FEW_ITERATIONS = 5  # "a handful": fewer trained batches in a run and the model learnt ~nothing


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def new_run_id(project: Project) -> str:
    """Sortable timestamp id, unique within the project."""
    base = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while run_dir(project, run_id).exists() or project.db.get_run(run_id) is not None:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def metrics_for_task(task: str, classes: Sequence[str],
                     threshold: float = DEFAULT_THRESHOLD) -> list[Metric]:
    """The task's metrics; multilabel decisions at ``threshold`` (a run's own, once stored)."""
    if task == "segmentation":
        return [SegmentationMetrics(classes)]
    return [MultilabelMetrics(classes, thresh=threshold)]


def build_learner(project: Project, config: TrainConfig, callbacks: Iterable[Callback] = (),
                  *, run_id: str | None = None) -> Learner:
    """Loaders from the project's labelled images and split, the model for its task (with
    pretrained weights when found), metrics, checkpointing into ``models/<run_id>/`` and the
    run history. Raises NotEnoughLabelsError when a split would be empty."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    configure_backend(device)
    spec = data_spec(project, top_down=config.top_down, num_workers=config.num_workers,
                     seed=config.seed)
    data = spec.build(config.sizes()[0], config.bs, device)
    task = task_name(project.task)
    model, weights = build_model(task, config.arch, len(spec.classes), config.pretrained)
    config.extra["pretrained_file"] = str(weights) if weights else None
    run_id = run_id or broadcast_object(new_run_id(project))  # DDP: rank 0's id everywhere
    cbs: list[Callback] = [CheckpointCallback(), RunHistoryCallback(project, run_id)]
    learner = Learner(
        model, data, loss_for_task(task), metrics_for_task(task, spec.classes), wd=config.wd,
        callbacks=[*cbs, *callbacks], run_id=run_id, checkpoint_dir=run_dir(project, run_id),
        config=config, spec=spec, precision=config.precision,
    )
    config.extra["precision_used"] = learner.precision.name
    learner.project = project
    _setup_notices(learner, config, device, weights)
    log.info("Run %s: %s %s (%s) on %s in %s, %d train / %d valid images at %dpx, batch %d",
             run_id, task, config.arch, f"weights {weights}" if weights else "random init",
             device, learner.precision.name, len(spec.train_names), len(spec.valid_names),
             data.size, data.bs)
    return learner


def _setup_notices(learner: Learner, config: TrainConfig, device: torch.device,
                   weights: Path | None) -> None:
    """Say what the engine chose on its own while building: the user asked for something else."""
    if config.device in ("auto", "", None) and device.type == "cpu":
        reason = cuda_unavailable_reason()
        if reason:
            learner.notify("device", f"Training on the CPU: {reason}.", level="info")
    if weights is None and config.pretrained == "auto":
        learner.notify(
            "random_init",
            f"No ImageNet weights for {config.arch} were found in {hub_checkpoint_dir()}: "
            "training from random init, nothing frozen (it needs more epochs and labels). "
            "Get them with “Download…” next to “ImageNet weights”, or `workbench weights "
            f"download {config.arch}`.")
    n_train = len(learner.data.train_names)
    if learner.data.bs < config.bs:
        learner.notify("batch_size", f"Batch size {config.bs} was cut to {learner.data.bs}: "
                       f"there are only {n_train} training images.")


def check_plan(stages: Sequence[Stage]) -> None:
    """Refuse a plan that trains nothing, before a run is recorded."""
    if sum(s.epochs for s in stages) <= 0:
        raise TrainingError("Nothing to train: the plan has no epochs. Give at least one "
                            "epoch (--epochs 1 or more).")


def stages_from_config(config: TrainConfig, pretrained_loaded: bool = False) -> list[Stage]:
    """The recipe for ``config``: :func:`workbench.training.recipe.plan_stages`, the planner
    the training panel uses too."""
    return plan_stages(config, pretrained_loaded)


def prepare_stage(learner: Learner, stage: Stage) -> None:
    """Put the model in the state ``stage`` trains: its image size, frozen or not."""
    if stage.size and stage.size != learner.data.size:
        log.info("Resizing to %dpx", stage.size)
        learner.set_size(stage.size)
    learner.freeze() if stage.frozen else learner.unfreeze()


def find_stage_lr(learner: Learner, stages: Sequence[Stage], index: int) -> list[Stage]:
    """``stages`` with a rate for ``stages[index]`` (which must have none): the LR finder's
    valley on the model as that stage trains it (a cached sweep when the same one ran
    before), carried over to the later stages by the recipe's rule unless the config asks
    for a sweep before each stage. Raises TrainingCancelled when the sweep is stopped."""
    from workbench.training.lr_cache import find_lr

    prepare_stage(learner, stages[index])
    cfg = learner.config
    result = find_lr(learner)
    log.info("Stage %s: LR finder suggests %.2e (valley%s)", stages[index].name, result.valley,
             ", cached sweep" if result.cached else "")
    cfg.extra.setdefault("lr_found", {})[stages[index].name] = result.valley
    return with_found_lr(stages, index, result.valley, cfg.lr_find_each_stage)


def run_stages(learner: Learner, stages: Sequence[Stage], *, first_index: int = 0) -> None:
    """Run each stage: resize if asked, (un)freeze, find the lr when it has none (one LR
    sweep per run: see :func:`find_stage_lr`), fit one cycle. Stops quietly after a cancelled
    stage or LR sweep. Warns (a notice) when the whole run trained fewer than FEW_ITERATIONS
    batches. Called outside a recorded run, the stages are one recorded run of their own."""
    if not is_recorded(learner):
        with recorded_run(learner):
            run_stages(learner, stages, first_index=first_index)
        return
    stages = list(stages)
    trained = 0
    for offset in range(len(stages)):
        if learner.cancel_requested:
            break
        learner.stage_index = first_index + offset
        if needs_lr(stages[offset]):
            try:
                stages = find_stage_lr(learner, stages, offset)
            except TrainingCancelled:
                break
        stage = stages[offset]
        prepare_stage(learner, stage)
        learner.fit_one_cycle(stage.epochs, _stage_lr(learner, stage),
                              pct_start=learner.config.pct_start, wd=learner.config.wd,
                              stage=stage.name)
        if learner.state.cancelled:
            break
        trained += learner.state.train_iter
    else:
        if stages and trained < FEW_ITERATIONS:
            learner.notify(
                "few_iterations",
                f"Trained {trained} iteration{'' if trained == 1 else 's'} in all: label more "
                f"images or lower the batch size ({len(learner.data.train_names)} training "
                f"images, batch size {learner.data.bs}). The metrics mean little yet.",
                sticky=False)


def _stage_lr(learner: Learner, stage: Stage) -> float | list[float]:
    """The stage's max LR per group: explicit rates, else its lr, spread when it asks."""
    if stage.lrs is not None:
        return spread_lrs(stage.lrs, learner.n_groups)
    if stage.lr is None:
        raise TrainingError(f"stage {stage.name} has no learning rate; find one first")
    if stage.spread:
        return spread_lrs((stage.lr / stage.spread, stage.lr), learner.n_groups)
    return stage.lr


def train(project: Project, config: TrainConfig, callbacks: Iterable[Callback] = ()) -> Learner:
    """Build a learner and run the whole recipe for ``config`` as one recorded run."""
    check_plan(stages_from_config(config, True))
    started = time.time()
    learner = build_learner(project, config, callbacks)
    loaded = bool(config.extra.get("pretrained_file"))
    stages = stages_from_config(config, loaded)
    learner.announce(plan_for(learner, stages))
    with recorded_run(learner, started_at=started):
        run_stages(learner, stages)
    return learner


def resume_run(project: Project, run_id: str, callbacks: Iterable[Callback] = ()) -> Learner:
    """Continue run ``run_id`` from its last checkpoint: finish the interrupted stage on the
    same schedule, then the stages that were still to come."""
    run = project.db.get_run(run_id)
    if run is None:
        raise TrainingError(f"{project.root} has no run {run_id!r} to resume.")
    if run.status in (RunStatus.FINISHED, RunStatus.REJECTED, RunStatus.RUNNING):
        raise TrainingError(f"run {run_id} is {run.status.value}; only a stopped, failed or "
                            "interrupted run can be resumed.")
    path = run.model_path(project.root)
    if not path.is_file():
        raise TrainingError(f"run {run_id} has no checkpoint {path}: it ended before its "
                            "first epoch did, so start a new run instead.")
    ckpt = checkpoints.load(path)
    config = TrainConfig.from_dict(ckpt["config"])
    loaded = bool(config.extra.get("pretrained_file"))
    config.pretrained = None  # the checkpoint has the weights
    learner = build_learner(project, config, callbacks, run_id=run_id)
    if int(ckpt["size"]) != learner.data.size:
        learner.set_size(int(ckpt["size"]))
    index = int((ckpt.get("schedule") or {}).get("stage_index", 0))
    learner.stage_index = index
    with recorded_run(learner):
        checkpoints.resume_fit(learner, path)
        if not learner.cancel_requested:
            stages = stages_from_config(config, loaded)
            # The run's one sweep was recorded: the remaining stages follow from it as before.
            found = config.extra.get("lr_found") or {}
            if stages and needs_lr(stages[0]) and stages[0].name in found:
                stages = with_found_lr(stages, 0, float(found[stages[0].name]),
                                       config.lr_find_each_stage)
            run_stages(learner, stages[index + 1:], first_index=index + 1)
    return learner
