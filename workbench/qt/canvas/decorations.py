"""What the canvas draws on top of the image: brush cursor, polygon preview, tag badges, notes."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF


def draw_brush_cursor(painter: QPainter, centre: QPointF, radius: float) -> None:
    """Round cursor of the brush's true on-screen size: a dark and a light ring, visible on any
    image, and a dot at the pixel the brush is centred on."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 200), 3))
    painter.drawEllipse(centre, radius, radius)
    painter.setPen(QPen(QColor(255, 255, 255, 240), 1.2))
    painter.drawEllipse(centre, radius, radius)
    painter.drawPoint(centre)


def draw_polygon(painter: QPainter, points: Sequence[QPointF], mouse: QPointF | None) -> None:
    """The polygon being placed, closed through the mouse position, with its vertices."""
    pts = list(points) + ([mouse] if mouse is not None else [])
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(255, 255, 255, 230), 1.5, Qt.PenStyle.DashLine))
    painter.setBrush(QColor(255, 255, 255, 40))
    painter.drawPolygon(QPolygonF(pts))
    painter.setBrush(QColor(255, 255, 255))
    for p in points:
        painter.drawEllipse(p, 2.5, 2.5)


def draw_badges(painter: QPainter, badges: Sequence[tuple[str, QColor]], width: int,
                base_font: QFont) -> None:
    """Rounded coloured labels in the top-left corner, wrapping before ``width``."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont(base_font)
    font.setPointSizeF(max(8.0, font.pointSizeF()))
    painter.setFont(font)
    fm = painter.fontMetrics()
    x, y, h = 10, 10, fm.height() + 8
    for text, color in badges:
        w = fm.horizontalAdvance(text) + 16
        if x > 10 and x + w > width - 10:
            x, y = 10, y + h + 6
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color.red(), color.green(), color.blue(), 220))
        painter.drawRoundedRect(QRectF(x, y, w, h), 9, 9)
        painter.setPen(QColor(20, 20, 20) if color.lightness() > 150 else QColor(255, 255, 255))
        painter.drawText(QRectF(x, y, w, h), Qt.AlignmentFlag.AlignCenter, text)
        x += w + 6


def draw_message(painter: QPainter, rect: QRect, text: str) -> None:
    painter.setPen(QColor(200, 204, 210))
    painter.drawText(rect.adjusted(20, 20, -20, -20),
                     Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
