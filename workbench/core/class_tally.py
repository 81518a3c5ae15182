"""Per-class progress: how many labelled images contain each class (segmentation) or carry each
tag (multilabel). Shared by ``workbench info`` and the window's progress readout."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.manifest import Status, Task

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)

def mask_pixel_counts(mask: np.ndarray, n_classes: int) -> np.ndarray:
    """Pixels per class index, with unlabelled (and any out-of-range) pixels in the last bin."""
    flat = mask.ravel()
    binned = np.where((flat == UNLABELLED_VALUE) | (flat >= n_classes), n_classes, flat)
    return np.bincount(binned, minlength=n_classes + 1)[: n_classes + 1]


class ClassTally:
    """The classes present in each labelled image, kept so one image can be re-counted after a
    save without reading every mask again. ``counts()`` sums them per class."""

    def __init__(self, classes: Iterable[str]) -> None:
        self.classes = list(classes)
        self._present: dict[str, frozenset[str]] = {}

    @classmethod
    def compute(cls, project: Project, names: Iterable[str] | None = None,
                cancel: threading.Event | None = None) -> ClassTally:
        """Tally ``names`` (default: the labelled images). Segmentation reads every mask, so it
        checks ``cancel`` between images; multilabel reads the cached tags only."""
        tally = cls(project.classes)
        names = project.labelled_names() if names is None else list(names)
        if project.task is Task.MULTILABEL:
            all_tags = project.all_tags()
            for name in names:
                tally.set_image(name, all_tags.get(name, []))
            return tally
        for name in names:
            if cancel is not None and cancel.is_set():
                break
            tally._count_mask(project, name)
        return tally

    def _count_mask(self, project: Project, name: str) -> None:
        try:
            mask = project.read_mask(name)
        except WorkbenchError as exc:  # one unreadable mask must not stop the others' counts
            log.warning("class tally skips %s: %s", name, exc)
            mask = None
        if mask is None:
            self.discard(name)
            return
        present = mask_pixel_counts(mask, len(self.classes))[: len(self.classes)] > 0
        self.set_image(name, [c for c, p in zip(self.classes, present) if p])

    def set_image(self, name: str, classes: Iterable[str]) -> None:
        """Record the classes one labelled image contains."""
        self._present[name] = frozenset(classes)

    def discard(self, name: str) -> None:
        """Forget an image (it became unlabelled)."""
        self._present.pop(name, None)

    def update(self, project: Project, name: str) -> None:
        """Re-count one image after its mask or tags were saved (or cleared)."""
        if project.status(name) not in (Status.LABELLED, Status.REVIEWED):
            self.discard(name)
        elif project.task is Task.MULTILABEL:
            self.set_image(name, project.tags(name))
        else:
            self._count_mask(project, name)

    @property
    def labelled(self) -> int:
        """How many labelled images the tally covers."""
        return len(self._present)

    def counts(self) -> dict[str, int]:
        """Labelled images containing each class, in class order."""
        result = dict.fromkeys(self.classes, 0)
        for present in self._present.values():
            for c in present:
                if c in result:
                    result[c] += 1
        return result
