"""The mask being edited: label array plus dirty tracking (no Qt, no file I/O)."""

from __future__ import annotations

import numpy as np

from workbench.core.annotation.edit import BBox, Edit, bbox_union
from workbench.core.errors import MaskError

UNLABELLED = 255


class MaskDocument:
    """One image's label mask (uint8 HxW, class index or 255) and whether it has unsaved changes.

    ``changed_box`` accumulates the region touched since the last :meth:`mark_saved`, so a caller
    can tell what needs re-rendering or saving without scanning the mask.
    """

    def __init__(self, mask: np.ndarray, num_classes: int, *, dirty: bool = False) -> None:
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise MaskError(f"a mask must be a 2-D uint8 array, got {mask.dtype} {mask.shape}")
        self.mask = np.ascontiguousarray(mask)
        self.num_classes = int(num_classes)
        self.dirty = dirty
        self.version = 0
        self.changed_box: BBox | None = None

    @classmethod
    def blank(cls, height: int, width: int, num_classes: int) -> MaskDocument:
        """A mask with every pixel unlabelled."""
        return cls(np.full((height, width), UNLABELLED, dtype=np.uint8), num_classes)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.mask.shape[0]), int(self.mask.shape[1]))

    def touch(self, box: BBox | None) -> None:
        """Record that ``box`` changed in place (used by incremental brush strokes)."""
        if box is None:
            return
        self.dirty = True
        self.version += 1
        self.changed_box = bbox_union(self.changed_box, box)

    def apply(self, edit: Edit) -> None:
        edit.apply(self.mask)
        self.touch(edit.bbox)

    def revert(self, edit: Edit) -> None:
        edit.revert(self.mask)
        self.touch(edit.bbox)

    def mark_saved(self) -> None:
        self.dirty = False
        self.changed_box = None
