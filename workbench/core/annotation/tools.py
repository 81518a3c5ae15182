"""Painting tools as pure functions: positions in, :class:`MaskEdit` out (the mask is not touched).

Positions are image coordinates in pixels (x to the right, y down, pixel ``(r, c)`` covering
``[c, c+1) x [r, r+1)``). Brush positions are snapped to pixel centres so a stroke is the same at
any zoom. :class:`BrushStroke` is the incremental form the canvas uses while the mouse moves: it
paints each segment in place and costs O(brush area) per move, independent of the image size.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from workbench.core.annotation.edit import BBox, EditGroup, MaskEdit, bbox_union, clip_bbox
from workbench.core.errors import MaskError
from workbench.core.instances import label_components

UNLABELLED = 255
Point = tuple[float, float]
#: Side of the tiles a stroke's undo data is kept in; small enough that a long thin stroke
#: stores little more than its own area, large enough to keep the tile count low.
STROKE_TILE = 64


def _snap(p: Point) -> Point:
    return (math.floor(p[0]) + 0.5, math.floor(p[1]) + 0.5)


def segment_bbox(p0: Point, p1: Point, radius: float) -> BBox:
    """Pixel box covering a brush segment (unclipped)."""
    r = math.ceil(radius) + 1
    return (
        math.floor(min(p0[1], p1[1])) - r,
        math.floor(min(p0[0], p1[0])) - r,
        math.floor(max(p0[1], p1[1])) + r + 1,
        math.floor(max(p0[0], p1[0])) + r + 1,
    )


def capsule(p0: Point, p1: Point, radius: float, box: BBox) -> np.ndarray:
    """Boolean footprint in ``box`` of pixels whose centre lies within ``radius`` of segment p0-p1.

    Sweeping a disc along the segment is what makes fast strokes gap-free.
    """
    y0, x0, y1, x1 = box
    cy = (np.arange(y0, y1, dtype=np.float32) + 0.5)[:, None]
    cx = (np.arange(x0, x1, dtype=np.float32) + 0.5)[None, :]
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        px, py = cx - p0[0], cy - p0[1]
    else:
        t = np.clip(((cx - p0[0]) * dx + (cy - p0[1]) * dy) / length2, 0.0, 1.0)
        px, py = cx - (p0[0] + t * dx), cy - (p0[1] + t * dy)
    # Radius 0.5 (a 1 px brush) must still cover the pixel under the cursor.
    return px * px + py * py <= max(radius, 0.5) ** 2 + 1e-6


def _check_value(value: int) -> int:
    if not 0 <= int(value) <= 255:
        raise MaskError(f"label value {value} is outside 0..255")
    return int(value)


def brush(mask: np.ndarray, points: Sequence[Point], radius: float, value: int) -> MaskEdit | None:
    """Edit painting ``value`` along the polyline through ``points`` with a round brush."""
    value = _check_value(value)
    pts = [_snap(p) for p in points]
    if not pts:
        return None
    segments = list(itertools.pairwise(pts)) or [(pts[0], pts[0])]
    union: BBox | None = None
    for p0, p1 in segments:
        union = bbox_union(union, segment_bbox(p0, p1, radius))
    assert union is not None
    box = clip_bbox(union, mask.shape)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    footprint = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for p0, p1 in segments:
        seg = clip_bbox(segment_bbox(p0, p1, radius), mask.shape)
        if seg is not None:
            sub = footprint[seg[0] - y0 : seg[2] - y0, seg[1] - x0 : seg[3] - x0]
            sub |= capsule(p0, p1, radius, seg)
    old = mask[y0:y1, x0:x1]
    new = np.where(footprint, np.uint8(value), old)
    edit = MaskEdit(box, old.copy(), new)
    return None if edit.is_noop() else edit


def erase(mask: np.ndarray, points: Sequence[Point], radius: float) -> MaskEdit | None:
    """The eraser: a brush that paints "unlabelled" (255)."""
    return brush(mask, points, radius, UNLABELLED)


class BrushStroke:
    """A brush stroke in progress, painted into ``mask`` in place as the mouse moves.

    The old values of each touched tile are copied the first time the stroke reaches it, so
    :meth:`finish` can return the stroke as one exact, compact undo step.
    """

    def __init__(self, mask: np.ndarray, radius: float, value: int, tile: int = STROKE_TILE):
        self.mask = mask
        self.radius = float(radius)
        self.value = np.uint8(_check_value(value))
        self.tile = tile
        self._last: Point | None = None
        self._old: dict[tuple[int, int], np.ndarray] = {}

    def _tile_box(self, key: tuple[int, int]) -> BBox:
        t = self.tile
        y0, x0 = key[0] * t, key[1] * t
        return (y0, x0, min(y0 + t, self.mask.shape[0]), min(x0 + t, self.mask.shape[1]))

    def add_point(self, x: float, y: float) -> BBox | None:
        """Paint the segment from the previous point to (x, y); return the changed box."""
        p1 = _snap((x, y))
        p0 = self._last or p1
        self._last = p1
        box = clip_bbox(segment_bbox(p0, p1, self.radius), self.mask.shape)
        if box is None:
            return None
        t = self.tile
        for ty in range(box[0] // t, (box[2] - 1) // t + 1):
            for tx in range(box[1] // t, (box[3] - 1) // t + 1):
                if (ty, tx) not in self._old:
                    ty0, tx0, ty1, tx1 = self._tile_box((ty, tx))
                    self._old[(ty, tx)] = self.mask[ty0:ty1, tx0:tx1].copy()
        y0, x0, y1, x1 = box
        self.mask[y0:y1, x0:x1][capsule(p0, p1, self.radius, box)] = self.value
        return box

    def finish(self) -> EditGroup | None:
        """The whole stroke as one undo step (None when it changed nothing)."""
        edits = []
        for key, old in sorted(self._old.items()):
            y0, x0, y1, x1 = self._tile_box(key)
            new = self.mask[y0:y1, x0:x1]
            if not np.array_equal(old, new):
                edits.append(MaskEdit((y0, x0, y1, x1), old, new.copy()))
        self._old.clear()
        return EditGroup(edits) if edits else None

    def cancel(self) -> BBox | None:
        """Undo the partial stroke in place; return the box that changed back."""
        box: BBox | None = None
        for key, old in self._old.items():
            y0, x0, y1, x1 = self._tile_box(key)
            self.mask[y0:y1, x0:x1] = old
            box = bbox_union(box, (y0, x0, y1, x1))
        self._old.clear()
        return box


def _row_runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) columns of the True runs of a boolean row."""
    d = np.diff(np.concatenate(([0], row.view(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def connected_region(mask: np.ndarray, x: int, y: int) -> tuple[BBox, np.ndarray]:
    """4-connected region of pixels equal to ``mask[y, x]``: (bbox, footprint in bbox)."""
    h, w = mask.shape
    if not (0 <= x < w and 0 <= y < h):
        raise MaskError(f"fill position ({x}, {y}) is outside the {w}x{h} mask")
    target = mask[y, x]
    return grow_region((h, w), x, y, lambda r: mask[r] == target)


def grow_region(shape: tuple[int, int], x: int, y: int,
                row_inside: Callable[[int], np.ndarray]) -> tuple[BBox, np.ndarray]:
    """4-connected region around (x, y) of the pixels ``row_inside(row)`` marks True (the
    seed must be one): (bbox, footprint in bbox).

    A scanline fill over runs: it only reads the rows the region touches, one row at a time.
    """
    h = shape[0]
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def runs(r: int) -> tuple[np.ndarray, np.ndarray]:
        if r not in cache:
            cache[r] = _row_runs(np.ascontiguousarray(row_inside(r), dtype=bool))
        return cache[r]

    starts, ends = runs(y)
    i = int(np.searchsorted(ends, x, side="right"))
    if i >= len(starts) or not starts[i] <= x < ends[i]:
        raise MaskError(f"the seed ({x}, {y}) is not inside the region")
    seed = (y, int(starts[i]), int(ends[i]))
    seen = {(seed[0], seed[1])}
    stack, region = [seed], [seed]
    while stack:
        r, s, e = stack.pop()
        for nr in (r - 1, r + 1):
            if not 0 <= nr < h:
                continue
            st, en = runs(nr)
            lo = int(np.searchsorted(en, s, side="right"))
            hi = int(np.searchsorted(st, e, side="left"))
            for j in range(lo, hi):
                if (nr, int(st[j])) not in seen:
                    seen.add((nr, int(st[j])))
                    run = (nr, int(st[j]), int(en[j]))
                    stack.append(run)
                    region.append(run)
    y0 = min(r[0] for r in region)
    y1 = max(r[0] for r in region) + 1
    x0 = min(r[1] for r in region)
    x1 = max(r[2] for r in region)
    footprint = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for r, s, e in region:
        footprint[r - y0, s - x0 : e - x0] = True
    return (y0, x0, y1, x1), footprint


#: The wand's default tolerance (intensity levels either side of the value clicked on).
WAND_TOLERANCE = 45
_WAND_SMOOTH = 5  # box side the intensity is smoothed over
_WAND_SEED = 9  # window whose median is the value clicked on


def _box_sum(values: np.ndarray, side: int) -> np.ndarray:
    """Sum over a side x side box around each pixel (edges repeated), in two 1-D passes."""
    r = side // 2
    padded = np.pad(values.astype(np.uint32), r, mode="edge")
    h, w = values.shape
    rows = np.zeros((padded.shape[0], w), np.uint32)
    for dx in range(side):
        rows += padded[:, dx:dx + w]
    out = np.zeros((h, w), np.uint32)
    for dy in range(side):
        out += rows[dy:dy + h, :]
    return out


@dataclass(frozen=True)
class WandImage:
    """What the magic wand reads: the channels' mean as stored (``raw``) and smoothed over
    5 x 5 pixels (``smooth``), so the texture inside a nucleus does not break its region
    apart; both uint8, H x W."""

    raw: np.ndarray
    smooth: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.raw.shape[0]), int(self.raw.shape[1])


def wand_intensity(rgb: np.ndarray) -> WandImage:
    """The wand's view of an image. Integer sums keep a 4096 x 4096 image at a few 32-bit
    copies (a fraction of a second)."""
    channels = rgb.shape[2] if rgb.ndim == 3 else 1
    total = rgb.sum(axis=2, dtype=np.uint16) if rgb.ndim == 3 else rgb.astype(np.uint16)
    raw = ((total + channels // 2) // channels).astype(np.uint8)
    div = _WAND_SMOOTH * _WAND_SMOOTH * channels
    smooth = ((_box_sum(total, _WAND_SMOOTH) + div // 2) // div).astype(np.uint8)
    return WandImage(raw, smooth)


def wand_fill(mask: np.ndarray, image: WandImage, x: float, y: float, tolerance: int,
              value: int) -> MaskEdit | None:
    """Paint ``value`` on the connected pixels whose intensity is within ``tolerance`` of the
    intensity clicked on: one click selects a bright nucleus on a dark background.

    The region grows on the smoothed intensity from the median of the 9 x 9 pixels around the
    click; then its edge moves out by one pixel where the stored intensity is still within
    the tolerance (smoothing blurs edges inwards: small objects lost their rim), and holes
    the region encloses are filled."""
    value = _check_value(value)
    if image.shape != mask.shape:
        raise MaskError(f"the image ({image.shape[1]}x{image.shape[0]}) and its mask "
                        f"({mask.shape[1]}x{mask.shape[0]}) differ in size")
    cx, cy = math.floor(x), math.floor(y)
    if not (0 <= cx < mask.shape[1] and 0 <= cy < mask.shape[0]):
        raise MaskError(f"wand position ({x:g}, {y:g}) is outside the image")
    smooth = image.smooth
    r = _WAND_SEED // 2  # the median around the click: one dark speck does not decide
    seed = int(np.median(smooth[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1]))
    tol = max(0, int(tolerance))
    low, high = seed - tol, seed + tol
    if not low <= int(smooth[cy, cx]) <= high:
        return None  # the pixel clicked on is unlike its neighbourhood at this tolerance
    (y0, x0, y1, x1), footprint = grow_region(
        mask.shape, cx, cy, lambda row: (smooth[row] >= low) & (smooth[row] <= high))
    box = clip_bbox((y0 - 1, x0 - 1, y1 + 1, x1 + 1), mask.shape)
    assert box is not None
    region = np.zeros((box[2] - box[0], box[3] - box[1]), dtype=bool)
    region[y0 - box[0]:y1 - box[0], x0 - box[1]:x1 - box[1]] = footprint
    grown = region.copy()
    grown[1:] |= region[:-1]
    grown[:-1] |= region[1:]
    grown[:, 1:] |= region[:, :-1]
    grown[:, :-1] |= region[:, 1:]
    raw = image.raw[box[0]:box[2], box[1]:box[3]]
    region |= grown & (raw >= low) & (raw <= high)
    region |= _holes(region)  # bright specks inside a nucleus belong to it
    old = mask[box[0]:box[2], box[1]:box[3]]
    edit = MaskEdit(box, old.copy(), np.where(region, np.uint8(value), old))
    return None if edit.is_noop() else edit


def flood_fill(mask: np.ndarray, x: float, y: float, value: int) -> MaskEdit | None:
    """Fill the connected region of the label under (x, y) with ``value``."""
    value = _check_value(value)
    cx, cy = math.floor(x), math.floor(y)
    if not (0 <= cx < mask.shape[1] and 0 <= cy < mask.shape[0]):
        raise MaskError(f"fill position ({x:g}, {y:g}) is outside the mask")
    if mask[cy, cx] == value:
        return None
    box, footprint = connected_region(mask, cx, cy)
    y0, x0, y1, x1 = box
    old = mask[y0:y1, x0:x1]
    return MaskEdit(box, old.copy(), np.where(footprint, np.uint8(value), old))


def _holes(region: np.ndarray) -> np.ndarray:
    """Pixels outside ``region`` that it encloses (not connected to the box's border)."""
    labels, count = label_components(~region)
    if count == 0:
        return np.zeros_like(region)
    border = np.unique(np.concatenate((labels[0], labels[-1], labels[:, 0], labels[:, -1])))
    return (labels > 0) & ~np.isin(labels, border)


def polygon_fill(mask: np.ndarray, vertices: Sequence[Point], value: int) -> MaskEdit | None:
    """Fill the closed polygon (or lasso path) through ``vertices`` with ``value``."""
    value = _check_value(value)
    if len(vertices) < 3:
        return None
    xs = [p[0] for p in vertices]
    ys = [p[1] for p in vertices]
    box = clip_bbox(
        (math.floor(min(ys)) - 1, math.floor(min(xs)) - 1,
         math.ceil(max(ys)) + 1, math.ceil(max(xs)) + 1),
        mask.shape,
    )
    if box is None:
        return None
    y0, x0, y1, x1 = box
    canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
    # PIL puts pixel centres on integer coordinates; ours are at +0.5.
    local = [(px - x0 - 0.5, py - y0 - 0.5) for px, py in vertices]
    ImageDraw.Draw(canvas).polygon(local, fill=1, outline=1)
    footprint = np.asarray(canvas, dtype=bool)
    old = mask[y0:y1, x0:x1]
    edit = MaskEdit(box, old.copy(), np.where(footprint, np.uint8(value), old))
    return None if edit.is_noop() else edit


def fill_unlabelled(mask: np.ndarray, value: int) -> MaskEdit | None:
    """Give every still unlabelled pixel the class ``value`` (e.g. "the rest is background")."""
    value = _check_value(value)
    unl = mask == UNLABELLED
    rows = np.flatnonzero(unl.any(axis=1))
    if rows.size == 0 or value == UNLABELLED:
        return None
    cols = np.flatnonzero(unl[rows[0] : rows[-1] + 1].any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    old = mask[y0:y1, x0:x1]
    return MaskEdit((y0, x0, y1, x1), old.copy(), np.where(unl[y0:y1, x0:x1], np.uint8(value), old))
