"""The jobs the panel runs on its training thread: train stages, LR finder, show batch, predict.

Each factory returns a callable taking a :class:`JobContext`; it reports through the engine's
``ReportCallback`` (and :class:`PreviewReady` for image tiles) and registers ``learner.cancel``
so Stop ends the work within one batch. No Qt in here.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from workbench.core.imageio import load_image
from workbench.qt.training.engine_state import EngineState
from workbench.qt.training.worker import Job, JobContext
from workbench.training.config import TrainConfig
from workbench.training.data import data_spec, task_name
from workbench.training.learner import Learner
from workbench.training.predict import predict_project
from workbench.training.reports import ReportCallback
from workbench.training.session import build_learner, run_stages, stages_from_config
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



def _attach(project: Project, config: TrainConfig, state: EngineState, ctx: JobContext,
            reuse: bool) -> tuple[Learner, ReportCallback]:
    """The learner to work on, with a ReportCallback to ``ctx.report`` attached."""
    report = ReportCallback(ctx.report)
    fresh_ok = not state.trained and state.config == config.to_dict()
    if state.learner is not None and (reuse or fresh_ok):
        learner = state.learner
        learner.clear_cancel()
        # Labels saved since the learner was built are used by this job: re-read the project.
        learner.spec = data_spec(project, top_down=config.top_down,
                                 num_workers=config.num_workers, seed=config.seed)
        learner.set_size(learner.data.size)
        # wd and pct_start are read from learner.config by run_stages: follow the form.
        learner.config.wd, learner.config.pct_start = config.wd, config.pct_start
    else:
        state.learner = None
        learner = build_learner(project, copy.deepcopy(config))
        state.learner, state.trained, state.config = learner, False, config.to_dict()
    learner.add_callback(report)
    report.notice(learner)  # setup notices (random init, batch size cut...) at once
    ctx.on_cancel(learner.cancel)
    return learner, report


def training_job(project: Project, config: TrainConfig, state: EngineState,
                 continue_model: bool) -> Job:
    """Train the recipe ``config`` plans (``StageSettings.to_config``; the engine's planner,
    as the CLI) on a new model, or the previous one for ``continue_model``."""
    config = copy.deepcopy(config)

    def job(ctx: JobContext) -> TrainResult:
        learner, report = _attach(project, config, state, ctx, reuse=continue_model)
        try:
            stages = stages_from_config(config, _loaded(learner))
            ctx.report(PreviewReady("batch", batch_cells(learner.data), "Augmented training batch"))
            state.trained = True
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


def lr_find_job(project: Project, config: TrainConfig, state: EngineState,
                frozen: bool | None = None, continue_model: bool = False,
                num_it: int = 100) -> Job:
    """LR sweep on the model the next Start would train (its result arrives as LRFindDone);
    ``frozen`` None: as the first stage ``config`` plans for the weights really loaded."""
    config = copy.deepcopy(config)

    def job(ctx: JobContext) -> object:
        learner, report = _attach(project, config, state, ctx, reuse=continue_model)
        try:
            freeze = frozen
            if freeze is None:
                stages = stages_from_config(config, _loaded(learner))
                freeze = bool(stages) and stages[0].frozen
            learner.freeze() if freeze else learner.unfreeze()
            return learner.lr_find(num_it=num_it)
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


def predict_run_job(project: Project, run_id: str, device: str) -> Job:
    """Write predictions of run ``run_id`` for every image (where the annotator picks them up)."""

    def job(ctx: JobContext) -> Path:
        return predict_project(project, run_id, images="all", device=device)

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
                            learner.data.colors)
