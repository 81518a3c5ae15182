"""Python's cyclic garbage collector, run on the GUI thread only.

Automatic collection starts at whichever allocation crosses the threshold, on whichever thread
made it. While a model trains that is mostly the training thread, and a collection there
destroys the unreachable Qt objects it finds (a closed dialog, old plot items, a finished job's
worker) from the wrong thread, which Qt forbids (timers cannot be stopped from another thread;
widgets must die on the GUI thread): a stress run of the tests deadlocked exactly there. The
app therefore turns automatic collection off and runs generational collections from a
GUI-thread timer instead.

A full collection walks every tracked object: with torch loaded that is ~375,000 objects and
0.1-0.5 s on the GUI thread. So, like CPython (which waits until the long-lived objects grew by
a quarter), a due full collection runs only once the heap grew by a quarter since the last one
(``sys.getallocatedblocks``, O(1)) or after FULL_EVERY_S; otherwise the middle generation is
collected. The first tick also freezes what start-up built, which later collections then skip.
"""

from __future__ import annotations

import gc
import os
import sys
import time

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250
GROWTH_FOR_FULL = 1.25
FULL_EVERY_S = 300.0
_active = 0  # started collectors (the stress tests nest them)


def _collect_in_forked_child() -> None:
    # A forked child (a DataLoader worker) has no GUI thread and no timer: Python collects there.
    if _active:
        gc.enable()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_collect_in_forked_child)


class GuiThreadCollector(QObject):
    """While alive (and started), cyclic garbage is collected on the GUI thread only."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self.collections = [0, 0, 0]  # per generation, for tests and diagnostics
        self._frozen = False
        self._blocks_after_full = 0
        self._last_full = 0.0

    def start(self) -> None:
        global _active
        if self._timer.isActive():
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        _active += 1
        self._timer.start()

    def stop(self) -> None:
        """Python collects automatically again if it did before :meth:`start`. What the first
        tick froze stays in the permanent generation (never collected)."""
        global _active
        if not self._timer.isActive():
            return
        self._timer.stop()
        _active -= 1
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int:
        """Collect the generation that is due; returns it, or -1 when none was."""
        if not self._frozen:  # first tick: the event loop runs, the window is up
            self._frozen = True
            self._full()
            gc.freeze()
            return 2
        counts = gc.get_count()
        if counts[0] < self._thresholds[0]:
            return -1
        generation = 0
        if counts[1] >= self._thresholds[1]:
            generation = 1
            if counts[2] >= self._thresholds[2] and self._full_is_worth_it():
                self._full()
                return 2
        gc.collect(generation)
        self.collections[generation] += 1
        return generation

    def _full_is_worth_it(self) -> bool:
        grown = sys.getallocatedblocks() > GROWTH_FOR_FULL * self._blocks_after_full
        return grown or time.monotonic() - self._last_full > FULL_EVERY_S

    def _full(self) -> None:
        gc.collect()
        self.collections[2] += 1
        self._blocks_after_full = sys.getallocatedblocks()
        self._last_full = time.monotonic()
