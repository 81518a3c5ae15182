"""The training panel's side of :class:`workbench.qt.refit.job_host.JobHost`, and the run
history's actions ("Use as the model", "Delete").

It keeps track of the current model (``core.runs.current_model``, the one rule the CLI uses
too) and says when it changes, so the Mistakes view, the Refit button and predictions follow
the same run.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from workbench.core.errors import WorkbenchError
from workbench.core.runs import choose_model, current_model, delete_run, disk_usage

if TYPE_CHECKING:
    from workbench.qt.training.panel import TrainingPanel
    from workbench.qt.training.worker import Job, JobSignals

log = logging.getLogger(__name__)


class TrainingHost(QObject):
    """One per training panel (``panel.host``)."""

    busyChanged = Signal(bool)
    modelChanged = Signal(str)
    runsChanged = Signal()

    def __init__(self, panel: TrainingPanel) -> None:
        super().__init__(panel)
        self._panel = panel
        self.project = panel.project
        self._model: str | None = None
        self._live = self._shows_progress = False
        self._outcome = "Done"
        panel.runner.busyChanged.connect(self.busyChanged)

    # -- JobHost -------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._panel.runner.is_running()

    def device(self) -> str:
        return self._panel.form.config.device

    def precision(self) -> str:
        return self._panel.form.config.precision

    def current_model_id(self) -> str | None:
        try:
            run = current_model(self.project)
        except (sqlite3.Error, WorkbenchError) as exc:  # a locked database must not break it
            log.warning("could not read the current model: %s", exc)
            return self._model
        return run.run_id if run is not None else None

    def start_job(self, job: Job, connect: Callable[[JobSignals], None], *,
                  live_epochs: int | None = None, busy_text: str = "") -> bool:
        panel = self._panel
        if self.is_busy():
            return False
        self._live, self._outcome = live_epochs is not None, "Done"
        self._shows_progress = self._live or bool(busy_text)
        if live_epochs is not None:
            panel.monitor.begin(False, live_epochs)
            panel.show_plots()
        elif busy_text:
            panel.progress.set_busy(busy_text)

        def wire(relay: JobSignals) -> None:
            if self._live:
                panel.monitor.connect_worker(relay)
            relay.failed.connect(self._job_failed)
            connect(relay)
            relay.finished.connect(self._job_finished)

        panel.runner.start(job, connect=wire)
        return True

    def show_run(self, run_id: str) -> None:
        self._panel.refresh_history()
        self._panel.history.select_run(run_id)

    def show_message(self, level: str, text: str) -> None:
        self._panel.show_message(level, text)

    # -- bookkeeping -----------------------------------------------------------------------
    def runs_refreshed(self, model: str | None) -> None:
        """The panel re-read the run history; ``model`` is the current model now."""
        self.runsChanged.emit()
        if model != self._model:
            self._model = model
            self.modelChanged.emit(model or "")

    def _job_failed(self, kind: str, _text: str) -> None:
        self._outcome = "Stopped" if kind == "cancelled" else "Failed"

    def _job_finished(self) -> None:
        if self._live:
            self._panel.monitor.end()
        if self._shows_progress:
            self._panel.progress.finish(self._outcome)
        self._panel.refresh_history()

    # -- the history's actions -------------------------------------------------------------
    def use_run(self, run_id: str) -> bool:
        """Make ``run_id`` the current model (a rejected refit is kept anyway), then predict
        the unlabelled images with it as after training."""
        try:
            run = choose_model(self.project, run_id)
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
            return False
        self._panel.refresh_history()
        self.show_message("ok", f"Run {run.run_id} is the current model: predictions, "
                          "Mistakes and Refit use it.")
        self._panel.predict_after_choice(run.run_id)
        return True

    def delete_run(self, run_id: str, confirm: bool = True) -> bool:
        """Delete a run that is not the current model, with its files (asks first)."""
        if confirm:
            size = disk_usage(self.project, run_id) / 2**20
            answer = QMessageBox.question(
                self._panel, "Delete run",
                f"Delete run {run_id} with its checkpoint and predictions ({size:.1f} MB)? "
                "This cannot be undone.")
            if answer != QMessageBox.StandardButton.Yes:
                return False
        try:
            freed = delete_run(self.project, run_id)
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
            return False
        self._panel.refresh_history()
        self.show_message("info", f"Deleted run {run_id} ({freed / 2**20:.1f} MB freed).")
        return True
