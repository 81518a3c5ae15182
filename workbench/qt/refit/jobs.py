"""The loop's jobs for the training thread: find the mistakes of a run, refit on the queue.

Plain callables over a :class:`JobContext` (no Qt here), run by the training panel's
JobRunner so they never overlap a training run. Imported on first use: they pull in torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.qt.training.worker import Job, JobContext
from workbench.training.interpret import (
    Interpretation,
    interpret_run,
    item_cells,
    load_interpretation,
)
from workbench.training.predict import predict_project
from workbench.training.refit import RefitResult, RefitSettings, refit
from workbench.training.reports import ReportCallback
from workbench.training.uncertainty import rank_unlabelled
from workbench.training.visualize import Cell

if TYPE_CHECKING:
    from workbench.core.project import Project

THUMB_SIDE = 112


@dataclass(frozen=True)
class ScoringProgress:
    """``done`` of ``total`` images scored (reported as the worker's otherMessage)."""

    done: int
    total: int
    what: str = "Scoring validation images"


@dataclass
class MistakesResult:
    interp: Interpretation
    cells: list[list[Cell]] = field(default_factory=list)  # per shown item, its tiles
    cached: bool = False


def mistakes_job(project: Project, run_id: str | None, device: str, top: int,
                 use_cache: bool = False) -> Job:
    """Score the validation images of ``run_id`` (or read the cached scores) and make the
    thumbnails of the ``top`` highest losses."""

    def job(ctx: JobContext) -> MistakesResult | None:
        interp = load_interpretation(project, run_id) if use_cache and run_id else None
        cached = interp is not None
        if interp is None:
            if use_cache:
                return None  # nothing cached: the user starts scoring with the button
            interp = interpret_run(
                project, run_id, device=device,
                progress=lambda done, total: ctx.report(ScoringProgress(done, total)),
                should_stop=lambda: ctx.cancelled)
        items = interp.items[:top]
        cells = []
        for n, item in enumerate(items):
            cells.append(item_cells(project, interp, item, side=THUMB_SIDE))
            ctx.report(ScoringProgress(n + 1, len(items), "Drawing thumbnails"))
        return MistakesResult(interp, cells, cached)

    return job


def refit_job(project: Project, parent_run: str | None, settings: RefitSettings) -> Job:
    """Refit ``parent_run`` on the pending queue; the panel's live plots follow its reports."""

    def job(ctx: JobContext) -> RefitResult:
        report = ReportCallback(ctx.report)
        return refit(project, parent_run, settings, callbacks=[report],
                     progress=lambda done, total: ctx.report(
                         ScoringProgress(done, total, "Predicting every image")),
                     should_stop=lambda: ctx.cancelled)

    return job


def rank_job(project: Project, run_id: str | None, device: str) -> Job:
    """Score the unlabelled images' uncertainty with ``run_id`` (stored in workbench.db)."""

    def job(ctx: JobContext) -> list[tuple[str, float]]:
        return rank_unlabelled(
            project, run_id, device=device,
            progress=lambda done, total: ctx.report(
                ScoringProgress(done, total, "Scoring unlabelled images")),
            should_stop=lambda: ctx.cancelled)

    return job


def predict_and_rank_job(project: Project, run_id: str, device: str) -> Job:
    """After a refit was kept anyway: its predictions of every image and uncertainty scores,
    as an accepted refit writes them."""

    def job(ctx: JobContext) -> list[tuple[str, float]]:
        def progress(done: int, total: int) -> None:
            ctx.report(ScoringProgress(done, total, "Predicting every image"))

        predict_project(project, run_id, "all", device=device, progress=progress)
        return rank_unlabelled(project, run_id, device=device,
                               should_stop=lambda: ctx.cancelled)

    return job
