"""The Queue panel (objectName ``correctionsQueue``): corrected images waiting for a refit.

Remove, move up / down (or drag), open (double-click), and the Refit button underneath. The
panel only edits the core queue; the table follows through the model's subscription.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.annotation.shortcuts import keys_of
from workbench.qt.refit.queue_model import CHANGE, THUMB, NameRole, QueueModel

THUMB_PX = 40


#: Adds the open image to the queue (the Corrections menu action; named in the hint here).
QUEUE_KEY = keys_of("queue_add")[0]

class QueueView(QTableView):
    """A table whose internal drags reorder the queue (and never delete the dragged row)."""

    def dropEvent(self, event: QDropEvent) -> None:
        if event.source() is not self:
            event.ignore()
            return
        index = self.indexAt(event.position().toPoint())
        row = index.row() if index.isValid() else self.model().rowCount()
        if index.isValid() and self.dropIndicatorPosition() == \
                QAbstractItemView.DropIndicatorPosition.BelowItem:
            row += 1
        self.model().dropMimeData(event.mimeData(), Qt.DropAction.MoveAction, row, 0,
                                  QModelIndex())
        # Ignore as far as the drag source is concerned: the model already moved the row, and
        # a MoveAction result would make the view delete the "source" rows afterwards.
        event.setDropAction(Qt.DropAction.IgnoreAction)
        event.accept()


class QueuePanel(QWidget):
    """Lists the queue; ``openRequested(name)`` asks the window to show an image."""

    openRequested = Signal(str)
    countChanged = Signal(int)  # pending items, for the dock / tab badge

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("correctionsQueue")
        self.model = model
        self.view = QueueView()
        self.view.setObjectName("queueTable")
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.view.setDragEnabled(True)
        self.view.setAcceptDrops(True)
        self.view.setDropIndicatorShown(True)
        self.view.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(THUMB_PX + 8)
        self.view.setWordWrap(True)  # "what changed" takes two lines in a narrow dock
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(CHANGE, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(CHANGE, 150)
        header.setStretchLastSection(True)
        header.resizeSection(THUMB, THUMB_PX + 8)
        self.view.doubleClicked.connect(self._open_index)
        self.hint = QLabel()
        self.hint.setObjectName("queueHint")
        self.hint.setWordWrap(True)
        self.up_button = _button("queueUpButton", "Up", "Move the selected item up")
        self.down_button = _button("queueDownButton", "Down", "Move the selected item down")
        self.remove_button = _button("queueRemoveButton", "Remove",
                                     "Take the selected item out of the queue (Delete)")
        self.open_button = _button("queueOpenButton", "Open",
                                   "Show the image in the annotation panel (double-click)")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        self.remove_button.clicked.connect(self.remove_selected)
        self.open_button.clicked.connect(self.open_selected)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.view)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_selected)
        buttons = QHBoxLayout()
        for button in (self.up_button, self.down_button, self.remove_button, self.open_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.footer = QVBoxLayout()  # the refit controls go here
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.hint)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addLayout(self.footer)
        model.modelReset.connect(self._changed)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._sync_buttons())
        self._changed()

    # -- commands --------------------------------------------------------------------------
    def selected_row(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.view.selectRow(row)

    def move_selected(self, step: int) -> None:
        row = self.selected_row()
        if row < 0:
            return
        item = self.model.item_at(row)
        target = max(0, min(row + step, self.model.rowCount() - 1))
        self.model.queue.move(item.id, target)
        self.select_row(self.model.row_of(item.id))

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row >= 0:
            self.model.queue.remove([self.model.item_at(row).id])
            self.select_row(min(row, self.model.rowCount() - 1))

    def open_selected(self) -> None:
        row = self.selected_row()
        if row >= 0:
            self.openRequested.emit(self.model.item_at(row).image)

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(str(index.data(NameRole)))

    # -- state -----------------------------------------------------------------------------
    def _changed(self) -> None:
        pending = self.model.pending_count()
        done = self.model.rowCount() - pending
        if self.model.rowCount() == 0:
            self.hint.setText("No corrections yet. Open a mistake with “Correct this”, fix "
                              f"it and it lands here; {QUEUE_KEY} queues the open image.")
        else:
            self.hint.setText(f"{pending} pending" + (f", {done} used by earlier refits"
                                                      if done else "")
                              + ". Drag or use Up / Down to reorder.")
        self._sync_buttons()
        self.countChanged.emit(pending)

    def _sync_buttons(self) -> None:
        selected = self.selected_row() >= 0
        for button in (self.up_button, self.down_button, self.remove_button, self.open_button):
            button.setEnabled(selected)


def badge_title(title: str, pending: int) -> str:
    """'Queue' or 'Queue (3)': the dock / tab title with its count of pending items."""
    return f"{title} ({pending})" if pending else title


def _button(name: str, text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button
