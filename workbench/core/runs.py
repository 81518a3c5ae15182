"""Training runs: the record, its status with the legal transitions, and which run is the model.

Torch-free, so the window, the CLI and the store agree on one answer to "which model?":

* :class:`RunStatus` — a run is ``running`` until it ends ``finished``, ``cancelled`` (Stop),
  ``failed`` (an error), ``interrupted`` (its process died: kill -9, power cut) or
  ``rejected`` (a refit that made validation worse; see ``training/refit_guard.py``).
  :data:`TRANSITIONS` lists every legal change; the database refuses the others.
* :func:`current_model` — the run that predict, interpret, rank, refit, export and the window
  use when none is named: the run the user chose ("Use as the model", "keep the refit
  anyway"), else the newest finished run with a model file. A run that finishes becomes the
  current model; a rejected refit never does, so its parent stays current.
* The multi-label decision rule: a tag is predicted when its probability is ``>=`` the run's
  threshold (chosen on validation at the end of training and stored with the run).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.errors import ProjectError
from workbench.core.procs import pid_alive

if TYPE_CHECKING:
    from workbench.core.project import Project

MODELS_DIR = "models"
MODEL_FILE = "last.pt"  # the run's one checkpoint (training/checkpoints.py writes it)
DEFAULT_THRESHOLD = 0.2  # multi-label decision threshold of a run that stored none
CURRENT_MODEL_KEY = "current_model"


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    REJECTED = "rejected"


S = RunStatus
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    S.RUNNING: frozenset({S.FINISHED, S.CANCELLED, S.FAILED, S.INTERRUPTED, S.REJECTED}),
    S.FINISHED: frozenset({S.RUNNING}),  # continued for more epochs in the window
    S.CANCELLED: frozenset({S.RUNNING, S.FAILED}),  # resumed; a torchrun rank died (not Stop)
    S.FAILED: frozenset({S.RUNNING}),  # resumed from its last good epoch
    S.INTERRUPTED: frozenset({S.RUNNING, S.FAILED}),  # resumed
    S.REJECTED: frozenset({S.FINISHED}),  # the user keeps the worse refit anyway
}
"""Legal status changes (setting the same status again is always allowed)."""
ENDED = frozenset(TRANSITIONS) - {S.RUNNING}
# Statuses whose last checkpoint the user may choose as the model. A rejected refit must be
# kept first (rejected -> finished), so its choice is on the record.
CHOOSABLE = frozenset({S.FINISHED, S.CANCELLED, S.INTERRUPTED, S.FAILED})


class RunStateError(ProjectError):
    """A run cannot change to the asked status, or cannot be used as asked."""


class NoModelError(ProjectError):
    """The project has no trained model to use yet."""


def check_transition(run_id: str, old: RunStatus | str, new: RunStatus | str) -> RunStatus:
    """``new`` as a RunStatus when ``old -> new`` is legal; RunStateError naming both if not."""
    old_s, new_s = parse_status(run_id, old), parse_status(run_id, new)
    if old_s != new_s and new_s not in TRANSITIONS[old_s]:
        raise RunStateError(f"run {run_id} is {old_s}; it cannot become {new_s}.")
    return new_s


def parse_status(run_id: str, value: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise RunStateError(f"run {run_id} has an unknown status {value!r} (known: "
                            f"{known}).") from None


def predicted_tags(probs: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Boolean mask of the predicted tags: the one decision rule (``>=``) of metrics, captions,
    tag predictions, top losses, uncertainty and export."""
    return np.asarray(probs) >= threshold


def run_dir(root: str | os.PathLike[str], run_id: str) -> Path:
    return Path(root) / MODELS_DIR / run_id


@dataclass(frozen=True)
class Run:
    """One row of the run history."""

    run_id: str
    created_at: float
    status: RunStatus
    config: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None
    best_metric: float | None = None
    metric_name: str | None = None
    epochs: int = 0
    history: dict[str, Any] | None = None
    error: str | None = None
    parent: str | None = None
    queue_items: list[str] = field(default_factory=list)
    threshold: float | None = None
    # A refit's before/after evaluation and the guard's verdict (training/refit_guard.py).
    guard: dict[str, Any] | None = None
    pid: int | None = None
    host: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Run:
        """From a database row (JSON columns still text); the status must be known."""
        return cls(
            run_id=str(row["run_id"]), created_at=float(row["created_at"]),
            status=parse_status(str(row["run_id"]), row["status"]),
            config=_json(row.get("config"), {}), finished_at=row.get("finished_at"),
            best_metric=row.get("best_metric"), metric_name=row.get("metric_name"),
            epochs=int(row.get("epochs") or 0), history=_json(row.get("history"), None),
            error=row.get("error"), parent=row.get("parent"),
            queue_items=list(_json(row.get("queue_items"), [])),
            threshold=row.get("threshold"), guard=_json(row.get("guard"), None),
            pid=row.get("pid"), host=row.get("host"))

    @property
    def is_refit(self) -> bool:
        return self.parent is not None

    @property
    def decision_threshold(self) -> float:
        """The multi-label threshold to predict with: the run's own, else the default."""
        if self.threshold is not None:
            return float(self.threshold)
        extra = self.config.get("extra") or {}
        return float(extra.get("threshold", DEFAULT_THRESHOLD))

    @property
    def sizes(self) -> list[int]:
        return [int(s) for s in (self.config.get("resize") or [self.config.get("size")]) if s]

    def model_path(self, root: str | os.PathLike[str]) -> Path:
        return run_dir(root, self.run_id) / MODEL_FILE

    def has_model(self, root: str | os.PathLike[str]) -> bool:
        return self.model_path(root).is_file()

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "status": self.status.value, "parent": self.parent,
                "created_at": self.created_at, "finished_at": self.finished_at,
                "epochs": self.epochs, "metric_name": self.metric_name,
                "best_metric": self.best_metric, "threshold": self.threshold,
                "queue_items": list(self.queue_items), "guard": self.guard,
                "error": self.error}


