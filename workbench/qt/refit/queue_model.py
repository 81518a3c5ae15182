"""The corrections queue as a Qt table model over the core :class:`RefitQueue`.

The model holds a snapshot of ``queue.items()`` and re-reads it whenever the queue reports a
change (every writer goes through the same RefitQueue object), so the GUI and the CLI-facing
core object can never disagree about order or state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QThread,
    Signal,
)
from PySide6.QtGui import QColor, QPixmap

from workbench.core.queue import QueueItem, RefitQueue, describe_change

Index = QModelIndex | QPersistentModelIndex
ItemIdRole = Qt.ItemDataRole.UserRole + 1
NameRole = Qt.ItemDataRole.UserRole + 2
COLUMNS = ("", "image", "state", "what changed", "run", "added")
THUMB, IMAGE, STATE, CHANGE, RUN, ADDED = range(len(COLUMNS))
MIME = "application/x-workbench-queue-ids"

Thumbnails = Callable[[str], QPixmap | None]


def format_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds)
    same_day = moment.date() == datetime.now().date()
    return moment.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


class QueueModel(QAbstractTableModel):
    """One row per queue item, in queue order; any item can be dragged to a new row (the order
    is the refit's only for pending items)."""

    _queueChanged = Signal()

    def __init__(self, queue: RefitQueue, thumbnails: Thumbnails | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self._thumbnails = thumbnails
        self._items: list[QueueItem] = queue.items()
        # The queue may change on the training thread (a refit marks items used): the
        # signal hops to this model's thread before the rows are touched.
        self._queueChanged.connect(self.reload, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = queue.subscribe(self._on_queue_changed)
        self.destroyed.connect(lambda *_: self._unsubscribe())

    # -- Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item, column = self._items[index.row()], index.column()
        if role == ItemIdRole:
            return item.id
        if role == NameRole:
            return item.image
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(item, column)
        if role == Qt.ItemDataRole.DecorationRole and column == THUMB:
            return self._thumbnails(item.image) if self._thumbnails is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item)
        if role == Qt.ItemDataRole.ForegroundRole and item.used:
            return QColor(128, 128, 128)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        flags = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                 | Qt.ItemFlag.ItemNeverHasChildren)
        return flags | Qt.ItemFlag.ItemIsDragEnabled

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        ids = sorted({int(i.data(ItemIdRole)) for i in indexes if i.isValid()})
        mime = QMimeData()
        mime.setData(MIME, QByteArray(",".join(map(str, ids)).encode()))
        return mime

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: Index) -> bool:
        """Move the dragged items to ``row`` (or the dropped-on row); the queue reorders."""
        if action != Qt.DropAction.MoveAction or not data.hasFormat(MIME):
            return False
        raw = bytes(data.data(MIME).data()).decode()
        ids = [int(x) for x in raw.split(",") if x]
        target = row if row >= 0 else (parent.row() if parent.isValid() else len(self._items))
        rows = [self.row_of(i) for i in ids]
        before = sum(1 for r in rows if 0 <= r < target)  # dragged rows above the target
        for offset, item_id in enumerate(ids):
            self.queue.move(item_id, target - before + offset)
        return bool(ids)

    # -- our API ---------------------------------------------------------------------------
    def _on_queue_changed(self) -> None:
        if QThread.currentThread() is self.thread():
            self.reload()
        else:
            self._queueChanged.emit()

    def reload(self) -> None:
        self.beginResetModel()
        self._items = self.queue.items()
        self.endResetModel()

    def items(self) -> list[QueueItem]:
        return list(self._items)

    def item_at(self, row: int) -> QueueItem:
        return self._items[row]

    def row_of(self, item_id: int) -> int:
        return next((r for r, i in enumerate(self._items) if i.id == item_id), -1)

    def pending_count(self) -> int:
        return sum(1 for i in self._items if not i.used)

    def thumbnail_ready(self, name: str) -> None:
        """The thumbnail provider has a new picture for ``name``: repaint its rows."""
        for row, item in enumerate(self._items):
            if item.image == name:
                index = self.index(row, THUMB)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    # -- texts -----------------------------------------------------------------------------
    @staticmethod
    def _text(item: QueueItem, column: int) -> str | None:
        if column == IMAGE:
            return item.image
        if column == CHANGE:
            return describe_change(item.change) or item.reason or "added by hand"
        if column == RUN:
            return item.run_id or ""
        if column == ADDED:
            return format_time(item.added_at)
        if column == STATE:
            return "done" if item.used else "pending"  # the run is in the tooltip
        return None

    @staticmethod
    def _tooltip(item: QueueItem) -> str:
        lines = [item.image]
        if item.reason:
            lines.append(f"Why: {item.reason}")
        if item.score is not None:
            lines.append(f"Score that surfaced it: {item.score:.4g}")
        if item.run_id:
            lines.append(f"Run that got it wrong: {item.run_id}")
        if item.used:
            lines.append(f"Used by refit run {item.used_by}")
        return "\n".join(lines)
