"""The training side of a run's life (the record and its rules are ``core/runs.py``).

* :func:`open_run` — a run's checkpoint, loaded safely and checked against the project's task
  and classes: the one way predict, interpret, rank, export and refit get a model.
* :func:`start_run` / :func:`end_run` / :func:`recorded_run` — the run record from the moment
  Start was pressed (so a run stopped during its LR sweep is in the history too) to its end.
  Ending a run normally chooses its multi-label decision threshold on validation, marks it
  finished (the current model) and slims its checkpoint to the model alone.
* :class:`RunHistoryCallback` — mirrors each epoch into the record while it trains.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn

from workbench.core.runs import Run, RunStatus, require_model
from workbench.training import checkpoints
from workbench.training.data import task_name
from workbench.training.distributed import is_main
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.events import Callback

if TYPE_CHECKING:
    from workbench.core.project import Project
    from workbench.training.learner import Learner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenedRun:
    """A run's record and its checkpoint (already checked against the project)."""

    run: Run
    ckpt: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def task(self) -> str:
        return str(self.ckpt["task"])

    @property
    def classes(self) -> list[str]:
        return list(self.ckpt["classes"])

    @property
    def size(self) -> int:
        return int(self.ckpt["size"])

    @property
    def threshold(self) -> float:
        """The multi-label decision threshold the run stored (``>=`` predicts a tag)."""
        return self.run.decision_threshold

    def model(self) -> nn.Module:
        from workbench.training.predict import load_model

        return load_model(self.ckpt)


def open_run(project: Project, run_id: str | None = None) -> OpenedRun:
    """Run ``run_id`` (None: the current model) with its checkpoint; a TrainingError names the
    run when its task or classes no longer match the project."""
    run = require_model(project, run_id)
    ckpt = checkpoints.load(run.model_path(project.root))
    if task_name(ckpt["task"]) != task_name(project.task):
        raise TrainingError(f"run {run.run_id} is a {task_name(ckpt['task'])} model but "
                            f"{project.root} is a {task_name(project.task)} project.")
    if list(ckpt["classes"]) != list(project.classes):
        raise TrainingError(f"run {run.run_id} was trained on classes {ckpt['classes']} but "
                            f"the project now has {project.classes}; train a new model.")
    return OpenedRun(run, ckpt)


def _db_write(what: str, run_id: str, fn: Any, **fields: Any) -> None:
    """A database hiccup (locked, disk full) is logged, never allowed to kill training."""
    try:
        fn(run_id, **fields)
    except Exception:
        log.warning("Could not %s run %s in the project database", what, run_id, exc_info=True)


def start_run(learner: Learner, *, started_at: float | None = None,
              parent: str | None = None) -> None:
    """Record ``learner``'s run as running (a new record started at ``started_at``, or an
    existing one continued / resumed); from now on the caller ends it (:func:`end_run`).
    DDP: rank 0 keeps the record."""
    for cb in learner.callbacks:
        if isinstance(cb, RunHistoryCallback):
            cb.managed = True
    _record_start(learner, started_at, parent)


def is_recorded(learner: Learner) -> bool:
    """Whether a recorded run (:func:`start_run`) holds this learner now."""
    return any(isinstance(cb, RunHistoryCallback) and cb.managed for cb in learner.callbacks)


def _record_start(learner: Learner, started_at: float | None, parent: str | None) -> None:
    project = learner.project
    if project is None or not is_main():
        return
    db = project.db
    if db.get_run(learner.run_id) is None:
        _db_write("record", learner.run_id, db.add_run, config=learner.config.to_dict(),
                  created_at=started_at, parent=parent, pid=os.getpid(),
                  host=socket.gethostname())
    else:
        _db_write("restart", learner.run_id, db.update_run, status=RunStatus.RUNNING,
                  finished_at=None, error=None, pid=os.getpid(), host=socket.gethostname())
    if learner.spec is not None and learner.spec.label_versions:
        # A team project's labels move on while this trains: record what it read.
        _db_write("pin the labels of", learner.run_id, project.pin_labels,
                  versions=learner.spec.label_versions)


def chosen_threshold(learner: Learner) -> float | None:
    """Multi-label: the validation sweep's best threshold at the last epoch; else None."""
    if task_name(learner.data.task) != "multilabel" or not learner.recorder.epochs:
        return None
    value = learner.recorder.epochs[-1].get("best_thresh")
    return float(value) if value is not None and math.isfinite(value) else None


