"""Python's cyclic garbage collector, run on the GUI thread only.

Automatic collection starts at whichever allocation crosses the threshold, on whichever thread
made it. While a model trains that is mostly the training thread, and a collection there
destroys the unreachable Qt objects it finds (a closed dialog, old plot items, a finished job's
worker) from the wrong thread, which Qt forbids (timers cannot be stopped from another thread;
widgets must die on the GUI thread) and which crashes at random. The app therefore turns
automatic collection off and runs the same generational collections from a GUI-thread timer.
The first tick also freezes what start-up built (torch, Qt, the window), so later full
collections walk only what the session made since.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """While alive (and started), cyclic garbage is collected on the GUI thread only."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self.collections = [0, 0, 0]  # per generation, for tests and diagnostics
        self._frozen = False

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Hand collection back to Python (as it was before start)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int:
        """Collect the oldest generation whose threshold is reached, as Python's automatic
        collection would have; returns the generation collected, or -1 when none was due."""
        if not self._frozen:  # first tick: the event loop runs, the window is up
            self._frozen = True
            gc.collect()
            gc.freeze()
            self.collections[2] += 1
            return 2
        counts = gc.get_count()
        if counts[0] < self._thresholds[0]:
            return -1
        generation = 0
        if counts[1] >= self._thresholds[1]:
            generation = 2 if counts[2] >= self._thresholds[2] else 1
        gc.collect(generation)
        self.collections[generation] += 1
        return generation
