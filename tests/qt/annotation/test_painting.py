"""Each segmentation tool driven by real mouse/key events; checks the mask and the file on disk."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.annotation import UNLABELLED, journal_path


def key(ws, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(ws.canvas.viewport(), k, mods)


def on_disk(ws) -> np.ndarray:
    return ws.project.read_mask(ws.current_name)


def test_brush_stroke_paints_gap_free_and_is_saved_when_moving_on(seg_ws, drag) -> None:
    name = seg_ws.current_name
    key(seg_ws, Qt.Key.Key_2)  # class "shape"
    seg_ws.state.set_brush_size(3)
    drag(seg_ws, [(2.5, 40.5), (45.5, 40.5)])  # one big jump: interpolation fills the gap
    mask = seg_ws.controller.session.mask
    assert (mask[40, 2:46] == 1).all()
    assert journal_path(seg_ws.project.root, name).exists()  # journalled at once
    seg_ws.open_image(seg_ws.project.image_names()[1])  # moving on writes the file
    saved = seg_ws.project.read_mask(name)
    assert (saved[40, 2:46] == 1).all()
    assert not journal_path(seg_ws.project.root, name).exists()


def test_brush_size_keys_and_eraser(seg_ws, drag) -> None:
    seg_ws.state.set_brush_size(10)
    key(seg_ws, Qt.Key.Key_BracketRight)
    assert seg_ws.state.brush_size > 10
    key(seg_ws, Qt.Key.Key_BracketLeft)
    key(seg_ws, Qt.Key.Key_BracketLeft)
    assert seg_ws.state.brush_size < 10
    key(seg_ws, Qt.Key.Key_E)
    assert seg_ws.state.erasing
    drag(seg_ws, [(10.5, 10.5), (30.5, 10.5)])
    seg_ws.flush()
    assert (on_disk(seg_ws)[10, 10:31] == UNLABELLED).all()
    key(seg_ws, Qt.Key.Key_B)
    assert seg_ws.state.label == 0 and not seg_ws.state.erasing


def test_right_drag_erases(seg_ws, drag) -> None:
    seg_ws.state.set_brush_size(2)
    drag(seg_ws, [(5.5, 5.5), (5.5, 20.5)], Qt.MouseButton.RightButton)
    assert (seg_ws.controller.session.mask[5:21, 5] == UNLABELLED).all()


def test_flood_fill_click(seg_ws, click) -> None:
    mask = seg_ws.controller.session.mask
    before = mask.copy()
    key(seg_ws, Qt.Key.Key_G)
    key(seg_ws, Qt.Key.Key_2)
    click(seg_ws, 0.5, 0.5)  # background corner -> whole connected background becomes class 1
    assert (mask == 1).sum() == (before <= 1).sum()
    seg_ws.flush()
    assert np.array_equal(on_disk(seg_ws), mask)


def test_polygon_by_clicks_and_enter_then_lasso_drag(seg_ws, click, drag) -> None:
    mask = seg_ws.controller.session.mask
    key(seg_ws, Qt.Key.Key_E)  # polygon with the eraser label un-labels an area
    key(seg_ws, Qt.Key.Key_P)
    for x, y in [(5, 5), (25, 5), (25, 25), (5, 25)]:
        click(seg_ws, x, y)
    assert len(seg_ws.controller.polygon_points) == 4
    key(seg_ws, Qt.Key.Key_Return)
    assert (mask[7:23, 7:23] == UNLABELLED).all() and mask[40, 40] != UNLABELLED
    key(seg_ws, Qt.Key.Key_1)
    drag(seg_ws, [(30, 30), (45, 30), (45, 45), (30, 45)])  # lasso closes on release
    assert (mask[32:43, 32:43] == 0).all()
    assert seg_ws.controller.undo_stack.count() == 2
    seg_ws.flush()
    assert np.array_equal(on_disk(seg_ws), mask)


def test_escape_cancels_polygon(seg_ws, click) -> None:
    before = seg_ws.controller.session.mask.copy()
    key(seg_ws, Qt.Key.Key_P)
    click(seg_ws, 5, 5)
    click(seg_ws, 20, 5)
    key(seg_ws, Qt.Key.Key_Escape)
    assert seg_ws.controller.polygon_points == []
    assert np.array_equal(seg_ws.controller.session.mask, before)


def test_undo_redo_across_many_strokes(seg_ws, drag) -> None:
    mask = seg_ws.controller.session.mask
    original = mask.copy()
    seg_ws.state.set_brush_size(4)
    snapshots = []
    rng = np.random.default_rng(3)
    for i in range(25):
        seg_ws.state.set_label(i % 2)
        pts = [tuple(p) for p in rng.uniform(0, 48, (3, 2))]
        drag(seg_ws, pts)
        snapshots.append(mask.copy())
    assert seg_ws.controller.undo_stack.count() == 25
    for i in range(24, -1, -1):
        assert np.array_equal(mask, snapshots[i])
        key(seg_ws, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(mask, original)
    assert not seg_ws.actions_by_id["undo"].isEnabled()
    for i in range(25):
        key(seg_ws, Qt.Key.Key_Z,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert np.array_equal(mask, snapshots[i])
    for _ in range(10):
        seg_ws.actions_by_id["undo"].trigger()  # the tool bar button
    seg_ws.flush()
    assert np.array_equal(on_disk(seg_ws), snapshots[14])


def test_undo_memory_budget_drops_oldest_steps(seg_ws, drag) -> None:
    session = seg_ws.controller.session
    session.history.max_bytes = 3000  # a few strokes' worth
    seg_ws.state.set_brush_size(6)
    for i in range(12):
        seg_ws.state.set_label(i % 2)
        drag(seg_ws, [(5 + 3 * i, 5), (5 + 3 * i, 40)])
    assert session.history.nbytes <= 3000 + 2 * 64 * 64
    steps = 0
    while seg_ws.actions_by_id["undo"].isEnabled():
        seg_ws.actions_by_id["undo"].trigger()
        steps += 1
    assert 0 < steps < 12


def test_fill_unlabelled_and_only_one_class_and_hide_overlay(seg_ws, drag) -> None:
    mask = seg_ws.controller.session.mask
    seg_ws.state.set_brush_size(8)
    key(seg_ws, Qt.Key.Key_E)
    drag(seg_ws, [(10, 10), (30, 30)])
    assert (mask == UNLABELLED).any()
    key(seg_ws, Qt.Key.Key_1)
    key(seg_ws, Qt.Key.Key_U)
    assert not (mask == UNLABELLED).any()
    key(seg_ws, Qt.Key.Key_H)
    assert not seg_ws.canvas.overlay_visible
    key(seg_ws, Qt.Key.Key_H)
    key(seg_ws, Qt.Key.Key_O)
    assert seg_ws.state.only_selected
    # Only class 0 is coloured: a class-1 pixel is transparent in the overlay.
    y, x = map(int, np.argwhere(mask == 1)[0])
    assert seg_ws.canvas.overlay.image.pixel(x, y) >> 24 == 0
    y, x = map(int, np.argwhere(mask == 0)[0])
    assert seg_ws.canvas.overlay.image.pixel(x, y) >> 24 == 255


def test_start_from_prediction_is_one_undo_step(seg_ws) -> None:
    name = seg_ws.current_name
    mask = seg_ws.controller.session.mask
    before = mask.copy()
    assert not seg_ws.start_from_prediction()
    run = seg_ws.project.root / "predictions" / "run1"
    run.mkdir(parents=True)
    from PIL import Image

    Image.fromarray(np.ones((48, 48), np.uint8)).save(run / f"{os.path.splitext(name)[0]}.png")
    key(seg_ws, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert (mask == 1).all()
    key(seg_ws, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(mask, before)


def test_palette_click_selects_class_and_eraser(qtbot, seg_ws) -> None:
    palette = seg_ws.seg_panel.palette_list
    last = palette.item(palette.count() - 1)  # "Unlabelled (erase)"
    qtbot.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton,
                     pos=palette.visualItemRect(last).center())
    assert seg_ws.state.erasing
    qtbot.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton,
                     pos=palette.visualItemRect(palette.item(1)).center())
    assert seg_ws.state.label == 1 and not seg_ws.state.erasing
    key(seg_ws, Qt.Key.Key_1)
    assert palette.currentRow() == 0  # the key updates the palette too
