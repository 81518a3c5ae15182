"""The jobs the panel runs on its training thread: train stages, LR finder, show batch, predict.

Each factory returns a callable taking a :class:`JobContext`; it reports through the engine's
``ReportCallback`` (and :class:`PreviewReady` for image tiles) and registers ``learner.cancel``
so Stop ends the work within one batch. The jobs touch no widgets (they run on the worker
thread); Qt comes in only through the worker's ``Job``/``JobContext`` types.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from workbench.core.imageio import load_image
from workbench.core.runs import DEFAULT_THRESHOLD
from workbench.qt.training.engine_state import EngineState
from workbench.qt.training.worker import Job, JobContext
from workbench.training.config import TrainConfig
from workbench.training.data import data_spec, task_name
from workbench.training.ddp_child import DDP_DEVICE, DdpChildRun
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.eta import plan_for
from workbench.training.learner import Learner
from workbench.training.lr_cache import find_lr
from workbench.training.predict import predict_project
from workbench.training.recipe import needs_lr
from workbench.training.reports import (
    PlannedPhase,
    PredictProgress,
    ReportCallback,
    RunPlan,
)
from workbench.training.runs import chosen_threshold, recorded_run
from workbench.training.session import (
    build_learner,
    find_stage_lr,
    prepare_stage,
    run_stages,
    stages_from_config,
)
from workbench.training.torchrun import record_launch_failure
from workbench.training.visualize import Cell, batch_cells, prediction_cells

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
PREVIEW_IMAGES = 4


@dataclass(frozen=True)
class PreviewReady:
    """Image tiles for the preview tab: kind is "batch" or "predictions"."""

    kind: str
    tiles: list[Cell]
    note: str = ""


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    cancelled: bool
    best_metric: float | None
    stages: list[str] = field(default_factory=list)



def in_process(config: TrainConfig) -> TrainConfig:
    """``config`` for work done in this process: "All GPUs (DDP)" means the first GPU here
    (the LR finder, batch preview and predictions run on one device)."""
    if config.device != DDP_DEVICE:
        return config
    out = copy.deepcopy(config)
    out.device = "auto"
    return out


def _attach(project: Project, config: TrainConfig, state: EngineState, ctx: JobContext,
            reuse: bool) -> tuple[Learner, ReportCallback]:
    """The learner to work on, with a ReportCallback to ``ctx.report`` attached."""
    config = in_process(config)
    report = ReportCallback(ctx.report)
    fresh_ok = not state.trained and state.config == config.to_dict()
    if state.learner is not None and (reuse or fresh_ok):
        learner = state.learner
        learner.clear_cancel()
        # Labels saved since the learner was built are used by this job: re-read the project.
        learner.spec = data_spec(project, top_down=config.top_down,
                                 num_workers=config.num_workers, seed=config.seed)
        learner.set_size(learner.data.size)
        # run_stages reads these from learner.config: follow the form.
        for name in ("wd", "pct_start", "lr_find_iters", "lr_find_each_stage"):
            setattr(learner.config, name, getattr(config, name))
    else:
        state.learner = None
        learner = build_learner(project, copy.deepcopy(config))
        state.learner, state.trained, state.config = learner, False, config.to_dict()
    learner.add_callback(report)
    report.notice(learner)  # setup notices (random init, batch size cut...) at once
    ctx.on_cancel(learner.cancel)
    return learner, report


def training_job(project: Project, config: TrainConfig, state: EngineState,
                 continue_model: bool, predict_images: int = 0) -> Job:
    """Train the recipe ``config`` plans (``StageSettings.to_config``; the engine's planner,
    as the CLI) on a new model, or the previous one for ``continue_model``. Reports the whole
    plan first (:class:`RunPlan`, with ``predict_images`` predictions the panel writes after
    the run), then finds the first stage's learning rate when it has none (one short sweep,
    or the cached one), then trains."""
    config = copy.deepcopy(config)

    def job(ctx: JobContext) -> TrainResult:
        started = time.time()  # the run starts when Start was pressed, sweep included
        learner, report = _attach(project, config, state, ctx, reuse=continue_model)
        try:
            stages = stages_from_config(config, _loaded(learner))
            learner.announce(plan_for(learner, stages, predict_images))
            with recorded_run(learner, started_at=started):
                if stages and needs_lr(stages[0]):
                    try:
                        stages = find_stage_lr(learner, stages, 0)
                    except TrainingCancelled:
                        return TrainResult(learner.run_id, True, None, [s.name for s in stages])
                ctx.report(PreviewReady("batch", batch_cells(learner.data),
                                        "Augmented training batch"))
                state.trained = True
                state.fits += 1
                run_stages(learner, stages)
            cancelled = learner.cancel_requested or learner.state.cancelled
            if not cancelled:
                tiles = _validation_tiles(project, learner)
                ctx.report(PreviewReady("predictions", tiles,
                                        "Validation images: target next to prediction"))
            return TrainResult(learner.run_id, cancelled, learner.recorder.best_metric,
                               [s.name for s in stages])
        finally:
            learner.remove_callback(report)

    return job


def ddp_training_job(project: Project, config: TrainConfig, n_gpus: int,
                     python: str | None = None) -> Job:
    """Train the config's recipe on ``n_gpus`` processes (torchrun child + DDP); progress
    comes from rank 0's log, Stop ends every process."""
    config = copy.deepcopy(config)

    def job(ctx: JobContext) -> TrainResult:
        run = DdpChildRun(Path(project.root), config, n_gpus, python=python)
        ctx.on_cancel(run.stop)
        try:
            run_id = run.run(ctx.report)
        except TrainingError as exc:
            if run.run_id:
                record_launch_failure(project.db, [run.run_id], str(exc))
            raise
        return TrainResult(run_id, run.cancelled or ctx.cancelled, None, [])

    return job


