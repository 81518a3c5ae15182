"""Runs the loop's jobs on the training panel's JobRunner (one training thread per window):
scoring for the Mistakes view, and the refit with the panel's live plots."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from workbench.qt.refit.mistakes import MistakesView
from workbench.qt.refit.refit_panel import RefitControls
from workbench.qt.training.worker import JobSignals

log = logging.getLogger(__name__)


def _loop_jobs():
    """Imported on first use: the jobs pull in torch (seconds)."""
    from workbench.qt.refit import jobs

    return jobs


def selected_or_newest_run(panel: QObject) -> str | None:
    """The run selected in History, else the newest finished one (None: no run yet)."""
    selected = panel.history.selected_run_id()
    if selected:
        return selected
    for run in panel.project.db.list_runs():
        if run.get("status") == "finished":
            return str(run.get("run_id") or run.get("id"))
    return None


def show_plots(panel: QObject) -> None:
    """Bring the tab holding the live plots to the front."""
    tabs = panel.tabs
    for i in range(tabs.count()):
        widget = tabs.widget(i)
        if widget is panel.plots or widget.isAncestorOf(panel.plots):
            tabs.setCurrentIndex(i)
            return


class MistakesController(QObject):
    """Keeps the Mistakes view on the run selected in History (else the newest finished one)
    and scores it on the panel's training thread."""

    failed = Signal(str)

    def __init__(self, panel: QObject, view: MistakesView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel, self.view = panel, view
        self._running = self._again = False
        view.scoreRequested.connect(lambda: self.score(use_cache=False))
        panel.history.tree.itemSelectionChanged.connect(self.follow_history)
        panel.runner.busyChanged.connect(self._busy_changed)
        if hasattr(panel, "runFinished"):
            panel.runFinished.connect(lambda _run: self.follow_history())
        self.follow_history()

    def current_run(self) -> str | None:
        return selected_or_newest_run(self.panel)

    def follow_history(self) -> None:
        run = self.current_run()
        if run != self.view.run_id:
            self.view.set_run(run)
            if run is not None and self.view.isVisible():
                self.score(use_cache=True)

    def score(self, use_cache: bool = False) -> bool:
        """Start scoring (or loading the cached scores of) the view's run; False if busy."""
        run = self.view.run_id
        if run is None:
            return False
        if self.panel.runner.is_running():
            if self._running and not use_cache:
                self._again = True  # asked while our cache load runs: score right after it
            return False
        job = _loop_jobs().mistakes_job(self.panel.project, run, self.panel.form.config.device,
                                        self.view.top_box.value(), use_cache=use_cache)
        self._start(job)
        return True

    def _start(self, job: Callable) -> None:
        def connect(relay: JobSignals) -> None:
            relay.otherMessage.connect(self._on_message)
            relay.succeeded.connect(self._on_result)
            relay.failed.connect(self._on_failed)
            relay.finished.connect(self._on_finished)

        self.view.show_progress(0, 1, "Starting")
        self._running = True
        self.panel.runner.start(job, connect=connect)

    def _on_finished(self) -> None:
        self._running = False
        self.view.hide_progress()

    def _busy_changed(self, busy: bool) -> None:
        self.view.set_busy(busy)
        if not busy and self._again:  # the thread has ended: the runner takes a new job
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
    """The Refit button: refit on the panel's thread with its live plots, then before/after,
    the new run selected in History and the queue items shown as done."""

    started = Signal()  # the live plots are worth showing now
    finished = Signal(object)  # the RefitResult, or None when it failed / was stopped

    def __init__(self, panel: QObject, controls: RefitControls, queue_model: QObject,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel, self.controls, self.queue_model = panel, controls, queue_model
        controls.refitRequested.connect(self.refit)
        panel.runner.busyChanged.connect(lambda _b: self._sync())
        queue_model.modelReset.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        self.controls.set_busy(self.panel.runner.is_running(), self.queue_model.pending_count())

    def refit(self, epochs: int, lr: float, replay: float) -> bool:
        panel = self.panel
        run = selected_or_newest_run(panel)
        if panel.runner.is_running():
            self.controls.status.setText("A job is running on the training thread; stop it or "
                                         "wait for it first.")
            return False
        if run is None:
            self.controls.status.setText("No finished run to refit: train a model first.")
            return False
        jobs = _loop_jobs()
        settings = jobs.RefitSettings(epochs=epochs, lr=lr or None, replay=replay,
                                      device=panel.form.config.device,
                                      precision=panel.form.config.precision)
        panel.monitor.begin(False, epochs)
        show_plots(panel)
        self.controls.status.setText(f"Refitting run <b>{run}</b> on "
                                     f"{self.queue_model.pending_count()} image(s)…")
        panel.runner.start(jobs.refit_job(panel.project, run, settings), connect=self._connect)
        self.started.emit()
        return True

    def _connect(self, relay: JobSignals) -> None:
        self.panel.monitor.connect_worker(relay)
        relay.succeeded.connect(self._on_result)
        relay.failed.connect(self._on_failed)
        relay.finished.connect(self._on_finished)

    def _on_result(self, result: object) -> None:
        self.controls.show_result(result)
        self.panel.refresh_history()
        self.panel.history.select_run(result.run)
        self.queue_model.reload()
        self.finished.emit(result)

    def _on_failed(self, kind: str, text: str) -> None:
        title = "Refit stopped" if kind == "cancelled" else "Refit failed"
        self.controls.status.setText(f"<b>{title}</b>: {text}")
        self.finished.emit(None)

    def _on_finished(self) -> None:
        self.panel.monitor.end()
        failed = self.controls.status.text().startswith("<b>Refit failed")
        self.panel.progress.finish("Failed" if failed else "Done")
        self.panel.refresh_history()
        self._sync()


def rank_unlabelled_on(panel: QObject, on_done: Callable[[object], None],
                       on_failed: Callable[[str], None]) -> bool:
    """Rank the unlabelled images with the selected / newest run on the panel's thread."""
    run = selected_or_newest_run(panel)
    if run is None or panel.runner.is_running():
        return False
    panel.progress.set_busy("Scoring unlabelled images…")

    def connect(relay: JobSignals) -> None:
        relay.succeeded.connect(on_done)
        relay.failed.connect(lambda _kind, text: on_failed(text))
        relay.finished.connect(lambda: panel.progress.finish("Done"))

    job = _loop_jobs().rank_job(panel.project, run, panel.form.config.device)
    panel.runner.start(job, connect=connect)
    return True
