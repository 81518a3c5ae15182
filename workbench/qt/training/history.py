"""Run history: past runs from the project database, newest first, with "load for prediction"."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.runs import CHOOSABLE, Run, RunStatus
from workbench.qt.training.epoch_table import format_seconds
from workbench.qt.training.hover import format_value

# No "started" column: run ids are their start time already (its tooltip says it in full), and
# the table must fit a dock under the image without cutting columns.
COLUMNS = ("run", "status", "size", "epochs", "LR", "best metric", "time")
CURRENT_MARK = "★ "  # before the id of the current model


def started_text(run: Run) -> str:
    return datetime.fromtimestamp(run.created_at).strftime("%Y-%m-%d %H:%M")


def run_row(run: Run) -> list[str]:
    """The texts of one history row (columns as in COLUMNS)."""
    config = run.config
    duration = (format_seconds(run.finished_at - run.created_at)
                if run.finished_at is not None else "")
    lrs = config.get("lrs")
    if lrs:
        lr_text = f"{format_value(float(lrs[0]))}…{format_value(float(lrs[1]))}"
    else:
        lr = config.get("lr")
        lr_text = format_value(float(lr)) if lr else "auto"
    best_text = ""
    if run.best_metric is not None and math.isfinite(run.best_metric):
        best_text = f"{run.metric_name or 'metric'} {run.best_metric:.4f}"
    epochs = run.epochs or config.get("epochs") or ""
    status = f"refit {run.status.value}" if run.is_refit else run.status.value
    return [run.run_id, status, "→".join(str(s) for s in run.sizes), str(epochs), lr_text,
            best_text, duration]


def run_tooltip(run: Run, current: bool) -> str:
    lines = [f"started {started_text(run)}"]
    if current:
        lines.append("the current model: predictions, Mistakes and Refit use it")
    if run.parent:
        lines.append(f"refit of {run.parent} on {len(run.queue_items)} image(s)")
    guard = run.guard or {}
    if guard.get("reasons"):
        verdict = "kept anyway" if guard.get("kept_anyway") else (
            "kept" if guard.get("accepted") else "rejected: the previous model was kept")
        lines.append(f"{verdict} ({'; '.join(guard['reasons'])})")
    return "\n".join(lines)


class RunHistory(QWidget):
    """List of runs, newest first, the current model marked. Emits ``loadRequested`` (predict
    with the run), ``useRequested`` (make it the model) and ``deleteRequested`` (run id)."""

    loadRequested = Signal(str)
    useRequested = Signal(str)
    deleteRequested = Signal(str)
    refreshRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setObjectName("runHistory")
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.load_button = QPushButton("Load for prediction")
        self.load_button.setObjectName("loadRunButton")
        self.load_button.setToolTip("Predict all images with this run's model; the annotation "
                                    "panel can then start from these predictions")
        self.use_button = QPushButton("Use as the model")
        self.use_button.setObjectName("useRunButton")
        self.use_button.setToolTip("Make this run the current model: predictions, Mistakes and "
                                   "Refit use it (a rejected refit is kept anyway)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("deleteRunButton")
        self.delete_button.setToolTip("Delete this run with its checkpoint and predictions "
                                      "(not the current model)")
        self.refresh_button = QPushButton("Refresh")
        for button in (self.load_button, self.use_button, self.delete_button):
            button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(
            lambda *_: self._emit(self.load_button, self.loadRequested))
        self.load_button.clicked.connect(lambda: self._emit(self.load_button, self.loadRequested))
        self.use_button.clicked.connect(lambda: self._emit(self.use_button, self.useRequested))
        self.delete_button.clicked.connect(
            lambda: self._emit(self.delete_button, self.deleteRequested))
        self.refresh_button.clicked.connect(self.refreshRequested.emit)
        self._busy = False
        self._runs: dict[str, Run] = {}
        self.current: str | None = None

    def set_runs(self, runs: Sequence[Run], current: str | None = None) -> None:
        """Show ``runs`` (newest first) with ``current`` marked as the model."""
        selected = self.selected_run_id()
        self.tree.clear()
        self._runs = {r.run_id: r for r in runs}
        self.current = current
        for run in runs:
            row = run_row(run)
            item = QTreeWidgetItem([CURRENT_MARK + row[0] if run.run_id == current else row[0],
                                    *row[1:]])
            item.setData(0, Qt.ItemDataRole.UserRole, run.run_id)
            item.setToolTip(0, run_tooltip(run, run.run_id == current))
            if run.error:
                item.setToolTip(1, run.error)
            elif run.guard and run.guard.get("reasons"):
                item.setToolTip(1, run_tooltip(run, run.run_id == current))
            if run.run_id == current:
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
            self.tree.addTopLevelItem(item)
            if run.run_id == selected:
                item.setSelected(True)
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self._selection_changed()

    def run_ids(self) -> list[str]:
        return [str(self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole))
                for i in range(self.tree.topLevelItemCount())]

    def selected_run_id(self) -> str | None:
        items = self.tree.selectedItems()
        return str(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def select_run(self, run_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == run_id)

    def set_busy(self, busy: bool) -> None:
        """Loading needs the training thread; disabled while a job runs."""
        self._busy = busy
        self._selection_changed()

    def _selection_changed(self) -> None:
        run = self._runs.get(self.selected_run_id() or "")
        ended = run is not None and run.status is not RunStatus.RUNNING
        choosable = ended and run is not None and run.status in (CHOOSABLE | {RunStatus.REJECTED})
        self.load_button.setEnabled(ended and not self._busy)
        self.use_button.setEnabled(choosable and run is not None
                                   and run.run_id != self.current and not self._busy)
        self.delete_button.setEnabled(ended and run is not None and run.run_id != self.current
                                      and not self._busy)

    def _emit(self, button: QPushButton, signal: SignalInstance) -> None:
        run_id = self.selected_run_id()
        if run_id and button.isEnabled():
            signal.emit(run_id)