def lr_find_job(project: Project, config: TrainConfig, state: EngineState,
                frozen: bool | None = None, continue_model: bool = False) -> Job:
    """LR sweep on the model the next Start would train (its result arrives as LRFindDone,
    and is remembered so that Start reuses it); ``frozen`` None: as the first stage
    ``config`` plans for the weights really loaded."""
    config = copy.deepcopy(config)

    def job(ctx: JobContext) -> object:
        learner, report = _attach(project, config, state, ctx, reuse=continue_model)
        try:
            stages = stages_from_config(config, _loaded(learner))
            if stages:
                prepare_stage(learner, stages[0])
            if frozen is not None:
                learner.freeze() if frozen else learner.unfreeze()
            learner.announce(RunPlan([PlannedPhase("sweep", config.lr_find_iters)],
                                      learner.data.bs))
            return find_lr(learner, reuse=False)
        finally:
            learner.remove_callback(report)

    return job


def _loaded(learner: Learner) -> bool:
    """Whether the learner's model started from pretrained weights (kept in its config)."""
    return bool(learner.config.extra.get("pretrained_file"))


def show_batch_job(project: Project, config: TrainConfig) -> Job:
    """Build the training loader only (no model) and report one augmented batch."""
    config = copy.deepcopy(config)

    def job(ctx: JobContext) -> None:
        spec = data_spec(project, top_down=config.top_down, seed=config.seed)
        data = spec.build(config.size, config.bs, torch.device("cpu"))
        ctx.report(PreviewReady("batch", batch_cells(data),
                                f"Augmented training batch at {data.size}px"))

    return job


def predict_run_job(project: Project, run_id: str, device: str,
                    images: str | Sequence[str] = "all", precision: str = "auto") -> Job:
    """Write predictions of run ``run_id`` for ``images`` (where the annotator picks them up),
    reporting each batch as PredictProgress; Stop ends it between batches, before anything is
    written."""

    def job(ctx: JobContext) -> Path:
        def progress(done: int, total: int) -> None:
            if ctx.cancelled:
                raise TrainingCancelled("the prediction was stopped; nothing was written")
            ctx.report(PredictProgress(done, total))

        dev = "auto" if device == DDP_DEVICE else device  # predictions run in this process
        return predict_project(project, run_id, images=images, device=dev,
                               progress=progress, precision=precision)

    return job


def _validation_tiles(project: Project, learner: Learner) -> list[Cell]:
    names = list(learner.data.valid_names[:PREVIEW_IMAGES])
    if not names:
        return []
    task = task_name(project.task)
    preds = learner.predict(names)
    images = [load_image(project.image_path(n)) for n in names]
    if task == "segmentation":
        targets = [project.read_mask(n) for n in names]
    else:
        targets = [project.tags(n) for n in names]
    return prediction_cells(images, targets, preds, names, task, learner.data.classes,
                            learner.data.colors, chosen_threshold(learner) or DEFAULT_THRESHOLD)
