"""The second keys of each shortcut, double-click polygons and letter keys for tags 10 and up."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.annotation import UNLABELLED
from workbench.core.project import Project, Status

from .conftest import _workspace, widget_point

CTRL = Qt.KeyboardModifier.ControlModifier


def key(ws, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(ws.canvas.viewport(), k, mods)


def test_double_click_closes_and_fills_the_polygon(seg_ws, click) -> None:
    mask = seg_ws.controller.session.mask
    key(seg_ws, Qt.Key.Key_2)
    key(seg_ws, Qt.Key.Key_P)
    for x, y in [(4, 4), (30, 4), (30, 30), (4, 30)]:
        click(seg_ws, x, y)
    # A real double-click on the last corner: its first click added the point above.
    QTest.mouseDClick(seg_ws.canvas.viewport(), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier, widget_point(seg_ws, 4, 30))
    assert seg_ws.controller.polygon_points == []
    assert (mask[8:26, 8:26] == 1).all()
    assert seg_ws.controller.undo_stack.count() == 1
    seg_ws.flush()
    assert np.array_equal(seg_ws.project.read_mask(seg_ws.current_name), mask)


def test_zero_erases_and_ctrl_y_redoes(seg_ws, drag) -> None:
    mask = seg_ws.controller.session.mask
    seg_ws.state.set_brush_size(2)
    key(seg_ws, Qt.Key.Key_0)
    assert seg_ws.state.erasing
    drag(seg_ws, [(20.5, 3.5), (20.5, 40.5)])
    erased = mask.copy()
    assert (erased[3:41, 20] == UNLABELLED).all()
    key(seg_ws, Qt.Key.Key_Z, CTRL)
    assert not np.array_equal(mask, erased)
    key(seg_ws, Qt.Key.Key_Y, CTRL)
    assert np.array_equal(mask, erased)


def test_plus_minus_zoom_and_ctrl_0_fits(seg_ws) -> None:
    canvas = seg_ws.canvas
    key(seg_ws, Qt.Key.Key_F)
    fitted = canvas.scale
    key(seg_ws, Qt.Key.Key_Plus)
    assert canvas.scale > fitted
    key(seg_ws, Qt.Key.Key_Minus)
    key(seg_ws, Qt.Key.Key_Minus)
    assert canvas.scale < fitted
    key(seg_ws, Qt.Key.Key_Equal)
    key(seg_ws, Qt.Key.Key_0, CTRL)
    assert canvas.scale == fitted


def test_tags_after_nine_get_free_letter_keys(qtbot, tmp_path) -> None:
    tags = [f"t{i:02d}" for i in range(1, 13)]
    project = Project.create(tmp_path / "p", name="p", task="multilabel", classes=tags)
    Image.new("RGB", (16, 16), (90, 90, 90)).save(tmp_path / "a.png")
    project.add_images([tmp_path / "a.png"])
    workspace = _workspace(qtbot, project)
    ws = next(workspace)
    qtbot.wait(20)  # let the new window become active, as pytest-qt does after fixtures
    # 1-9, then letters other shortcuts do not use (A, C, D are taken).
    assert ws.tag_keys[:9] == [str(i) for i in range(1, 10)]
    assert ws.tag_keys[9:] == ["B", "E", "G"]
    assert "(B)" in ws.tag_panel.boxes[9].text()
    with qtbot.waitSignal(ws.labelsSaved):
        key(ws, Qt.Key.Key_B)
    key(ws, Qt.Key.Key_G)
    assert project.tags("a.png") == ["t10", "t12"]
    assert project.status("a.png") is Status.LABELLED
    next(workspace, None)  # the helper's teardown: flush pending edits
    project.close()
