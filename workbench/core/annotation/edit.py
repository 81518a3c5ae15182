"""Mask edits: the unit of undo, redo and the crash journal.

A :class:`MaskEdit` stores the changed rectangle's old and new values, so applying and reverting
are exact inverses and memory scales with the edited area, never with the image size. A long
brush stroke becomes an :class:`EditGroup` of small tiles rather than one huge bounding box (a
diagonal stroke across a 4096² image would otherwise store 16 MB twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from workbench.core.errors import MaskError

#: (y0, x0, y1, x1): rows y0..y1-1 and columns x0..x1-1, numpy slicing order.
BBox = tuple[int, int, int, int]


def bbox_union(a: BBox | None, b: BBox | None) -> BBox | None:
    """Smallest box containing both (either may be None)."""
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def clip_bbox(box: BBox, shape: tuple[int, ...]) -> BBox | None:
    """Clip to the array shape; None when nothing is left."""
    y0, x0 = max(box[0], 0), max(box[1], 0)
    y1, x1 = min(box[2], shape[0]), min(box[3], shape[1])
    if y0 >= y1 or x0 >= x1:
        return None
    return (y0, x0, y1, x1)


class Edit(Protocol):
    """What the document, the history and the journal need from any edit."""

    @property
    def bbox(self) -> BBox: ...

    @property
    def nbytes(self) -> int: ...

    def apply(self, mask: np.ndarray) -> None: ...

    def revert(self, mask: np.ndarray) -> None: ...

    def parts(self) -> Iterator[MaskEdit]: ...


@dataclass(frozen=True, eq=False)
class MaskEdit:
    """Old and new values of one rectangle of a mask."""

    bbox: BBox
    old: np.ndarray
    new: np.ndarray

    def __post_init__(self) -> None:
        y0, x0, y1, x1 = self.bbox
        shape = (y1 - y0, x1 - x0)
        if self.old.shape != shape or self.new.shape != shape:
            raise MaskError(
                f"edit arrays {self.old.shape}/{self.new.shape} do not match bbox {self.bbox}"
            )

    @classmethod
    def capture(cls, mask: np.ndarray, bbox: BBox, new: np.ndarray) -> MaskEdit:
        """Edit that sets ``bbox`` of ``mask`` to ``new`` (old values copied from ``mask``)."""
        y0, x0, y1, x1 = bbox
        return cls(bbox, mask[y0:y1, x0:x1].copy(), np.ascontiguousarray(new, dtype=np.uint8))

    @property
    def nbytes(self) -> int:
        return int(self.old.nbytes + self.new.nbytes)

    def _view(self, mask: np.ndarray) -> np.ndarray:
        y0, x0, y1, x1 = self.bbox
        if y1 > mask.shape[0] or x1 > mask.shape[1]:
            raise MaskError(f"edit bbox {self.bbox} lies outside a mask of shape {mask.shape}")
        return mask[y0:y1, x0:x1]

    def apply(self, mask: np.ndarray) -> None:
        self._view(mask)[...] = self.new

    def revert(self, mask: np.ndarray) -> None:
        self._view(mask)[...] = self.old

    def is_noop(self) -> bool:
        return bool(np.array_equal(self.old, self.new))

    def parts(self) -> Iterator[MaskEdit]:
        yield self

    def inverse(self) -> MaskEdit:
        return MaskEdit(self.bbox, self.new, self.old)


class EditGroup:
    """Several disjoint rectangles changed together (one brush stroke = one undo step)."""

    def __init__(self, edits: Iterable[MaskEdit]) -> None:
        self.edits: tuple[MaskEdit, ...] = tuple(edits)
        if not self.edits:
            raise MaskError("an edit group needs at least one rectangle")
        box: BBox | None = None
        for edit in self.edits:
            box = bbox_union(box, edit.bbox)
        assert box is not None
        self._bbox: BBox = box

    @property
    def bbox(self) -> BBox:
        return self._bbox

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self.edits)

    def apply(self, mask: np.ndarray) -> None:
        for edit in self.edits:
            edit.apply(mask)

    def revert(self, mask: np.ndarray) -> None:
        # Reverse order makes this exact even if rectangles overlapped.
        for edit in reversed(self.edits):
            edit.revert(mask)

    def parts(self) -> Iterator[MaskEdit]:
        return iter(self.edits)

    def inverse(self) -> EditGroup:
        return EditGroup(e.inverse() for e in reversed(self.edits))


def diff_edit(before: np.ndarray, after: np.ndarray) -> MaskEdit | None:
    """Edit turning ``before`` into ``after`` over the bbox of changed pixels (None if equal)."""
    if before.shape != after.shape:
        raise MaskError(f"cannot diff masks of shapes {before.shape} and {after.shape}")
    changed = before != after
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed[rows[0] : rows[-1] + 1].any(axis=0))
    box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    y0, x0, y1, x1 = box
    return MaskEdit(box, before[y0:y1, x0:x1].copy(), after[y0:y1, x0:x1].copy())
