"""The annotation tools added in round two, driven through the real workspace: the magic wand
with its live tolerance, per-class eyes, brightness / contrast levels and the auto-contrast
sign, and Esc clearing the tag filter."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QSlider

from workbench.core.display import Levels

from .conftest import widget_point


def key(ws, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(ws.canvas.viewport(), k, mods)


def shift_wheel(ws, notches: int) -> None:
    canvas = ws.canvas
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    event = QWheelEvent(centre, QPointF(canvas.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ShiftModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


def test_wand_fills_the_bright_shape_in_one_click_and_follows_the_tolerance(seg_ws, click):
    inside = seg_ws.project.read_mask(seg_ws.current_name)  # the shape (class 1)
    mask = seg_ws.controller.session.mask
    mask[:] = 255  # a fresh slice: nothing labelled yet
    seg_ws.canvas.refresh_mask()
    key(seg_ws, Qt.Key.Key_2)  # "shape"
    key(seg_ws, Qt.Key.Key_W)
    assert seg_ws.state.tool.value == "wand"
    ys, xs = np.nonzero(inside)
    click(seg_ws, xs.mean(), ys.mean())
    filled = mask == 1
    iou = (filled & (inside == 1)).sum() / (filled | (inside == 1)).sum()
    assert iou > 0.8, iou  # the shape, not the whole image (today's fill took everything)
    steps = seg_ws.controller.undo_stack.count()
    # The tolerance slider redoes that click live, still as one undo step.
    slider = seg_ws.findChild(QSlider, "wandToleranceSlider")
    assert slider.isVisible()
    slider.setValue(255)
    assert (mask == 1).all()
    shift_wheel(seg_ws, -42)  # Shift+wheel lowers it again (42 notches of 5)
    assert seg_ws.state.tolerance == 45
    assert np.array_equal(mask == 1, filled)  # the same click, redone at 45
    assert seg_ws.controller.undo_stack.count() == steps
    key(seg_ws, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (mask == 255).all()
    key(seg_ws, Qt.Key.Key_BracketRight)  # ] with the wand: tolerance, not brush size
    assert seg_ws.state.tolerance == 50 and seg_ws.state.brush_size == 20


def test_eye_hides_one_class_and_does_not_select_it(qtbot, seg_ws):
    palette = seg_ws.seg_panel.palette_list
    eyes = seg_ws.seg_panel.eyes
    overlay = seg_ws.canvas.overlay
    mask = seg_ws.controller.session.mask
    y, x = np.argwhere(mask == 1)[0]
    assert overlay.image.pixelColor(int(x), int(y)).alpha() == 255
    qtbot.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=eyes.eye_rect(1).center())
    assert seg_ws.state.hidden == frozenset({1})
    assert seg_ws.state.label == 0  # the class picked before stays picked
    assert overlay.image.pixelColor(int(x), int(y)).alpha() == 0  # shape hidden
    by, bx = np.argwhere(mask == 0)[0]
    assert overlay.image.pixelColor(int(bx), int(by)).alpha() == 255  # background still shown
    qtbot.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=eyes.eye_rect(1).center())
    assert seg_ws.state.hidden == frozenset()
    assert overlay.image.pixelColor(int(x), int(y)).alpha() == 255


def test_auto_contrast_is_visible_and_levels_win_per_image_or_project(qtbot, seg_ws):
    contrast = seg_ws.actions_by_id["contrast"]
    assert contrast.isCheckable() and contrast.isChecked()  # on by default, and it shows
    assert "auto contrast" in seg_ws.info.text()
    key(seg_ws, Qt.Key.Key_C)
    assert not contrast.isChecked() and "as stored" in seg_ws.info.text()
    key(seg_ws, Qt.Key.Key_C)
    dialog = seg_ws.show_levels()
    assert dialog.isVisible() and dialog.histogram.counts.sum() > 0
    canvas = seg_ws.canvas
    raw = canvas.rgb[5, 5, 0]
    dialog.this_image.setChecked(True)
    dialog.low[1].setValue(100)
    dialog.high[1].setValue(200)
    assert canvas.levels == Levels(100, 200) and "levels 100–200 (this image)" in seg_ws.info.text()
    assert canvas._image.pixelColor(5, 5).red() == Levels(100, 200).lut()[raw]
    names = seg_ws.project.image_names()
    seg_ws.open_image(names[1])  # another image: its own levels (none): auto contrast
    assert canvas.levels is None and seg_ws.display.mode() == "auto"
    dialog.whole_project.setChecked(True)
    dialog.gamma.setValue(0.5)
    assert seg_ws.display.mode() == "project" and canvas.levels.gamma == 0.5
    seg_ws.open_image(names[0])  # the image's own levels still win over the project's
    assert canvas.levels == Levels(100, 200)
    dialog.this_image.setChecked(True)
    dialog.reset()
    assert seg_ws.display.mode() == "project"
    saved = seg_ws.display.to_prefs()
    assert saved["project"][2] == 0.5 and saved["images"] == {}


def test_escape_clears_the_tag_filter(qtbot, tag_ws):
    panel = tag_ws.tag_panel
    QTest.keyClick(tag_ws.canvas.viewport(), Qt.Key.Key_Slash)
    assert panel.filter_edit.hasFocus()
    QTest.keyClicks(panel.filter_edit, "gr")
    assert [b.isVisibleTo(panel) for b in panel.boxes] == [False, True, False]
    QTest.keyClick(panel.filter_edit, Qt.Key.Key_Escape)  # while typing in the filter
    assert panel.filter_edit.text() == ""
    assert all(b.isVisibleTo(panel) for b in panel.boxes)
    assert tag_ws.canvas.hasFocus()  # back to the image: the tag keys work again
    panel.filter_edit.setText("blue")
    key(tag_ws, Qt.Key.Key_Escape)  # from the image, too
    assert panel.filter_edit.text() == ""


def test_wand_point_helper_matches_canvas(seg_ws):
    # widget_point is how the tests click; make sure it lands where the wand reads.
    point = widget_point(seg_ws, 10.5, 20.5)
    image = seg_ws.canvas.to_image(QPointF(point))
    assert abs(image.x() - 10.5) < 1 and abs(image.y() - 20.5) < 1


def test_levels_dialog_sliders_follow_the_levels(qtbot, seg_ws):
    dialog = seg_ws.show_levels()
    dialog.this_image.setChecked(True)
    dialog.set_levels(Levels(30, 220, 1.2))
    low_slider, low_spin, _ = dialog.low
    high_slider, high_spin, _ = dialog.high
    assert (low_slider.value(), low_spin.value()) == (30, 30)
    assert (high_slider.value(), high_spin.value()) == (220, 220)
    high_slider.setValue(180)  # dragging a slider sets the levels too
    assert seg_ws.canvas.levels == Levels(30, 180, 1.2)
    low_spin.setValue(200)  # low pushed past high: high moves up with it
    assert seg_ws.canvas.levels.low == 200 and seg_ws.canvas.levels.high == 201
