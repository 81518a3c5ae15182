"""Corrections: an image opened "as a correction" lands in the queue when its labels are saved.

The tracker remembers the labels as they were when the image was opened (mask or tags), and
on every save of that image replaces its one queue item with the diff from that baseline, so
many autosaves still make exactly one item, holding everything changed since opening.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.project import Project, Task
from workbench.core.queue import QueueItem, mask_change, tag_change


@dataclass
class Correction:
    image: str
    run_id: str | None
    score: float | None
    reason: str
    baseline: np.ndarray | list[str] | None
    item_id: int | None = None


class CorrectionTracker(QObject):
    """Turns saves of images opened as corrections into queue items (one per image)."""

    queued = Signal(str)  # image name, after its queue item was written

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.segmentation = Task(project.task) == Task.SEGMENTATION
        self._active: dict[str, Correction] = {}

    def begin(self, image: str, *, run_id: str | None = None, score: float | None = None,
              reason: str = "top loss") -> Correction:
        """Remember ``image``'s current (saved) labels; call before it is opened for editing."""
        correction = Correction(image, run_id, score, reason, self._labels(image))
        self._active[image] = correction
        return correction

    def is_correction(self, image: str) -> bool:
        return image in self._active

    def forget_others(self, open_image: str | None) -> None:
        """The annotator moved on: corrections of images no longer open are complete."""
        for name in [n for n in self._active if n != open_image]:
            del self._active[name]

    def labels_saved(self, image: str) -> QueueItem | None:
        """Slot for the workspace's ``labelsSaved``: queue (or update) the correction."""
        correction = self._active.get(image)
        if correction is None:
            return None
        change = self.change_since(correction.baseline, image)
        queue = self.project.queue
        if not _changed(change):
            if correction.item_id is not None:  # undone back to where it started
                queue.remove([correction.item_id])
                correction.item_id = None
            return None
        item = queue.add(image, reason=correction.reason, score=correction.score,
                         run_id=correction.run_id, change=change)
        correction.item_id = item.id
        self.queued.emit(image)
        return item

    def add_by_hand(self, image: str, *, run_id: str | None = None) -> QueueItem:
        """Queue ``image`` now (menu action / key); with its diff if it is an open correction."""
        correction = self._active.get(image)
        if correction is not None:
            change = self.change_since(correction.baseline, image)
            item = self.project.queue.add(image, reason=correction.reason,
                                          score=correction.score,
                                          run_id=correction.run_id or run_id, change=change)
            correction.item_id = item.id
        else:
            item = self.project.queue.add(image, reason="added by hand", run_id=run_id)
        self.queued.emit(image)
        return item

    def change_since(self, baseline: Any, image: str) -> dict[str, Any]:
        if self.segmentation:
            new = self.project.read_mask(image)
            if new is None:
                return {"pixels": {}, "total": 0}
            if baseline is None:  # first labels of this image: every labelled pixel is new
                baseline = np.full_like(new, UNLABELLED_VALUE)
            return mask_change(baseline, new, self.project.classes)
        return tag_change(baseline or [], self.project.tags(image))

    def _labels(self, image: str) -> np.ndarray | list[str] | None:
        if self.segmentation:
            mask = self.project.read_mask(image)
            return None if mask is None else mask.copy()
        return list(self.project.tags(image))


def _changed(change: dict[str, Any]) -> bool:
    if "total" in change:
        return change["total"] > 0
    return bool(change.get("added") or change.get("removed"))
