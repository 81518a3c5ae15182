"""Runs the loop's jobs on the training side's one thread (a :class:`JobHost`): scoring for the
Mistakes view, the refit with the live plots, and ranking. Every job uses the current model
(``core.runs.current_model``), the same run the CLI's commands use by default."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from workbench.qt.refit.job_host import JobHost
from workbench.qt.refit.mistakes import MistakesView
from workbench.qt.refit.refit_panel import RefitControls
from workbench.qt.training.worker import Job, JobSignals

log = logging.getLogger(__name__)


def _loop_jobs() -> Any:
    """Imported on first use: the jobs pull in torch (seconds)."""
    from workbench.qt.refit import jobs

    return jobs


class MistakesController(QObject):
    """Keeps the Mistakes view on the current model and scores it on the training thread."""

    failed = Signal(str)

    def __init__(self, host: JobHost, view: MistakesView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host, self.view = host, view
        self._running = self._again = False
        view.scoreRequested.connect(lambda: self.score(use_cache=False))
        host.modelChanged.connect(lambda _run: self.follow_model())
        host.busyChanged.connect(self._busy_changed)
        self.follow_model()

    def follow_model(self) -> None:
        run = self.host.current_model_id()
        if run != self.view.run_id:
            self.view.set_run(run)
            if run is not None and self.view.isVisible():
                self.score(use_cache=True)

    def score(self, use_cache: bool = False) -> bool:
        """Start scoring (or loading the cached scores of) the view's run; False if busy."""
        run = self.view.run_id
        if run is None:
            return False
        if self.host.is_busy():
            if self._running and not use_cache:
                self._again = True  # asked while our cache load runs: score right after it
            return False
        job = _loop_jobs().mistakes_job(self.host.project, run, self.host.device(),
                                        self.view.top_box.value(), use_cache=use_cache)
        self.view.show_progress(0, 1, "Starting")
        self._running = self.host.start_job(job, self._connect)
        return self._running

    def _connect(self, relay: JobSignals) -> None:
        relay.otherMessage.connect(self._on_message)
        relay.succeeded.connect(self._on_result)
        relay.failed.connect(self._on_failed)
        relay.finished.connect(self._on_finished)

    def _on_finished(self) -> None:
        self._running = False
        self.view.hide_progress()

    def _busy_changed(self, busy: bool) -> None:
        self.view.set_busy(busy)
        if not busy and self._again:  # the thread has ended: the host takes a new job
            self._again = False
            self.score(use_cache=False)

    def _on_message(self, msg: object) -> None:
        if isinstance(msg, _loop_jobs().ScoringProgress):
            self.view.show_progress(msg.done, msg.total, msg.what)

    def _on_result(self, result: object) -> None:
        if result is not None:
            self.view.show_result(result)

    def _on_failed(self, kind: str, text: str) -> None:
        log.info("finding mistakes ended (%s): %s", kind, text)
        self.view.run_label.setText(f"<b>Could not find the mistakes</b>: {text}")
        self.failed.emit(text)


class RefitController(QObject):
    """The Refit button: refit the current model on the host's thread with the live plots,
    then the before/after table with the guard's verdict, and "Use the refit anyway"."""

    started = Signal()  # the live plots are worth showing now
    finished = Signal(object)  # the RefitResult, or None when it failed / was stopped

    def __init__(self, host: JobHost, controls: RefitControls, queue_model: QObject,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host, self.controls, self.queue_model = host, controls, queue_model
        self.parent_run: str | None = None
        controls.refitRequested.connect(self.refit)
        controls.keepRequested.connect(self.keep_anyway)
        host.busyChanged.connect(lambda _b: self._sync())
        host.modelChanged.connect(lambda _r: self._sync())
        queue_model.modelReset.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        self.controls.set_busy(self.host.is_busy(), self.queue_model.pending_count(),
                               self.host.current_model_id())

    def refit(self, epochs: int, lr: float, replay: float) -> bool:
        run = self.host.current_model_id()
        if self.host.is_busy():
            self.controls.status.setText("A job is running on the training thread; stop it or "
                                         "wait for it first.")
            return False
        if run is None:
            self.controls.status.setText("No model to refit: train one first.")
            return False
        jobs = _loop_jobs()
        settings = jobs.RefitSettings(epochs=epochs, lr=lr or None, replay=replay,
                                      device=self.host.device(),
                                      precision=self.host.precision())
        self.parent_run = run
        self.controls.status.setText(f"Refitting run <b>{run}</b> (the current model) on "
                                     f"{self.queue_model.pending_count()} image(s)…")
        self.host.start_job(jobs.refit_job(self.host.project, run, settings), self._connect,
                            live_epochs=epochs)
        self.started.emit()
        return True

    def _connect(self, relay: JobSignals) -> None:
        relay.succeeded.connect(self._on_result)
        relay.failed.connect(self._on_failed)

    def _on_result(self, result: Any) -> None:
        self.controls.show_result(result)
        self.host.show_run(result.run)
        self.queue_model.reload()
        verdict = result.verdict
        if result.accepted:
            self.host.show_message("ok", f"Refit run {result.run} kept: it is the current "
                                   "model; its predictions are written to predictions/"
                                   f"{result.run}.")
        else:
            self.host.show_message("warning", f"Refit run {result.run} rejected: "
                                   f"{'; '.join(verdict.reasons)}. Kept the previous model "
                                   f"{result.parent}.")
        self.finished.emit(result)

    def _on_failed(self, kind: str, text: str) -> None:
        title = "Refit stopped" if kind == "cancelled" else "Refit failed"
        self.controls.status.setText(f"<b>{title}</b>: {text}")
        self.finished.emit(None)

    def keep_anyway(self, run_id: str) -> bool:
        """The guard rejected ``run_id``: make it the current model all the same, then write
        its predictions and uncertainty scores on the host's thread."""
        from workbench.core.errors import WorkbenchError
        from workbench.core.runs import choose_model

        if self.host.is_busy():
            self.controls.status.setText("A job is running on the training thread; wait for "
                                         "it first.")
            return False
        try:
            choose_model(self.host.project, run_id)
        except WorkbenchError as exc:
            self.controls.status.setText(f"<b>Could not keep the refit</b>: {exc}")
            return False
        self.controls.show_kept(run_id)
        self.queue_model.reload()
        self.host.show_run(run_id)
        self.host.show_message("ok", f"Refit run {run_id} kept anyway: it is the current model.")
        job = _loop_jobs().predict_and_rank_job(self.host.project, run_id, self.host.device())
        return self.host.start_job(job, lambda _relay: None,
                                   busy_text=f"Predicting with run {run_id}…")


def rank_unlabelled_on(host: JobHost, on_done: Callable[[object], None],
                       on_failed: Callable[[str], None]) -> bool:
    """Rank the unlabelled images with the current model on the host's thread."""
    run = host.current_model_id()
    if run is None or host.is_busy():
        return False

    def connect(relay: JobSignals) -> None:
        relay.succeeded.connect(on_done)
        relay.failed.connect(lambda _kind, text: on_failed(text))

    job: Job = _loop_jobs().rank_job(host.project, run, host.device())
    return host.start_job(job, connect, busy_text="Scoring unlabelled images…")
