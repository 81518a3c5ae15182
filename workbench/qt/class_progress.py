"""The status bar's per-class readout: how many labelled images contain each class or tag.

Segmentation needs every mask read once, which must not block opening a large project, so the
first count runs on a private thread pool; after that each save re-counts one image."""

from __future__ import annotations

import threading
from collections.abc import Callable
from html import escape

from PySide6.QtCore import QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QLabel, QWidget

from workbench.core.class_tally import ClassTally
from workbench.core.project import Project, Task

# Up to this many classes are all spelled out in the status bar; beyond it only the class with
# the fewest labelled images is, since that is the one that needs more examples.
SHOWN_CLASSES = 3


class _Job(QRunnable):
    def __init__(self, work: Callable[[], None]) -> None:
        super().__init__()
        self._work = work

    def run(self) -> None:
        self._work()


class ClassProgress(QLabel):
    """A QLabel "nucleus 43/60 · ..." with a tool tip listing every class."""

    tallyReady = Signal(object, int)  # (ClassTally, generation), emitted on the worker thread

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("classProgress")
        self.project = project
        self._tally: ClassTally | None = None
        self._dirty: set[str] = set()  # saved while the background count ran
        self._generation = 0
        self._cancel = threading.Event()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.tallyReady.connect(self._on_tally)  # queued: this object lives on the GUI thread
        self.refresh()

    # -- public ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Count every labelled image again (after an import): masks in the background."""
        self._generation += 1
        self._dirty.clear()
        self._cancel.set()  # a count still running is stale now
        self._cancel = threading.Event()
        if self.project.task is Task.MULTILABEL:  # tags are cached in memory: cheap
            self._show(ClassTally.compute(self.project))
            return
        self._tally = None
        self.setText("Classes: counting…")
        self.setToolTip("Counting the classes in every labelled mask…")
        project, names = self.project, self.project.labelled_names()
        cancel, generation, emit = self._cancel, self._generation, self.tallyReady.emit

        def work() -> None:
            tally = ClassTally.compute(project, names, cancel)
            if cancel.is_set():
                return
            try:
                emit(tally, generation)
            except RuntimeError:  # the label was deleted without stop(): nobody to tell
                return

        self._pool.start(_Job(work))

    def update_image(self, name: str) -> None:
        """Re-count one image after its labels were saved or its status changed."""
        if self._tally is None:
            self._dirty.add(name)  # the background count may have read the old mask
            return
        self._tally.update(self.project, name)
        self._show(self._tally)

    def counts(self) -> dict[str, int] | None:
        """Labelled images per class, or None while the background count runs."""
        return None if self._tally is None else self._tally.counts()

    @property
    def labelled(self) -> int:
        return 0 if self._tally is None else self._tally.labelled

    def is_counting(self) -> bool:
        return self._tally is None

    def stop(self, timeout_ms: int = 5000) -> None:
        """Cancel a running count and wait for it (call before the project closes)."""
        self._generation += 1
        self._cancel.set()
        self._pool.waitForDone(timeout_ms)

    # -- internals -------------------------------------------------------------------------
    def _on_tally(self, tally: ClassTally, generation: int) -> None:
        if generation != self._generation:
            return
        for name in self._dirty:
            tally.update(self.project, name)
        self._dirty.clear()
        self._show(tally)

    def _show(self, tally: ClassTally) -> None:
        self._tally = tally
        counts, total = tally.counts(), tally.labelled
        if len(counts) <= SHOWN_CLASSES:
            self.setText(" · ".join(f"{c} {k}/{total}" for c, k in counts.items()))
        else:
            fewest = min(counts, key=lambda c: counts[c])
            self.setText(f"{len(counts)} classes · fewest: {fewest} {counts[fewest]}/{total}")
        kind = "tag" if self.project.task is Task.MULTILABEL else "class"
        rows = "".join(f"<tr><td>{escape(c)}</td><td align='right'>{k}</td></tr>"
                       for c, k in counts.items())
        self.setToolTip(f"Labelled images containing each {kind} (of {total} labelled):"
                        f"<table>{rows}</table>")
