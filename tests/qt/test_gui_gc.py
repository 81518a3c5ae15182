"""GuiThreadCollector: garbage made on another thread is collected on the GUI thread."""

from __future__ import annotations

import gc
import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from workbench.qt.gui_gc import GuiThreadCollector


class Cycle:
    """Garbage only the cyclic collector frees; records the thread that freed it."""

    def __init__(self, freed_on: list[int]) -> None:
        self.me = self
        self.freed_on = freed_on

    def __del__(self) -> None:
        self.freed_on.append(threading.get_ident())


def make_garbage_on_a_thread(freed_on: list[int]) -> int:
    """Drop a cycle on a new thread, then allocate past the collector's threshold there (as a
    training step does); returns that thread's id."""
    ident: list[int] = []

    def work() -> None:
        ident.append(threading.get_ident())
        Cycle(freed_on)
        keep = [[] for _ in range(20 * gc.get_threshold()[0])]
        del keep

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return ident[0]


def test_cycles_dropped_on_a_worker_thread_die_on_the_gui_thread(qtbot) -> None:
    gui = threading.get_ident()
    gc.enable()  # the Qt tests' fixture turns it off; this test needs Python's own behaviour
    gc.collect()

    freed_on: list[int] = []
    worker = make_garbage_on_a_thread(freed_on)
    assert freed_on == [worker]  # Python's automatic collection ran on the worker thread

    collector = GuiThreadCollector(interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()
        freed_on.clear()
        make_garbage_on_a_thread(freed_on)
        assert freed_on == []  # nothing collected on the worker thread
        qtbot.waitUntil(lambda: bool(freed_on), timeout=5000)
        assert freed_on == [gui]
    finally:
        collector.stop()
    assert gc.isenabled()  # handed back as it was


def test_collects_only_when_a_threshold_is_reached(qtbot) -> None:
    collector = GuiThreadCollector(interval_ms=60_000)  # ticks driven by hand
    collector.start()
    try:
        assert collector.collect_due() == 2  # first tick: full collection, then freeze
        gc.collect(0)
        assert collector.collect_due() == -1  # nothing allocated since
        keep = [[] for _ in range(2 * gc.get_threshold()[0])]
        assert collector.collect_due() == 0
        assert collector.collections[0] == 1
        del keep
    finally:
        collector.stop()
