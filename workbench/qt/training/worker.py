"""Run a training job on a QThread and turn the engine's reports into queued Qt signals.

The engine calls the report sink from the training thread for every batch, so the sink does the
least possible: look up a signal by message type and emit it. Qt queues the emission to the GUI
thread (the receivers live there), which keeps the GUI thread free of training work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from workbench.core.errors import WorkbenchError

log = logging.getLogger(__name__)


class JobContext:
    """What a job gets: the report sink and a thread-safe way to be cancelled."""

    def __init__(self, report: Callable[[object], None]) -> None:
        self.report = report
        self._lock = threading.Lock()
        self._cancelled = False
        self._hooks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Register e.g. ``learner.cancel``; called at once if a stop was already requested."""
        with self._lock:
            self._hooks.append(hook)
            call_now = self._cancelled
        if call_now:
            hook()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            hooks = list(self._hooks)
        for hook in hooks:
            hook()


Job = Callable[[JobContext], object]


def error_kind(exc: BaseException) -> str:
    """Short machine name of an engine error, used by the panel to choose its message."""
    names = {
        "NotEnoughLabelsError": "labels",
        "NonFiniteLossError": "nan",
        "OutOfMemoryError": "oom",
        "TrainingCancelled": "cancelled",
    }
    for cls in type(exc).__mro__:
        if cls.__name__ in names:
            return names[cls.__name__]
    return "error"


class JobSignals(QObject):
    """The signals of a job. The worker emits them on the training thread; the runner relays
    them through a second JobSignals living on the GUI thread, so every receiver (including
    plain Python callables, which PySide calls on the emitting thread) runs on the GUI thread.
    """

    runStarted = Signal()
    fitStarted = Signal(object)
    batchEnded = Signal(object)
    epochEnded = Signal(object)
    fitEnded = Signal(object)
    lrFindStep = Signal(object)
    lrFindDone = Signal(object)
    otherMessage = Signal(object)
    succeeded = Signal(object)  # the job's return value
    failed = Signal(str, str)  # (kind, message); kind from error_kind()
    finished = Signal()  # always last


SIGNAL_NAMES = ("runStarted", "fitStarted", "batchEnded", "epochEnded", "fitEnded",
                "lrFindStep", "lrFindDone", "otherMessage", "succeeded", "failed", "finished")


class TrainingWorker(JobSignals):
    """Lives on the training thread; ``run`` executes the job and reports through signals."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job
        self.context = JobContext(self.report)
        self._signals = {
            "FitStarted": self.fitStarted,
            "BatchEnd": self.batchEnded,
            "EpochEnd": self.epochEnded,
            "FitEnded": self.fitEnded,
            "LRFindStep": self.lrFindStep,
            "LRFindDone": self.lrFindDone,
        }

    def report(self, message: object) -> None:
        """The engine's sink: called on the training thread, so it only emits."""
        self._signals.get(type(message).__name__, self.otherMessage).emit(message)

    def request_stop(self) -> None:
        """Thread-safe: may be called from the GUI thread while ``run`` is busy."""
        self.context.cancel()

    @Slot()
    def run(self) -> None:
        self.runStarted.emit()
        try:
            result = self._job(self.context)
        except WorkbenchError as exc:
            kind = error_kind(exc)
            log.info("training job ended with %s: %s", type(exc).__name__, exc)
            self.failed.emit(kind, str(exc))
        except Exception as exc:  # any crash must reach the user, not kill Qt
            log.exception("training job crashed")
            self.failed.emit(error_kind(exc), f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)
        finally:
            self.finished.emit()


class JobRunner(QObject):
    """Owns one QThread at a time; starts jobs, stops them and waits for them."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._signals: JobSignals | None = None

    @property
    def worker(self) -> TrainingWorker | None:
        return self._worker

    @property
    def signals(self) -> JobSignals | None:
        """GUI-thread relay of the current (or last) job's signals."""
        return self._signals

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def start(self, job: Job, connect: Callable[[JobSignals], None] | None = None
              ) -> JobSignals:
        """Run ``job`` on a new thread; ``connect`` wires the GUI-thread relay of its signals
        before the thread starts (so nothing can be missed). Returns that relay."""
        if self._thread is not None and not self._thread.isFinished():
            raise RuntimeError("a training job is already running; stop it first")
        thread = QThread()
        thread.setObjectName("training")
        worker = TrainingWorker(job)
        worker.moveToThread(thread)
        relay = JobSignals(self)
        for name in SIGNAL_NAMES:
            # Signal-to-signal across threads: queued, re-emitted on the GUI thread in order.
            getattr(worker, name).connect(getattr(relay, name))
        if connect is not None:
            connect(relay)
        thread.started.connect(worker.run)
        # Direct: quit() is thread-safe, and a queued call would never run while the GUI
        # thread blocks in wait() (closing the window during training).
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._thread_finished)
        if self._signals is not None:
            self._signals.deleteLater()
        self._thread, self._worker, self._signals = thread, worker, relay
        thread.start()
        self.busyChanged.emit(True)
        return relay

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.request_stop()

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the thread has ended; True if it did within ``timeout_ms``."""
        if self._thread is None:
            return True
        return self._thread.wait(timeout_ms)

    @Slot()
    def _thread_finished(self) -> None:
        self.busyChanged.emit(False)
