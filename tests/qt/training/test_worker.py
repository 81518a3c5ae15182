"""The worker/thread skeleton with plain callables: signal order, errors, stop, threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time

from PySide6.QtCore import QThread

from workbench.qt.training.worker import JobContext, JobRunner, error_kind
from workbench.training.errors import NonFiniteLossError, NotEnoughLabelsError, OutOfMemoryError
from workbench.training.reports import BatchEnd, EpochEnd, FitEnded, FitStarted


def fake_fit(ctx: JobContext, batches: int = 3) -> str:
    ctx.report(FitStarted("fit", 1, batches, batches, ["acc"], "run-x"))
    for i in range(batches):
        ctx.report(BatchEnd(0, i, i, batches, 1e-3, 0.9, 1.0, 1.0))
    ctx.report(EpochEnd(0, 1.0, 0.9, {"acc": 0.5}, 0.1))
    ctx.report(FitEnded(False, None, "run-x", 0.5))
    return "done"


def test_signals_arrive_in_strict_order_on_gui_thread(qtbot):
    runner = JobRunner()
    threads: dict[str, object] = {}

    def job(ctx: JobContext) -> str:
        threads["job"] = threading.current_thread()
        return fake_fit(ctx)

    holder = {}

    def connect(w):
        # Connected before the thread starts, so no emission can be missed.
        holder["blocker"] = qtbot.waitSignals(
            [w.runStarted, w.fitStarted, w.batchEnded, w.batchEnded, w.batchEnded,
             w.epochEnded, w.fitEnded, w.succeeded, w.finished], order="strict", timeout=5000)
        w.batchEnded.connect(lambda _m: threads.setdefault("slot", QThread.currentThread()))
        w.succeeded.connect(lambda result: threads.setdefault("result", result))

    main_thread = QThread.currentThread()
    runner.start(job, connect)
    blocker = holder["blocker"]
    blocker.wait()
    assert blocker.signal_triggered and threads["result"] == "done"
    assert runner.wait(2000)
    assert threads["job"] is not threading.main_thread()
    assert threads["slot"] == main_thread  # queued to the GUI thread, not called on the worker


def test_engine_errors_become_failed_with_kind(qtbot):
    runner = JobRunner()

    def job(ctx: JobContext) -> None:
        raise NotEnoughLabelsError("label 2 more images", labelled=1, needed=2)

    holder = {}

    def connect(w):
        holder["blocker"] = qtbot.waitSignals([w.failed, w.finished], order="strict",
                                              timeout=5000)
        w.failed.connect(lambda kind, text: holder.setdefault("failed", (kind, text)))

    runner.start(job, connect)
    blocker = holder["blocker"]
    blocker.wait()
    assert blocker.signal_triggered
    assert holder["failed"] == ("labels", "label 2 more images")
    assert runner.wait(2000)
    assert error_kind(NonFiniteLossError("nan", 0, 0, 0)) == "nan"
    assert error_kind(OutOfMemoryError("smaller batch")) == "oom"
    assert error_kind(KeyError("x")) == "error"


def test_stop_calls_cancel_hooks_and_runner_waits(qtbot):
    runner = JobRunner()
    steps: list[int] = []

    def job(ctx: JobContext) -> int:
        stop = threading.Event()
        ctx.on_cancel(stop.set)
        for i in range(1000):
            if stop.is_set():
                break
            steps.append(i)
            time.sleep(0.005)
        return len(steps)

    with qtbot.waitSignal(runner.busyChanged, timeout=2000):
        runner.start(job)
    assert runner.signals is not None
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=5000)
    assert runner.is_running()
    runner.stop()
    assert runner.wait(5000)
    assert 3 <= len(steps) < 1000 and not runner.is_running()
    late = []
    runner.worker.context.on_cancel(lambda: late.append(1))  # registered after stop: runs now
    assert late == [1]
