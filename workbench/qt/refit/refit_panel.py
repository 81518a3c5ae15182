"""Refit controls under the queue: epochs, learning rate, replay, the Refit button
(objectName ``refitButton``) and the before / after table of the last refit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# One column per image set, one row per figure, "before → after" in each cell: narrow enough
# for the queue dock, where four before/after columns were cut to "0.4…".
COLUMNS = (("queue", "queued images"), ("valid", "validation"))


def main_metric(values: Mapping[str, Any]) -> str | None:
    """The task's headline metric: the first value after the loss (dice_mean, f2, …)."""
    return next((k for k in values if k != "loss"), None)


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{float(value):.3f}"


def before_after(before: Any, after: Any) -> str:
    return f"{_fmt(before)} → {_fmt(after)}"


class RefitControls(QWidget):
    """Emits ``refitRequested(epochs, lr or 0 for the default, replay)``."""

    refitRequested = Signal(int, float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("refitControls")
        self.epochs = QSpinBox()
        self.epochs.setObjectName("refitEpochs")
        self.epochs.setRange(1, 50)
        self.epochs.setValue(2)
        self.lr = QLineEdit()
        self.lr.setObjectName("refitLr")
        self.lr.setPlaceholderText("auto: 2 × the run's last LR")
        self.lr.setToolTip("Maximum learning rate of the refit's one-cycle; empty = twice the "
                           "parent run's last stage (the lesson's higher learning rate)")
        self.replay = QDoubleSpinBox()
        self.replay.setObjectName("refitReplay")
        self.replay.setRange(0.0, 1.0)
        self.replay.setSingleStep(0.1)
        self.replay.setValue(0.5)
        self.replay.setToolTip("Fraction of the rest of the training set mixed into every "
                               "epoch, so the model does not forget what it knew")
        self.button = QPushButton("Refit on queue")
        self.button.setObjectName("refitButton")
        self.button.setProperty("primary", True)
        self.button.setToolTip("Fine-tune the selected run on the pending corrections; the "
                               "new run appears in History")
        self.button.clicked.connect(self._request)
        self.status = QLabel()
        self.status.setObjectName("refitStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(2, len(COLUMNS))
        self.table.setObjectName("refitBeforeAfter")
        self.table.setHorizontalHeaderLabels([label for _, label in COLUMNS])
        self.table.setVerticalHeaderLabels(["loss", "metric"])
        # Columns as wide as "0.345 → 0.338", and the dock as wide as the table: never elided.
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMaximumHeight(self.table.verticalHeader().length()
                                    + self.table.horizontalHeader().sizeHint().height() + 6)
        self.table.setVisible(False)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Epochs"))
        row.addWidget(self.epochs)
        row.addWidget(QLabel("Replay"))
        row.addWidget(self.replay)
        form.addRow(row)
        form.addRow("Max LR", self.lr)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.button)
        layout.addWidget(self.status)
        layout.addWidget(self.table)

    def lr_value(self) -> float | None:
        """The typed LR, None when empty; raises ValueError on anything else."""
        text = self.lr.text().strip()
        if not text:
            return None
        value = float(text)
        if not value > 0:
            raise ValueError("the learning rate must be above 0")
        return value

    def _request(self) -> None:
        try:
            lr = self.lr_value()
        except ValueError:
            self.status.setText(f"<b>Max LR</b> must be a positive number such as 1e-3, "
                                f"not “{self.lr.text()}”.")
            return
        self.refitRequested.emit(self.epochs.value(), lr or 0.0, self.replay.value())

    def set_busy(self, busy: bool, pending: int) -> None:
        self.button.setEnabled(not busy and pending > 0)
        self.button.setText(f"Refit on queue ({pending})" if pending else "Refit on queue")

    def show_result(self, result: Any) -> None:
        """Before / after of a RefitResult, side by side."""
        metric = main_metric(result.before.get("valid") or result.before.get("queue") or {})
        self.table.setVerticalHeaderLabels(["loss", metric or "metric"])
        for c, (key, _label) in enumerate(COLUMNS):
            before, after = result.before.get(key) or {}, result.after.get(key) or {}
            for r, figure in enumerate(("loss", metric)):
                text = before_after(before.get(figure) if figure else None,
                                    after.get(figure) if figure else None)
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.setVisible(True)
        self.table.resizeColumnsToContents()
        t = self.table  # the dock widens to the table's content
        header = max(t.verticalHeader().sizeHint().width(),
                     max(t.fontMetrics().horizontalAdvance(t.verticalHeaderItem(r).text())
                         for r in range(t.rowCount())) + 16)  # + the header's padding
        t.setMinimumWidth(header + 2 * t.frameWidth() + 12
                          + sum(t.columnWidth(c) for c in range(t.columnCount())))
        self.status.setText(f"Run <b>{result.run}</b> (refit of {result.parent} on "
                            f"{len(result.items)} image(s)) is in History; its predictions "
                            "are on disk.")
