"""Image galleries: the "show batch" preview and validation predictions next to their targets.

Tiles are (RGB uint8 array, caption) cells made on the training thread by
``workbench.training.visualize``; this widget only converts them to pixmaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:  # visualize imports torch; the preview only needs the type
    from workbench.training.visualize import Cell as Tile


TILE_PX = 150


def ndarray_to_qimage(image: np.ndarray) -> QImage:
    """uint8 HxW or HxWx3/4 array -> QImage that owns a copy of the pixels."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW or HxWx3/4 image, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    height, width, channels = arr.shape
    fmt = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
    return QImage(arr.data, width, height, channels * width, fmt).copy()


class Gallery(QWidget):
    """A title and a grid of captioned image tiles."""

    def __init__(self, title: str, empty_text: str, columns: int = 4,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self._empty_text = empty_text
        self.tiles: list[Tile] = []
        self.title = QLabel(f"<b>{title}</b>")
        self.note = QLabel(empty_text)
        self.note.setWordWrap(True)
        self._grid = QGridLayout()
        self._grid.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.note)
        layout.addLayout(self._grid)
        layout.addStretch(1)

    def set_tiles(self, tiles: Sequence[Tile], note: str = "") -> None:
        self.tiles = list(tiles)
        while self._grid.count():
            widget = self._grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        for i, (image, caption) in enumerate(self.tiles):
            self._grid.addWidget(self._tile(image, caption), i // self.columns, i % self.columns)
        self.note.setText(note or ("" if self.tiles else self._empty_text))
        self.note.setVisible(bool(self.note.text()))

    def clear(self) -> None:
        self.set_tiles([])

    def _tile(self, image: np.ndarray, caption: str) -> QWidget:
        tile = QWidget()
        picture = QLabel()
        pixmap = QPixmap.fromImage(ndarray_to_qimage(image))
        picture.setPixmap(pixmap.scaled(TILE_PX, TILE_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(caption)
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        text.setMaximumWidth(TILE_PX + 20)
        box = QVBoxLayout(tile)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(picture)
        box.addWidget(text)
        return tile
