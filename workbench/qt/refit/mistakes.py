"""The Mistakes view (objectName ``topLossesView``): a run's validation images, highest loss
first, each as label | prediction | errors (or the image with its wrong tags), with the most
confused pairs above. Scoring runs on the training thread; double-click or "Correct this"
asks the window to open the image as a correction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.training.preview import ndarray_to_qimage

ICON_PX = 96  # largest tile side; rows shrink (down to MIN_ICON_PX) so MIN_ROWS fit
MIN_ICON_PX = 32
MIN_ROWS = 4
NameRole = Qt.ItemDataRole.UserRole + 1


def confused_text(task: str, rows: Sequence[dict[str, Any]], limit: int = 4) -> str:
    """'Most confused: nucleus → background 1,204 px · …' or 'Most confused tags: …'."""
    if not rows:
        return "No confusions: every validation image is right."
    if task == "segmentation":
        parts = [f"{r['actual']} → {r['predicted']} {r['pixels']:,} px" for r in rows[:limit]]
        return "Most confused (actual → predicted): " + " · ".join(parts)
    parts = [f"{r['tag']} (missed {r['missed']}, extra {r['extra']})" for r in rows[:limit]]
    return "Most confused tags: " + " · ".join(parts)


def score_text(item: Any) -> str:
    lines = [f"loss {item.loss:.3f}"]
    if item.probs is None:
        lines.append("Dice n/a" if item.dice is None else f"Dice {item.dice:.3f}")
    else:
        probs = item.probs or {}
        lines += [f"missed {t} ({probs.get(t, 0):.2f})" for t in item.missed]
        lines += [f"extra {t} ({probs.get(t, 0):.2f})" for t in item.extra]
        if not item.missed and not item.extra:
            lines.append("all tags right")
    return "\n".join(lines)


class MistakesView(QWidget):
    """Top losses of one run; ``correctRequested(image, run_id, loss)``."""

    correctRequested = Signal(str, str, float)
    scoreRequested = Signal()  # the user asked to (re)score the selected run

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("topLossesView")
        self.run_id: str | None = None
        self.result: Any = None
        self.run_label = QLabel("No model yet: train one first.")
        self.run_label.setWordWrap(True)
        self.run_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.find_button = QPushButton("Find mistakes")
        self.find_button.setObjectName("findMistakesButton")
        self.find_button.setToolTip("Score every validation image with the run's model, "
                                    "highest loss first")
        self.find_button.clicked.connect(self.scoreRequested)
        self.top_box = QSpinBox()
        self.top_box.setObjectName("mistakesTop")
        self.top_box.setRange(1, 500)
        self.top_box.setValue(24)
        self.top_box.setPrefix("show ")
        self.top_box.setToolTip("How many of the highest losses to show")
        self.correct_button = QPushButton("Correct this")
        self.correct_button.setObjectName("correctThisButton")
        self.correct_button.setToolTip("Open the selected image in the annotation panel; "
                                       "saving it puts it in the corrections queue")
        self.correct_button.setEnabled(False)
        self.correct_button.clicked.connect(self.correct_selected)
        self.progress = QProgressBar()
        self.progress.setObjectName("mistakesProgress")
        self.progress.setVisible(False)
        self.confused = QLabel()
        self.confused.setObjectName("mostConfused")
        self.confused.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("mistakesTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(ICON_PX, ICON_PX))
        self.table.verticalHeader().setDefaultSectionSize(ICON_PX + 6)
        self.table.verticalHeader().setVisible(False)
        self.table.itemDoubleClicked.connect(lambda *_: self.correct_selected())
        self.table.viewport().installEventFilter(self)  # rows follow the height it gets
        self.table.itemSelectionChanged.connect(
            lambda: self.correct_button.setEnabled(self.selected_image() is not None))
        # One line of controls with the run beside them: the dock is wide and short, and every
        # line above the table cost it a row.
        row = QHBoxLayout()
        row.addWidget(self.find_button)
        row.addWidget(self.top_box)
        row.addWidget(self.run_label, 1)
        row.addWidget(self.correct_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.confused)
        layout.addWidget(self.table, 1)

    # -- state -----------------------------------------------------------------------------
    def set_run(self, run_id: str | None) -> None:
        if run_id == self.run_id:
            return
        self.run_id = run_id
        self.show_result(None)
        self.run_label.setText(f"Run <b>{run_id}</b> (the current model)" if run_id else
                               "No model yet: train one first.")
        self.find_button.setEnabled(run_id is not None)

    def set_busy(self, busy: bool) -> None:
        self.find_button.setEnabled(not busy and self.run_id is not None)

    def show_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{what}: {done} / {total}")

    def hide_progress(self) -> None:
        self.progress.setVisible(False)

    def show_result(self, result: Any) -> None:
        """Fill the grid from a :class:`MistakesResult` (None clears it)."""
        self.result = result
        self.table.clear()
        self.table.setRowCount(0)
        if result is None:
            self.confused.setText("")
            return
        interp = result.interp
        self.run_id = interp.run
        seg = interp.task == "segmentation"
        headers = ["label", "prediction", "errors", "scores"] if seg else ["image", "scores"]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(result.cells))
        for row, (item, cells) in enumerate(zip(interp.items, result.cells)):
            for col, (tile, _caption) in enumerate(cells[:len(headers) - 1]):
                cell = QTableWidgetItem()
                cell.setIcon(QIcon(QPixmap.fromImage(ndarray_to_qimage(tile))))
                cell.setData(NameRole, item.image)
                cell.setToolTip(item.image)
                self.table.setItem(row, col, cell)
            text = QTableWidgetItem(f"{item.image}\n{score_text(item)}")
            text.setData(NameRole, item.image)
            text.setData(Qt.ItemDataRole.UserRole, item.loss)
            self.table.setItem(row, len(headers) - 1, text)
        self._fit_rows()
        self.confused.setText(confused_text(interp.task, interp.most_confused))
        shown = len(result.cells)
        note = " (from the saved scores)" if result.cached else ""
        self.run_label.setText(f"Run <b>{interp.run}</b>: {shown} highest losses of "
                               f"{len(interp.items)} validation images{note}. "
                               "Double-click one to correct it.")

    def icon_px(self) -> int:
        """The tile side that lets MIN_ROWS rows fit the table's height (within limits)."""
        return max(MIN_ICON_PX, min(ICON_PX, self.table.viewport().height() // MIN_ROWS - 6))

    def _fit_rows(self) -> None:
        px = self.icon_px()
        self.table.setIconSize(QSize(px, px))
        self.table.verticalHeader().setDefaultSectionSize(px + 6)
        for row in range(self.table.rowCount()):
            self.table.setRowHeight(row, px + 6)
        columns = self.table.columnCount()
        header = self.table.horizontalHeader()
        for col in range(columns - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(col, px + 10)
        if columns:
            header.setSectionResizeMode(columns - 1, QHeaderView.ResizeMode.Stretch)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_rows()
        return False

    def images(self) -> list[str]:
        return [str(self.table.item(r, 0).data(NameRole)) for r in range(self.table.rowCount())]

    def selected_image(self) -> str | None:
        items = self.table.selectedItems()
        return str(items[0].data(NameRole)) if items else None

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def correct_selected(self) -> None:
        items = self.table.selectedItems()
        if not items or self.result is None:
            return
        row = items[0].row()
        item = self.result.interp.items[row]
        self.correctRequested.emit(item.image, self.result.interp.run, float(item.loss))
