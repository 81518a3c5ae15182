"""Progress bar with stage, epoch/batch and ETA, updated from buffered batch reports."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QProgressBar, QWidget

from workbench.qt.training.epoch_table import format_seconds


class ProgressTracker:
    """Qt-free ETA bookkeeping: iterations done over all stages of a job vs wall time."""

    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self.reset(0)

    def reset(self, total_iters: int) -> None:
        self.total = max(0, int(total_iters))
        self.done = 0
        self._start = self._clock()

    def update(self, done: int) -> None:
        self.done = max(self.done, int(done))

    def eta_seconds(self) -> float | None:
        if self.done <= 0 or self.total <= 0:
            return None
        elapsed = self._clock() - self._start
        return elapsed / self.done * max(0, self.total - self.done)


class TrainingProgress(QProgressBar):
    """``trainProgress``: 'stage · epoch e/E · batch b/B · ETA mm:ss'."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainProgress")
        self.tracker = ProgressTracker()
        self.stage = ""
        self.epochs = 0
        self.batches = 0
        self._offset = 0  # iterations of the job's earlier stages
        self._planned_epochs = 0  # all stages of the job, so the ETA covers the whole recipe
        self._epochs_started = 0
        self.set_idle("Idle")

    def set_idle(self, text: str) -> None:
        self.setRange(0, 1)
        self.setValue(0)
        self.setFormat(text)

    def set_busy(self, text: str) -> None:
        """Indeterminate bar (building data, LR finder without per-step reports)."""
        self.setRange(0, 0)
        self.setFormat(text)

    def start_job(self, planned_epochs: int = 0) -> None:
        self.tracker.reset(0)
        self._offset = 0
        self._planned_epochs, self._epochs_started = planned_epochs, 0

    def start_stage(self, stage: str, epochs: int, batches_per_epoch: int,
                    total_iters: int) -> None:
        self._offset = self.tracker.done
        remaining = self._planned_epochs - self._epochs_started
        if remaining >= epochs:
            # Later stages have not reported yet: assume they run as many batches per epoch.
            self.tracker.total = self._offset + remaining * batches_per_epoch
        else:
            self.tracker.total = self._offset + total_iters
        self._epochs_started += epochs
        self.stage, self.epochs, self.batches = stage, epochs, batches_per_epoch
        self.setRange(0, max(1, self.tracker.total))
        self.setValue(self._offset)
        self.setFormat(f"{stage}: starting…")

    def show_batch(self, epoch: int, batch: int, iteration: int) -> None:
        """epoch and batch 0-based, iteration = batches done in this stage."""
        self.tracker.update(self._offset + iteration)
        self.setValue(min(self.maximum(), self.tracker.done))
        eta = self.tracker.eta_seconds()
        eta_text = "" if eta is None else f" · ETA {format_seconds(eta)}"
        self.setFormat(f"{self.stage} · epoch {epoch + 1}/{self.epochs} · "
                       f"batch {batch + 1}/{self.batches}{eta_text}")

    def show_steps(self, text: str, done: int, total: int) -> None:
        """A job counted in steps, e.g. 'Finding the learning rate · batch 37/100'."""
        self.setRange(0, max(1, total))
        self.setValue(min(done, total))
        self.setFormat(f"{text} {done}/{total}")

    def finish(self, text: str) -> None:
        self.setRange(0, 1)
        self.setValue(1)
        self.setFormat(text)
