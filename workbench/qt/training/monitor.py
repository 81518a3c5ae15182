"""Feeds a worker's reports into the plots, the progress bar and the epoch table.

Handlers only append to buffers; a timer redraws the plots and the progress text 10 times a
second (``REFRESH_HZ``), so the GUI's cost does not grow with the batch rate. The progress text
and the time left come from the engine's :class:`RunEstimate`, fed every report of the job, so
the text always names the phase the job is in (sweep, stage, validation, predictions).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.qt.training.epoch_table import EpochRow, EpochTable
from workbench.qt.training.plots import REFRESH_HZ, LivePlots
from workbench.qt.training.progress import TrainingProgress
from workbench.qt.training.worker import JobSignals
from workbench.training.eta import RunEstimate


class RunMonitor(QObject):
    """Owns the live view of one job; ``begin`` decides whether earlier curves are kept."""

    stageStarted = Signal(str)

    def __init__(self, plots: LivePlots, progress: TrainingProgress, table: EpochTable,
                 classes: Sequence[str] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plots, self.progress, self.table = plots, progress, table
        # Per-class metrics ("iou_nucleus") go to the table only; the plot shows summaries.
        self._class_suffixes = tuple(f"_{c}" for c in classes)
        self._offset = 0  # batches plotted before the current fit (x of its first batch - 1)
        self._batches_per_epoch = 0
        self._stage = ""
        self._planned_epochs = 0
        self._first_fit = True
        self._last_batch: object | None = None
        self.batches_seen = 0
        self.stages_started = 0  # fits started in the current job
        self.last_batch_time = 0.0
        self.estimate = RunEstimate()
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / REFRESH_HZ))
        self._timer.timeout.connect(self._tick)

    def begin(self, keep_history: bool, planned_epochs: int = 0) -> None:
        """A job starts: keep the curves when it continues the same model (they then match
        that model's recorder), else clear everything."""
        if not keep_history:
            self.plots.reset(list(self.plots.metric_curves))  # same curves, emptied
            self.table.table_model.reset()
        self.track(new_estimate=True)
        self._planned_epochs = planned_epochs
        self._first_fit = True
        self.batches_seen = 0
        self.stages_started = 0
        self._last_batch = None

    def track(self, new_estimate: bool, predict_label: str | None = None,
              waiting: str = "") -> None:
        """A job starts: follow its progress (``new_estimate`` False: it continues the last
        job's plan, as the predictions written after a run do; ``waiting`` says what it does
        until its first report)."""
        if new_estimate:
            self.estimate = RunEstimate()
        elif waiting:
            self.estimate.between(waiting)
        if predict_label is not None:
            self.estimate.predict_label = predict_label
        self._timer.start()

    def end(self) -> None:
        self._timer.stop()
        self._tick()
        self.plots.refresh()

    def connect_worker(self, worker: JobSignals) -> None:
        """Every message of the job goes to the estimate (cheap: a little bookkeeping); the
        training ones also to the plots and the table."""
        for signal in (worker.fitStarted, worker.batchEnded, worker.epochEnded,
                       worker.fitEnded, worker.lrFindStep, worker.lrFindDone,
                       worker.otherMessage):
            signal.connect(self.estimate_message)
        worker.fitStarted.connect(self.on_fit_started)
        worker.batchEnded.connect(self.on_batch)
        worker.epochEnded.connect(self.on_epoch)

    def estimate_message(self, msg: object) -> None:
        self.estimate(msg)

    def plotted(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if not n.endswith(self._class_suffixes)]

    def on_fit_started(self, msg: object) -> None:
        names = self.plotted(msg.metric_names)
        if not self.plots.buffers.iters and list(self.plots.metric_curves) != names:
            self.plots.reset(names)
        else:
            for name in names:
                self.plots.buffers.metrics.setdefault(name, [])
        self.table.table_model.set_metric_names(list(msg.metric_names))
        self._offset = len(self.plots.buffers.iters)
        self._last_batch = None  # a batch of the previous stage must not count in this one
        if self._offset:
            self.plots.mark_stage(self._offset + 0.5, str(msg.stage))
        self._batches_per_epoch = int(msg.batches_per_epoch)
        if self._first_fit and self._planned_epochs:
            epochs_before = len(self.plots.buffers.valid_losses)
            self.plots.set_x_span(self._offset + self._planned_epochs * self._batches_per_epoch,
                                  epochs_before + self._planned_epochs)
        self._first_fit = False
        self._stage = str(msg.stage)
        self.stages_started += 1
        self.stageStarted.emit(self._stage)

    def on_batch(self, msg: object) -> None:
        # BatchEnd.iteration is 0-based within this fit; x is 1-based over the model's history.
        self.plots.add_batch(self._offset + msg.iteration + 1, msg.lr, msg.mom, msg.loss,
                             msg.smooth_loss)
        self._last_batch = msg
        self.batches_seen += 1
        self.last_batch_time = time.monotonic()

    def on_epoch(self, msg: object) -> None:
        x = self._offset + (self._epoch_in_fit(msg) + 1) * self._batches_per_epoch
        shown = {k: v for k, v in msg.metrics.items() if k in self.plots.metric_curves}
        self.plots.add_epoch(float(x), msg.valid_loss, shown)
        self.table.table_model.append(EpochRow(int(msg.epoch), msg.train_loss, msg.valid_loss,
                                               dict(msg.metrics), msg.seconds, self._stage))

    def _epoch_in_fit(self, msg: object) -> int:
        # EpochEnd.epoch counts over the model's whole history; place the valid point at the
        # end of the latest batch seen in this epoch instead of assuming full epochs.
        last = self._last_batch
        return int(last.epoch) if last is not None else 0

    def _tick(self) -> None:
        text = self.estimate.text()
        if text:  # until the job's first report the bar keeps its "Preparing…" text
            self.progress.show_estimate(text, self.estimate.fraction())
        self.plots.refresh()
