"""What the corrections loop's controllers need from the training side, and nothing more.

The training panel implements it; the Mistakes, Refit and ranking controllers only talk to this
protocol, so the panel's layout and widgets can change without breaking them (and a type
checker catches a misspelt call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from workbench.core.project import Project
    from workbench.qt.training.worker import Job, JobSignals


class JobHost(Protocol):
    """The one training thread of a window, and the run that is the model."""

    project: Project
    busyChanged: SignalInstance  # (bool) a job started / the thread ended
    modelChanged: SignalInstance  # (str) the current model changed ("" when there is none)
    runsChanged: SignalInstance  # () a job ended or a run was chosen / deleted

    def is_busy(self) -> bool:
        """A job holds the training thread."""
        ...

    def device(self) -> str:
        """The device the training settings ask for ("auto", "cpu", "cuda:0", ...)."""
        ...

    def precision(self) -> str:
        """The precision the training settings ask for ("auto", "fp32", "bf16")."""
        ...

    def current_model_id(self) -> str | None:
        """The run predict, interpret, rank and refit use (core.runs.current_model)."""
        ...

    def start_job(self, job: Job, connect: Callable[[JobSignals], None], *,
                  live_epochs: int | None = None, busy_text: str = "") -> bool:
        """Run ``job`` on the training thread; False when it is busy. ``live_epochs``: the
        job trains, and the live plots follow it like a training run of that many epochs."""
        ...

    def show_run(self, run_id: str) -> None:
        """Refresh the run history and select ``run_id`` in it."""
        ...

    def show_message(self, level: str, text: str) -> None:
        """A message in the training panel's banner (level: ok, info, warning, error)."""
        ...
