"""Paints one image row: thumbnail, name, and a coloured status dot with its word."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from workbench.qt.browser.model import HolderRole, InProgressRole, StatusRole, ThumbnailStateRole
from workbench.qt.theme import STATUS_COLORS

ROW_HEIGHT = 60
HOLDER_COLORS = {False: "#c0392b", True: "#2f9e62"}  # someone else's claim / this window's
THUMB = 48
PAD = 6


class ImageItemDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(200, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(2, 1, -2, -1)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal = option.palette
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(rect, 5, 5)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(rect, 5, 5)
        thumb_rect = QRect(rect.left() + PAD, rect.top() + (rect.height() - THUMB) // 2,
                           THUMB, THUMB)
        self._paint_thumbnail(painter, thumb_rect, index, pal)
        text_left = thumb_rect.right() + 10
        text_rect = QRect(text_left, rect.top() + 8, rect.right() - text_left - PAD, 20)
        text_color = pal.color(QPalette.ColorRole.HighlightedText if selected
                               else QPalette.ColorRole.Text)
        painter.setPen(text_color)
        name = str(index.data(Qt.ItemDataRole.DisplayRole))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle,
                                                       text_rect.width()))
        status = "in progress" if index.data(InProgressRole) else str(index.data(StatusRole))
        self._paint_status(painter, QRect(text_left, text_rect.bottom() + 4, text_rect.width(), 18),
                           status, option, selected, str(index.data(HolderRole) or ""))
        painter.restore()

    def _paint_thumbnail(self, painter: QPainter, rect: QRect,
                         index: QModelIndex | QPersistentModelIndex, pal: QPalette) -> None:
        painter.setPen(QColor(pal.color(QPalette.ColorRole.Mid)))
        painter.setBrush(QColor("#2b2f36"))
        painter.drawRoundedRect(rect, 4, 4)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.scaled(rect.size() * painter.device().devicePixelRatioF(),
                                   Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            scaled.setDevicePixelRatio(painter.device().devicePixelRatioF())
            size = scaled.deviceIndependentSize().toSize()
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(rect.center())
            painter.drawPixmap(target, scaled)
        elif index.data(ThumbnailStateRole) == "failed":
            painter.setPen(QColor("#d64545"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "!")

    def _paint_status(self, painter: QPainter, rect: QRect, status: str,
                      option: QStyleOptionViewItem, selected: bool, holder: str) -> None:
        color = QColor(STATUS_COLORS.get(status, "#9aa3af"))
        dot = QRect(rect.left(), rect.top() + (rect.height() - 8) // 2, 8, 8)
        painter.setPen(QColor("#ffffff") if selected else Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(dot)
        font = QFont(option.font)
        font.setPointSizeF(max(7.5, font.pointSizeF() - 1))
        painter.setFont(font)
        muted = option.palette.color(QPalette.ColorRole.HighlightedText if selected
                                     else QPalette.ColorRole.PlaceholderText)
        painter.setPen(muted)
        text_rect = rect.adjusted(14, 0, 0, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         status)
        if holder:  # team projects: who holds the image, live ("you" for this window's role)
            width = painter.fontMetrics().horizontalAdvance(status + " ")
            painter.setPen(muted if selected else QColor(HOLDER_COLORS[holder == "you"]))
            bold = QFont(font)
            bold.setBold(True)
            painter.setFont(bold)
            room = text_rect.adjusted(width, 0, 0, 0)
            painter.drawText(room, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             "· " + painter.fontMetrics().elidedText(
                                 holder, Qt.TextElideMode.ElideRight, max(0, room.width() - 12)))
