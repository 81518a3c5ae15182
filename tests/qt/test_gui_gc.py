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


def test_generations_are_collected_when_due_and_full_ones_only_after_growth(
        qtbot, monkeypatch) -> None:
    from workbench.qt import gui_gc

    saved = gc.get_threshold()
    gc.set_threshold(50, 1, 1)  # every tick with 50 new objects is due; gen 2 as soon as can be
    collector = GuiThreadCollector(interval_ms=60_000)  # ticks driven by hand
    collector.start()
    keep = []

    def tick_after_allocating() -> int:
        keep.append([[] for _ in range(100)])
        return collector.collect_due()

    try:
        assert collector.collect_due() == 2  # first tick: full collection, then freeze
        assert collector.collect_due() == -1  # nothing allocated since
        ticks = [tick_after_allocating() for _ in range(6)]
        assert ticks == [0, 1, 0, 1, 0, 1]  # gen 2 is due by count, but the heap hardly grew
        blocks = gui_gc.sys.getallocatedblocks()
        monkeypatch.setattr(gui_gc.sys, "getallocatedblocks", lambda: 2 * blocks)
        ticks = [tick_after_allocating() for _ in range(2)]
        assert ticks == [0, 2]  # grown by more than a quarter: a full collection
        assert collector.collections == [4, 3, 2]
    finally:
        collector.stop()
        gc.set_threshold(*saved)


def test_a_forked_child_collects_on_its_own(qtbot) -> None:
    """A DataLoader worker forked from the window has no GUI thread to collect for it."""
    collector = GuiThreadCollector(interval_ms=60_000)
    collector.start()
    try:
        assert not gc.isenabled()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report and leave at once
            os.write(write, b"on" if gc.isenabled() else b"of")
            os._exit(0)
        os.close(write)
        assert os.read(read, 2) == b"on"
        os.waitpid(pid, 0)
        os.close(read)
        assert not gc.isenabled()  # the window's own process is unchanged
    finally:
        collector.stop()