def end_run(learner: Learner, status: RunStatus | None = None, *,
            error: str | None = None, **fields: Any) -> RunStatus:
    """Record the end of ``learner``'s run. ``status`` None: cancelled when a stop was asked,
    else finished. A run trained to its end (finished, or a rejected refit) stores its
    threshold and keeps only the model in its checkpoint: it is never resumed."""
    if status is None:
        status = (RunStatus.CANCELLED if learner.cancel_requested or learner.state.cancelled
                  else RunStatus.FINISHED)
    project = learner.project
    if project is None or not is_main():
        return status
    if status in (RunStatus.FINISHED, RunStatus.REJECTED):  # trained to the end
        threshold = chosen_threshold(learner)
        if threshold is not None:
            fields["threshold"] = threshold
        slim_checkpoint(learner, threshold)
    if error is not None:
        fields["error"] = error
    # The config as it ended: what the run found on its own (the swept rate, the precision).
    _db_write("end", learner.run_id, project.db.update_run, status=status,
              finished_at=time.time(), config=learner.config.to_dict(), **fields)
    return status


def slim_checkpoint(learner: Learner, threshold: float | None) -> None:
    """Rewrite the run's checkpoint without optimizer state (two thirds of its size with Adam):
    a finished run is predicted with, exported or refitted, never resumed."""
    if learner.checkpoint_dir is None:
        return
    path = learner.checkpoint_dir / checkpoints.LAST
    if path.is_file():
        checkpoints.save(learner, path, optimizer=False, threshold=threshold)


@contextmanager
def ends_on_error(learner: Learner) -> Iterator[None]:
    """Record the run as cancelled (TrainingCancelled) or failed (any other error) when the
    body raises and nothing recorded the end yet; the error goes on."""
    try:
        yield
    except TrainingCancelled:
        if _still_running(learner):
            end_run(learner, RunStatus.CANCELLED)
        raise
    except BaseException as exc:
        if _still_running(learner):
            status = RunStatus.CANCELLED if learner.state.cancelled else RunStatus.FAILED
            end_run(learner, status, error=str(exc) or type(exc).__name__)
        raise


@contextmanager
def recorded_run(learner: Learner, *, started_at: float | None = None) -> Iterator[None]:
    """Start the record, run the body (the stages), end the record however the body ends."""
    start_run(learner, started_at=started_at)
    try:
        with ends_on_error(learner):
            yield
        if _still_running(learner):
            end_run(learner)
    finally:  # later direct fits of this learner are runs of their own again
        for cb in learner.callbacks:
            if isinstance(cb, RunHistoryCallback):
                cb.managed = False


def _still_running(learner: Learner) -> bool:
    """False when a callback already recorded the end (a failed or cancelled fit)."""
    project = learner.project
    if project is None or not is_main():
        return False
    try:
        run = project.db.get_run(learner.run_id)
    except Exception:
        log.warning("Could not read run %s", learner.run_id, exc_info=True)
        return True
    return run is not None and run.status is RunStatus.RUNNING


class RunHistoryCallback(Callback):
    """Mirrors the run into the project database while it trains: history per epoch, and a
    fit that was stopped or failed. Inside a run started with :func:`start_run` (``managed``)
    the normal end is :func:`end_run`'s, as only the code running the stages knows whether
    more follow; a learner fitted directly (``learner.fit_one_cycle``) records each fit as a
    run of its own that finishes with the fit."""

    order = 20

    def __init__(self, project: Project, run_id: str) -> None:
        self.project, self.run_id = project, run_id
        self.managed = False

    def _update(self, **fields: Any) -> None:
        if is_main():  # DDP: rank 0 keeps the record
            _db_write("update", self.run_id, self.project.db.update_run, **fields)

    def before_fit(self, learn: Learner) -> None:
        if not self.managed and not learn.state.lr_find:
            _record_start(learn, None, None)

    @staticmethod
    def _progress(learn: Learner) -> dict[str, Any]:
        rec = learn.recorder
        fields: dict[str, Any] = {"epochs": len(rec.epochs), "history": {"epochs": rec.epochs}}
        if rec.best_metric is not None:
            fields.update(best_metric=rec.best_metric, metric_name=rec.main_metric)
        return fields

    def after_epoch(self, learn: Learner) -> None:
        if not learn.state.lr_find:
            self._update(**self._progress(learn))

    def after_fit(self, learn: Learner) -> None:
        st = learn.state
        if st.lr_find:
            return
        if not (st.cancelled or st.error):
            if not self.managed:
                end_run(learn, RunStatus.FINISHED)
            return
        # The epochs too: a stop (SIGTERM) may land between an epoch's checkpoint and its row.
        if st.error is not None:
            self._update(status=RunStatus.FAILED, finished_at=time.time(), error=str(st.error),
                         **self._progress(learn))
        else:
            self._update(status=RunStatus.CANCELLED, finished_at=time.time(),
                         **self._progress(learn))