def _json(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return json.loads(value)
    return value


def chosen_model(project: Project) -> str | None:
    """The run id the user (or the last finished run) made the model; None when unset."""
    return project.db.get_meta(CURRENT_MODEL_KEY)


def current_model(project: Project) -> Run | None:
    """The run to predict with when none is named (see the module doc); None: no model yet."""
    runs = project.db.list_runs()
    chosen = chosen_model(project)
    for run in runs:
        if run.run_id == chosen and run.status in CHOOSABLE and run.has_model(project.root):
            return run
    return next((r for r in runs if r.status is RunStatus.FINISHED
                 and r.has_model(project.root)), None)


def current_model_id(project: Project) -> str | None:
    run = current_model(project)
    return None if run is None else run.run_id


def require_model(project: Project, run_id: str | None = None) -> Run:
    """Run ``run_id``, or the current model when None, checked to have a model file."""
    if run_id is None:
        run = current_model(project)
        if run is None:
            raise NoModelError(f"{project.root} has no trained model yet; train one first "
                               "(workbench train, or Start in the window).")
        return run
    run = project.db.get_run(run_id)
    if run is None:
        known = ", ".join(r.run_id for r in project.db.list_runs()[:5]) or "none yet"
        raise NoModelError(f"{project.root} has no run {run_id!r} (newest: {known}).")
    if not run.has_model(project.root):
        raise NoModelError(f"run {run_id} has no model file {run.model_path(project.root)}: "
                           f"it {run.status.value} before its first epoch ended.")
    return run


def choose_model(project: Project, run_id: str) -> Run:
    """Make ``run_id`` the current model ("Use as the model"). A rejected refit is kept
    anyway: it becomes finished, its verdict says so, and the queue items it trained on that
    are still pending count as used by it."""
    run = require_model(project, run_id)
    if run.status is RunStatus.RUNNING:
        raise RunStateError(f"run {run_id} is still running; wait for it or stop it first.")
    if run.status is RunStatus.REJECTED:
        guard = {**(run.guard or {}), "kept_anyway": True}
        project.db.update_run(run_id, status=RunStatus.FINISHED, guard=guard)
        pending = {item.id for item in project.queue.pending()}
        project.queue.mark_used([i for i in guard.get("queue_ids", []) if i in pending], run_id)
    project.db.set_meta(CURRENT_MODEL_KEY, run_id)
    updated = project.db.get_run(run_id)
    assert updated is not None
    return updated


def run_files(project: Project, run_id: str) -> list[Path]:
    """The folders a run owns: its checkpoint folder and its predictions."""
    return [run_dir(project.root, run_id), Path(project.root) / "predictions" / run_id]


def disk_usage(project: Project, run_id: str) -> int:
    """Bytes of the run's files (checkpoint, cached scores, predictions)."""
    total = 0
    for folder in run_files(project, run_id):
        if folder.is_dir():
            total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return total


def delete_run(project: Project, run_id: str) -> int:
    """Delete run ``run_id`` with its files; returns the bytes freed. The current model and a
    running run are refused (choose another model first, or stop the run)."""
    run = project.db.get_run(run_id)
    if run is None:
        raise RunStateError(f"{project.root} has no run {run_id!r}.")
    if run.status is RunStatus.RUNNING:
        raise RunStateError(f"run {run_id} is running; stop it before deleting it.")
    current = current_model(project)
    if current is not None and current.run_id == run_id:
        raise RunStateError(f"run {run_id} is the current model; use another run as the model "
                            "first, then delete it.")
    freed = disk_usage(project, run_id)
    project.db.delete_run(run_id)  # first: a run half deleted must not look usable
    for folder in run_files(project, run_id):
        shutil.rmtree(folder, ignore_errors=True)
    return freed


def interrupt_dead_runs(project: Project) -> list[str]:
    """Runs recorded as running whose process is gone (kill -9, a crash, a power cut) become
    interrupted, so they can be resumed or used. Call only while holding the project's
    exclusive lock: then no other writer runs, except a process whose pid is alive here (a
    distributed run's rank 0 started by a window that has since died)."""
    here = socket.gethostname()
    ended = []
    for run in project.db.list_runs():
        if run.status is not RunStatus.RUNNING:
            continue
        if run.host == here and run.pid is not None and pid_alive(run.pid):
            continue
        where = f"pid {run.pid} on {run.host}" if run.pid is not None else "an older version"
        project.db.update_run(
            run.run_id, status=RunStatus.INTERRUPTED, finished_at=time.time(),
            error=f"its process ({where}) ended without recording an end (killed or crashed); "
                  "resume it, or use its last completed epoch")
        ended.append(run.run_id)
    return ended


def newest_first(runs: Sequence[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: r.created_at, reverse=True)
