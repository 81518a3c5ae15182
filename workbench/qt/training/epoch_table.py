"""fast.ai-style epoch table: epoch, train loss, valid loss, one column per metric, time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex


@dataclass
class EpochRow:
    epoch: int  # 0-based, shown 0-based like fast.ai
    train_loss: float
    valid_loss: float
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    stage: str = ""


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _fmt(value: float) -> str:
    return f"{value:.6f}" if math.isfinite(value) else "nan"


class EpochTableModel(QAbstractTableModel):
    """Rows appended as epochs end; columns follow the run's metric names."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[EpochRow] = []
        self._metric_names: list[str] = []

    @property
    def rows(self) -> list[EpochRow]:
        return list(self._rows)

    def headers(self) -> list[str]:
        return ["stage", "epoch", "train_loss", "valid_loss", *self._metric_names, "time"]

    def reset(self, metric_names: Sequence[str] = ()) -> None:
        self.beginResetModel()
        self._rows = []
        self._metric_names = list(metric_names)
        self.endResetModel()

    def set_metric_names(self, metric_names: Sequence[str]) -> None:
        """A later stage may report other metrics; keep existing rows, widen the columns."""
        names = list(metric_names)
        if names == self._metric_names:
            return
        self.beginResetModel()
        self._metric_names = list(dict.fromkeys([*self._metric_names, *names]))
        self.endResetModel()

    def append(self, row: EpochRow) -> None:
        for name in row.metrics:
            if name not in self._metric_names:
                self.set_metric_names([*self._metric_names, name])
        position = len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.append(row)
        self.endInsertRows()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.headers())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        row = self._rows[index.row()]
        column = self.headers()[index.column()]
        if column == "stage":
            return row.stage
        if column == "epoch":
            return str(row.epoch)
        if column == "train_loss":
            return _fmt(row.train_loss)
        if column == "valid_loss":
            return _fmt(row.valid_loss)
        if column == "time":
            return format_seconds(row.seconds)
        value = row.metrics.get(column)
        return "" if value is None else _fmt(value)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        headers = self.headers()
        return headers[section] if 0 <= section < len(headers) else None


class EpochTable(QTableView):
    """Read-only view of an :class:`EpochTableModel` that scrolls to the newest epoch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("epochTable")
        self.table_model = EpochTableModel(self)
        self.setModel(self.table_model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.table_model.rowsInserted.connect(lambda *_: self.scrollToBottom())
