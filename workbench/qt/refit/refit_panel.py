"""Refit controls under the queue: epochs, learning rate, replay, the Refit button
(objectName ``refitButton``), the before / after table of the last refit with the guard's
verdict, and "Use the refit anyway" (``keepRefitButton``) when the guard kept the previous
model."""

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
    if value is None:
        return "–"
    value = float(value)
    # A blown-up loss (1e8) in fixed notation would widen the dock past the screen.
    return f"{value:.3f}" if abs(value) < 1e4 else f"{value:.2g}"


def before_after(before: Any, after: Any) -> str:
    return f"{_fmt(before)} → {_fmt(after)}"


def change_text(before: Any, after: Any) -> str:
    """'0.927 → 0.858 (−0.069)': the change spelt out, for the figure the guard judges."""
    text = before_after(before, after)
    if before is None or after is None:
        return text
    delta = float(after) - float(before)
    return f"{text} ({'+' if delta >= 0 else '−'}{abs(delta):.3f})"


class RefitControls(QWidget):
    """Emits ``refitRequested(epochs, lr or 0 for the default, replay)``."""

    refitRequested = Signal(int, float, float)
    keepRequested = Signal(str)  # run id of a rejected refit to use anyway

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("refitControls")
        self.epochs = QSpinBox()
        self.epochs.setObjectName("refitEpochs")
        self.epochs.setRange(1, 50)
        self.epochs.setValue(2)
        self.lr = QLineEdit()
        self.lr.setObjectName("refitLr")
        self.lr.setPlaceholderText("auto: measured on the queue")
        self.lr.setToolTip("Maximum learning rate of the refit's one-cycle; empty = measured by "
                           "a short LR sweep on the queue and replay images, at most the "
                           "current model's own rate")
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
        self.button.setToolTip("Fine-tune the current model on the pending corrections; the "
                               "new run appears in History and becomes the model unless it "
                               "makes validation worse")
        self.button.clicked.connect(self._request)
        self.keep_button = QPushButton("Use the refit anyway")
        self.keep_button.setObjectName("keepRefitButton")
        self.keep_button.setToolTip("Make the rejected refit the current model although "
                                    "validation got worse")
        self.keep_button.setVisible(False)
        self.keep_button.clicked.connect(self._keep)
        self._rejected: str | None = None
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
        layout.addWidget(self.keep_button)

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

    def _keep(self) -> None:
        if self._rejected is not None:
            self.keepRequested.emit(self._rejected)

    def set_busy(self, busy: bool, pending: int, model: str | None = None) -> None:
        """``model``: the run a refit would start from (None: no model yet)."""
        self.button.setEnabled(not busy and pending > 0 and model is not None)
        self.button.setText(f"Refit on queue ({pending})" if pending else "Refit on queue")
        self.keep_button.setEnabled(not busy)
        if model is not None:
            self.button.setToolTip(f"Fine-tune run {model} (the current model) on the pending "
                                   "corrections; it stays the model if validation gets worse")

    def show_result(self, result: Any) -> None:
        """Before / after of a RefitResult side by side, and the guard's verdict."""
        metric = main_metric(result.before.get("valid") or result.before.get("queue") or {})
        self.table.setVerticalHeaderLabels(["loss", metric or "metric"])
        for c, (key, _label) in enumerate(COLUMNS):
            before, after = result.before.get(key) or {}, result.after.get(key) or {}
            for r, figure in enumerate(("loss", metric)):
                show = change_text if (key == "valid" and figure == metric) else before_after
                text = show(before.get(figure) if figure else None,
                            after.get(figure) if figure else None)
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.setVisible(True)
        self._fit_table()
        verdict = result.verdict
        self._rejected = None if result.accepted else result.run
        self.keep_button.setVisible(not result.accepted)
        if verdict.kept_anyway:
            text = (f"Run <b>{result.run}</b> was kept although validation got worse "
                    f"({'; '.join(verdict.reasons)}). It is the current model.")
        elif result.accepted:
            text = (f"Run <b>{result.run}</b> (refit of {result.parent} on "
                    f"{len(result.items)} image(s)) is the current model; its predictions "
                    "are on disk.")
        else:
            text = (f"<b>Kept the previous model</b> {result.parent}: the refit "
                    f"{result.run} was rejected because {'; '.join(verdict.reasons)}. The "
                    "queue items stay pending.")
        self.status.setText(text)

    def show_kept(self, run_id: str) -> None:
        """The user kept the rejected refit ``run_id``."""
        self._rejected = None
        self.keep_button.setVisible(False)
        self.status.setText(f"Run <b>{run_id}</b> was kept anyway: it is the current model.")

    def _fit_table(self) -> None:
        """Columns as wide as their text, and the dock as wide as the table: never elided."""
        t = self.table
        t.resizeColumnsToContents()
        header = max(t.verticalHeader().sizeHint().width(),
                     max(t.fontMetrics().horizontalAdvance(t.verticalHeaderItem(r).text())
                         for r in range(t.rowCount())) + 16)  # + the header's padding
        t.setMinimumWidth(header + 2 * t.frameWidth() + 12
                          + sum(t.columnWidth(c) for c in range(t.columnCount())))
