"""Painting tools as pure functions: positions in, exact edits out (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.annotation import (
    UNLABELLED,
    BrushStroke,
    EditGroup,
    MaskEdit,
    brush,
    diff_edit,
    erase,
    fill_unlabelled,
    flood_fill,
    polygon_fill,
)
from workbench.core.errors import MaskError


def blank(h: int = 64, w: int = 64) -> np.ndarray:
    return np.full((h, w), UNLABELLED, np.uint8)


def test_brush_is_pure_and_paints_a_disc() -> None:
    mask = blank()
    edit = brush(mask, [(32.2, 32.7)], radius=5, value=1)
    assert (mask == UNLABELLED).all()  # pure: input untouched
    edit.apply(mask)
    yy, xx = np.mgrid[:64, :64]
    expected = (xx + 0.5 - 32.5) ** 2 + (yy + 0.5 - 32.5) ** 2 <= 25 + 1e-6
    assert np.array_equal(mask == 1, expected)


def test_fast_stroke_has_no_gaps_between_far_apart_positions() -> None:
    mask = blank(40, 200)
    brush(mask, [(5, 20), (195, 20)], radius=2, value=2).apply(mask)
    # Every column between the two positions is painted on the stroke's row.
    assert (mask[20, 5:196] == 2).all()
    assert (mask[10] == UNLABELLED).all()


def test_one_pixel_brush_paints_the_pixel_under_the_cursor() -> None:
    mask = blank()
    brush(mask, [(10.9, 3.1)], radius=0.5, value=0).apply(mask)
    assert mask[3, 10] == 0 and (mask != UNLABELLED).sum() == 1


def test_apply_and_revert_are_exact_inverses() -> None:
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, (64, 64), dtype=np.uint8)
    before = mask.copy()
    edit = brush(mask, [(3, 3), (60, 50), (10, 60)], radius=4, value=7)
    edit.apply(mask)
    assert not np.array_equal(mask, before)
    edit.revert(mask)
    assert np.array_equal(mask, before)
    edit.inverse().revert(mask)
    assert (mask[edit.bbox[0]:edit.bbox[2], edit.bbox[1]:edit.bbox[3]] == edit.new).all()


def test_eraser_paints_unlabelled() -> None:
    mask = np.ones((32, 32), np.uint8)
    erase(mask, [(16, 16)], radius=3).apply(mask)
    assert mask[16, 16] == UNLABELLED and mask[0, 0] == 1


def test_incremental_stroke_matches_pure_brush_and_undoes_exactly() -> None:
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 2, (150, 170), dtype=np.uint8)
    before = mask.copy()
    points = [(5, 5), (80, 40), (160, 140), (20, 120)]
    expected = before.copy()
    brush(before, points, radius=6, value=3).apply(expected)
    stroke = BrushStroke(mask, 6, 3, tile=32)
    boxes = [stroke.add_point(x, y) for x, y in points]
    assert all(b is not None for b in boxes)
    assert np.array_equal(mask, expected)
    group = stroke.finish()
    assert isinstance(group, EditGroup)
    # Tiles, not the stroke's 150x170 bounding box, hold the undo data.
    assert group.nbytes < 2 * 150 * 170
    group.revert(mask)
    assert np.array_equal(mask, before)
    group.apply(mask)
    assert np.array_equal(mask, expected)


def test_stroke_cancel_restores_mask() -> None:
    mask = blank()
    stroke = BrushStroke(mask, 4, 1)
    stroke.add_point(10, 10)
    stroke.add_point(50, 50)
    stroke.cancel()
    assert (mask == UNLABELLED).all()
    assert stroke.finish() is None


def test_flood_fill_fills_only_the_connected_same_label_region() -> None:
    mask = np.zeros((20, 20), np.uint8)
    mask[:, 10] = 1  # a wall splits the zeros in two
    mask[5, 3] = 2  # an island inside the left half stays
    edit = flood_fill(mask, 2.5, 2.5, 4)
    edit.apply(mask)
    assert (mask[:, :10][mask[:, :10] != 2] == 4).all()
    assert mask[5, 3] == 2
    assert (mask[:, 11:] == 0).all() and (mask[:, 10] == 1).all()


def test_flood_fill_goes_round_corners_and_ignores_diagonals() -> None:
    mask = np.zeros((10, 10), np.uint8)
    mask[:8, 5] = 1  # a wall open at the bottom: the left and right zeros form one U
    flood_fill(mask, 0, 0, 5).apply(mask)
    assert mask[0, 9] == 5 and (mask == 5).sum() == 100 - 8
    diag = np.zeros((3, 3), np.uint8)
    diag[1, 1] = 1
    diag[0, 0] = diag[2, 2] = 1
    flood_fill(diag, 1, 1, 7).apply(diag)
    assert (diag == 7).sum() == 1  # 4-connectivity: diagonal neighbours are separate


def test_flood_fill_same_value_is_noop_and_outside_is_error() -> None:
    mask = np.zeros((8, 8), np.uint8)
    assert flood_fill(mask, 1, 1, 0) is None
    with pytest.raises(MaskError):
        flood_fill(mask, 9, 1, 1)


def test_polygon_fill_covers_inside_only() -> None:
    mask = blank(50, 50)
    edit = polygon_fill(mask, [(10, 10), (40, 10), (40, 30), (10, 30)], 1)
    edit.apply(mask)
    assert (mask[12:29, 12:39] == 1).all()
    assert mask[5, 5] == UNLABELLED and mask[35, 20] == UNLABELLED
    assert polygon_fill(mask, [(1, 1), (5, 5)], 1) is None


def test_polygon_partly_outside_image_is_clipped() -> None:
    mask = blank(20, 20)
    polygon_fill(mask, [(-10, -10), (10, -10), (10, 10), (-10, 10)], 0).apply(mask)
    assert (mask[:9, :9] == 0).all() and mask[15, 15] == UNLABELLED


def test_fill_unlabelled_leaves_labels_alone() -> None:
    mask = blank(30, 30)
    mask[10:20, 10:20] = 1
    fill_unlabelled(mask, 0).apply(mask)
    assert (mask[10:20, 10:20] == 1).all() and (mask == 0).sum() == 900 - 100
    assert fill_unlabelled(mask, 0) is None


def test_diff_edit_and_bad_shapes() -> None:
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[2:4, 5:9] = 3
    edit = diff_edit(a, b)
    assert edit.bbox == (2, 5, 4, 9)
    assert diff_edit(a, a) is None
    with pytest.raises(MaskError):
        MaskEdit((0, 0, 2, 2), np.zeros((2, 3), np.uint8), np.zeros((2, 2), np.uint8))
    with pytest.raises(MaskError):
        brush(a, [(1, 1)], 1, 300)
