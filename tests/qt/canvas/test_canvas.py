"""ImageCanvas: zoom to cursor, fit, 1:1, pan, round brush cursor, and partial repaints."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from workbench.qt.canvas import ImageCanvas

COLORS = [(0, 0, 255), (255, 0, 0)]


class PaintSpy(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.rects = []

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())
        return False


@pytest.fixture
def canvas(qtbot) -> ImageCanvas:
    c = ImageCanvas()
    qtbot.addWidget(c)
    c.resize(400, 300)
    c.show()
    qtbot.waitExposed(c)
    rgb = np.zeros((200, 160, 3), np.uint8)
    rgb[..., 1] = np.arange(160, dtype=np.uint8)[None, :]
    c.set_image(rgb)
    c.mask = np.full((200, 160), 255, np.uint8)
    c.set_mask(c.mask, COLORS)
    return c


def wheel(canvas: ImageCanvas, pos: QPointF, delta: int) -> None:
    event = QWheelEvent(pos, canvas.mapToGlobal(pos), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


def test_fit_and_one_to_one(canvas) -> None:
    assert canvas.scale == pytest.approx(1.5)  # 200 px high into 300 px
    centre = canvas.to_widget(QPointF(80, 100))
    assert (centre.x(), centre.y()) == pytest.approx((200, 150))
    canvas.zoom_1to1()
    assert canvas.scale == 1.0
    canvas.fit()
    assert canvas.scale == pytest.approx(1.5)


def test_wheel_zooms_around_the_cursor(canvas) -> None:
    anchor = QPointF(130.0, 90.0)
    under = canvas.to_image(anchor)
    wheel(canvas, anchor, 240)
    assert canvas.scale > 1.5 * 1.3
    after = canvas.to_image(anchor)
    assert (after.x(), after.y()) == pytest.approx((under.x(), under.y()), abs=1e-6)
    wheel(canvas, anchor, -480)
    assert canvas.scale < 1.5


def test_middle_drag_and_space_drag_pan(canvas) -> None:
    start = canvas.to_image(QPointF(100, 100))
    QTest.mousePress(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(100, 100))
    QTest.mouseMove(canvas, QPoint(130, 80))
    QTest.mouseRelease(canvas, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(130, 80))
    moved = canvas.to_image(QPointF(130, 80))
    assert (moved.x(), moved.y()) == pytest.approx((start.x(), start.y()))
    presses = []
    canvas.pressed.connect(lambda *a: presses.append(a))
    canvas.setFocus()
    grabbed = canvas.to_image(QPointF(50, 50))
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(50, 50))
    QTest.mouseMove(canvas, QPoint(60, 50))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(60, 50))
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.to_image(QPointF(60, 50))
    assert (after.x(), after.y()) == pytest.approx((grabbed.x(), grabbed.y()))
    assert presses == []  # panning is not painting


def test_press_reports_image_coordinates(canvas) -> None:
    got = []
    canvas.pressed.connect(lambda x, y, b, m: got.append((x, y, b)))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     canvas.to_widget(QPointF(10.5, 20.5)).toPoint())
    x, y, b = got[0]
    assert abs(x - 10.5) < 1 and abs(y - 20.5) < 1 and b == Qt.MouseButton.LeftButton.value


def test_brush_cursor_is_true_size(canvas) -> None:
    canvas.set_brush_radius(10)
    QTest.mouseMove(canvas, QPoint(200, 150))
    rect = canvas._cursor_rect()
    assert rect.width() == pytest.approx(2 * 10 * canvas.scale + 6, abs=2)
    canvas.zoom_1to1()
    assert canvas._cursor_rect().width() == pytest.approx(2 * 10 + 6, abs=2)


def test_region_update_recolours_and_repaints_only_the_box(canvas, qtbot) -> None:
    qtbot.wait(20)
    spy = PaintSpy()
    canvas.installEventFilter(spy)
    canvas.mask[50:60, 40:50] = 1
    canvas.mask[0, 0] = 0  # changed outside the box: must NOT be recoloured
    canvas.update_mask_region((50, 40, 60, 50))
    QApplication.processEvents()
    img = canvas.overlay.image
    assert img.pixel(45, 55) == 0xFFFF0000
    assert img.pixel(0, 0) >> 24 == 0
    assert spy.rects, "no repaint happened"
    expected = canvas.widget_rect((50, 40, 60, 50))
    for r in spy.rects:
        assert expected.contains(r)
        assert r.width() * r.height() < 0.05 * canvas.width() * canvas.height()
    canvas.refresh_mask()
    assert canvas.overlay.image.pixel(0, 0) == 0xFF0000FF


def test_opacity_and_visibility_do_not_touch_pixels(canvas) -> None:
    canvas.mask[:] = 1
    canvas.refresh_mask()
    canvas.set_overlay_opacity(0.2)
    canvas.set_overlay_visible(False)
    assert canvas.overlay_opacity == pytest.approx(0.2) and not canvas.overlay_visible
    assert canvas.overlay.image.pixel(3, 3) == 0xFFFF0000
    shot = canvas.grab().toImage()
    canvas.set_overlay_visible(True)
    shot2 = canvas.grab().toImage()
    assert shot.pixelColor(200, 150).red() < shot2.pixelColor(200, 150).red()
