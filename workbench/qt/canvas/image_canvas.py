"""ImageCanvas: draws an image and its mask overlay, zooms and pans, and forwards pointer input.

The canvas knows nothing about tools. It reports presses, moves and releases in image
coordinates (signals), and the annotation workspace turns them into mask edits. After an edit
the workspace calls :meth:`ImageCanvas.update_mask_region`, which recolours that box of the
overlay and schedules a repaint of just its on-screen rectangle: the cost of a brush move depends
on the brush area, never on the image size.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from workbench.core.annotation import BBox
from workbench.core.display import Levels, apply_levels
from workbench.qt.canvas.decorations import (
    draw_badges,
    draw_brush_cursor,
    draw_message,
    draw_polygon,
)
from workbench.qt.canvas.overlay import MaskOverlay, image_from_rgb, stretch_contrast

MIN_SCALE, MAX_SCALE = 0.02, 64.0
WHEEL_STEP = 1.0015  # per 1/8 degree: one notch (120) zooms by about 1.2x
BACKGROUND = QColor(30, 32, 36)


class ImageCanvas(QWidget):
    """Zoomable, pannable view of an RGB image with a class-coloured mask overlay."""

    pressed = Signal(float, float, int, int)  # x, y (image px), button, keyboard modifiers
    moved = Signal(float, float, int)  # x, y, buttons held
    released = Signal(float, float, int)  # x, y, button
    doubleClicked = Signal(float, float)
    zoomChanged = Signal(float)
    opacityChanged = Signal(float)
    shiftWheel = Signal(int)  # wheel notches (+ up) with Shift held, while a tool claims them

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self._image: QImage | None = None
        self._rgb: np.ndarray | None = None
        self._auto_contrast = True
        self._levels: Levels | None = None  # manual display levels win over auto contrast
        self._background = BACKGROUND
        self.overlay = MaskOverlay()
        self._scale = 1.0
        self._offset = QPointF(0.0, 0.0)
        self._fit_mode = True
        self._opacity = 0.5
        self._overlay_visible = True
        self._brush_radius: float | None = None
        self._mouse: QPointF | None = None
        self._polygon: list[QPointF] = []
        self._pan_from: QPointF | None = None
        self._space = False
        self._message = ""
        self._badges: list[tuple[str, QColor]] = []
        self.claim_shift_wheel = False  # Shift+wheel goes to the tool (the wand's tolerance)
        self._shift_delta = 0

    # -- compatibility: tests and the main window address "the viewport" like a QGraphicsView's
    def viewport(self) -> QWidget:
        return self

    # ---------------------------------------------------------------- content
    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show an HxWx3 uint8 image (None clears the view) and fit it to the window."""
        self._rgb = rgb
        self._make_image()
        self._polygon.clear()
        self.fit()

    def _make_image(self) -> None:
        rgb = self._rgb
        if rgb is not None and self._levels is not None:
            rgb = apply_levels(rgb, self._levels)
        elif rgb is not None and self._auto_contrast:
            rgb = stretch_contrast(rgb)
        self._image = None if rgb is None else image_from_rgb(rgb)

    @property
    def rgb(self) -> np.ndarray | None:
        """The image as stored (before any display levels)."""
        return self._rgb

    @property
    def auto_contrast(self) -> bool:
        return self._auto_contrast

    def set_auto_contrast(self, on: bool) -> None:
        """Stretch dim images for display (the data and the masks are not changed)."""
        if on != self._auto_contrast:
            self._auto_contrast = on
            self._make_image()
            self.update()

    @property
    def levels(self) -> Levels | None:
        return self._levels

    def set_levels(self, levels: Levels | None) -> None:
        """Show the image through ``levels`` (display only); None: auto contrast or as is."""
        if levels != self._levels:
            self._levels = levels
            self._make_image()
            self.update()

    def set_mask(self, mask: np.ndarray | None, colors: Sequence[tuple[int, int, int]],
                 only: int | None = None, hidden: Collection[int] = ()) -> None:
        """Show ``mask`` (kept by reference) in ``colors``; None hides the overlay."""
        self.overlay.set_colors(colors, only, hidden=hidden, render=False)
        self.overlay.set_mask(mask)
        self.update()

    def set_class_colors(self, colors: Sequence[tuple[int, int, int]], only: int | None,
                         hidden: Collection[int] = ()) -> None:
        """Recolour the overlay, optionally showing one class only or hiding some."""
        self.overlay.set_colors(colors, only, hidden=hidden)
        self.update()

    def update_mask_region(self, box: BBox | None) -> None:
        """The mask changed inside ``box``: recolour it and repaint its screen rectangle only."""
        if box is None:
            return
        self.overlay.update_region(box)
        self.update(self.widget_rect(box))

    def refresh_mask(self) -> None:
        """Recolour the whole overlay and repaint everything (after a large external change)."""
        self.overlay.render_all()
        self.update()

    def set_message(self, text: str) -> None:
        """A centred note shown instead of (or over) the image, e.g. why it cannot be shown."""
        self._message = text
        self.update()

    def set_badges(self, badges: Sequence[tuple[str, tuple[int, int, int]]]) -> None:
        """Small coloured labels drawn in the top-left corner (the tags of a multilabel image)."""
        self._badges = [(text, QColor(*rgb)) for text, rgb in badges]
        self.update()

    def set_background(self, color: QColor) -> None:
        self._background = QColor(color)
        self.update()

    # ---------------------------------------------------------------- view state
    @property
    def scale(self) -> float:
        return self._scale

    @property
    def overlay_opacity(self) -> float:
        return self._opacity

    def set_overlay_opacity(self, opacity: float) -> None:
        opacity = min(1.0, max(0.0, float(opacity)))
        if opacity != self._opacity:
            self._opacity = opacity
            self.update()
            self.opacityChanged.emit(opacity)

    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = bool(visible)
        self.update()

    def set_brush_radius(self, radius: float | None) -> None:
        """Show a round cursor of ``radius`` image pixels (None: plain cross cursor)."""
        old = self._cursor_rect()
        self._brush_radius = radius
        self.setCursor(Qt.CursorShape.BlankCursor if radius else Qt.CursorShape.CrossCursor)
        self.update(old.united(self._cursor_rect()))

    def set_polygon_preview(self, points: Sequence[tuple[float, float]]) -> None:
        self._polygon = [QPointF(x, y) for x, y in points]
        self.update()

    def to_image(self, pos: QPointF) -> QPointF:
        return (QPointF(pos) - self._offset) / self._scale

    def to_widget(self, pos: QPointF) -> QPointF:
        return pos * self._scale + self._offset

    def widget_rect(self, box: BBox) -> QRect:
        """Screen rectangle covering image box (y0, x0, y1, x1), rounded outwards."""
        y0, x0, y1, x1 = box
        s, o = self._scale, self._offset
        left, top = math.floor(x0 * s + o.x()) - 1, math.floor(y0 * s + o.y()) - 1
        right, bottom = math.ceil(x1 * s + o.x()) + 1, math.ceil(y1 * s + o.y()) + 1
        return QRect(left, top, right - left, bottom - top)

    def fit(self) -> None:
        """Scale the whole image into the window and keep it fitted on resize."""
        self._fit_mode = True
        if self._image is None:
            self.update()
            return
        w, h = self._image.width(), self._image.height()
        s = min(self.width() / w, self.height() / h)
        self._set_view(max(MIN_SCALE, min(MAX_SCALE, s)),
                       QPointF((self.width() - w * s) / 2, (self.height() - h * s) / 2))

    def zoom_1to1(self) -> None:
        """One image pixel per screen pixel, keeping the centre of the view in place."""
        self.zoom_at(1.0 / self._scale, QPointF(self.width() / 2, self.height() / 2))

    def zoom_at(self, factor: float, anchor: QPointF) -> None:
        """Zoom by ``factor`` keeping the image point under ``anchor`` (widget px) fixed."""
        self._fit_mode = False
        anchor = QPointF(anchor)
        target = self.to_image(anchor)
        s = max(MIN_SCALE, min(MAX_SCALE, self._scale * factor))
        self._set_view(s, anchor - target * s)

    def pan_by(self, dx: float, dy: float) -> None:
        self._fit_mode = False
        self._set_view(self._scale, self._offset + QPointF(dx, dy))

    def _set_view(self, scale: float, offset: QPointF) -> None:
        changed = not math.isclose(scale, self._scale)
        self._scale, self._offset = scale, offset
        self.update()
        if changed:
            self.zoomChanged.emit(scale)

    # ---------------------------------------------------------------- painting
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = event.rect()
        painter.fillRect(rect, self._background)
        if self._image is not None:
            self._paint_layers(painter, rect)
        self._paint_polygon(painter)
        self._paint_badges(painter)
        self._paint_message(painter)
        self._paint_cursor(painter)
        painter.end()

    def _source_rect(self, rect: QRect) -> QRect | None:
        """Image pixels needed to paint the widget rectangle ``rect`` (plus a small margin)."""
        assert self._image is not None
        tl, br = self.to_image(QPointF(rect.topLeft())), self.to_image(QPointF(rect.bottomRight()))
        x0, y0 = max(0, math.floor(tl.x()) - 2), max(0, math.floor(tl.y()) - 2)
        x1 = min(self._image.width(), math.ceil(br.x()) + 3)
        y1 = min(self._image.height(), math.ceil(br.y()) + 3)
        return QRect(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None

    def _paint_layers(self, painter: QPainter, rect: QRect) -> None:
        src = self._source_rect(rect)
        if src is None:
            return
        painter.setClipRect(rect)
        painter.translate(self._offset)
        painter.scale(self._scale, self._scale)
        # Drawing only the exposed source rectangle keeps a brush repaint O(brush area).
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._scale < 1.0)
        painter.drawImage(QRectF(src), self._image, QRectF(src))
        if self._overlay_visible and self.overlay.image is not None and self._opacity > 0:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.setOpacity(self._opacity)
            painter.drawImage(QRectF(src), self.overlay.image, QRectF(src))
            painter.setOpacity(1.0)
        painter.resetTransform()
        painter.setClipping(False)

    def _paint_polygon(self, painter: QPainter) -> None:
        if self._polygon:
            pts = [self.to_widget(p) for p in self._polygon]
            draw_polygon(painter, pts, self._mouse)

    def _paint_badges(self, painter: QPainter) -> None:
        if self._badges:
            draw_badges(painter, self._badges, self.width(), self.font())

    def _paint_message(self, painter: QPainter) -> None:
        if self._message:
            draw_message(painter, self.rect(), self._message)

    def _cursor_centre(self) -> QPointF | None:
        if self._mouse is None:
            return None
        # The brush snaps to pixel centres, so show it where it will actually paint.
        p = self.to_image(self._mouse)
        return self.to_widget(QPointF(math.floor(p.x()) + 0.5, math.floor(p.y()) + 0.5))

    def _cursor_rect(self) -> QRect:
        centre = self._cursor_centre()
        if centre is None or not self._brush_radius:
            return QRect()
        r = max(self._brush_radius, 0.5) * self._scale + 3
        return QRectF(centre.x() - r, centre.y() - r, 2 * r, 2 * r).toAlignedRect()

    def _paint_cursor(self, painter: QPainter) -> None:
        centre = self._cursor_centre()
        if centre is None or not self._brush_radius or self._pan_from is not None:
            return
        draw_brush_cursor(painter, centre, max(self._brush_radius, 0.5) * self._scale)

    # ---------------------------------------------------------------- input
    def _move_cursor(self, pos: QPointF | None) -> None:
        old = self._cursor_rect()
        self._mouse = pos
        if self._polygon:
            self.update()
        elif self._brush_radius:
            self.update(old.united(self._cursor_rect()))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        p = self.to_image(pos)
        self.pressed.emit(p.x(), p.y(), int(button.value), int(event.modifiers().value))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(delta.x(), delta.y())
            self._mouse = pos
            return
        self._move_cursor(pos)
        p = self.to_image(pos)
        self.moved.emit(p.x(), p.y(), int(event.buttons().value))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self._restore_cursor()
            return
        p = self.to_image(event.position())
        self.released.emit(p.x(), p.y(), int(event.button().value))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            p = self.to_image(event.position())
            self.doubleClicked.emit(p.x(), p.y())

    def leaveEvent(self, event) -> None:
        self._move_cursor(None)
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta and self.claim_shift_wheel and \
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._shift_delta += delta  # fine-grained wheels send many small steps
            steps = int(self._shift_delta / 120)
            if steps:
                self._shift_delta -= steps * 120
                self.shiftWheel.emit(steps)
        elif delta:
            self.zoom_at(WHEEL_STEP**delta, event.position())
            self._move_cursor(event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._restore_cursor()
            return
        super().keyReleaseEvent(event)

    def _restore_cursor(self) -> None:
        if self._space:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.setCursor(
                Qt.CursorShape.BlankCursor if self._brush_radius else Qt.CursorShape.CrossCursor
            )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()
