"""Run history: past runs from the project database, newest first, with "load for prediction"."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.training.epoch_table import format_seconds
from workbench.qt.training.hover import format_value

# No "started" column: run ids are their start time already (its tooltip says it in full), and
# the table must fit a dock under the image without cutting columns.
COLUMNS = ("run", "status", "size", "epochs", "LR", "best metric", "time")


def _timestamp(value: object) -> float | None:
    """Seconds since the epoch from a float or an ISO-8601 string; None if unknown."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def run_config(run: Mapping[str, Any]) -> dict[str, Any]:
    config = run.get("config") or {}
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except json.JSONDecodeError:
            config = {}
    return dict(config) if isinstance(config, Mapping) else {}


def started_text(run: Mapping[str, Any]) -> str:
    started = _timestamp(run.get("started_at") or run.get("created_at"))
    return datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M") if started else ""


def run_row(run: Mapping[str, Any]) -> list[str]:
    """The texts of one history row (columns as in COLUMNS)."""
    config = run_config(run)
    started = _timestamp(run.get("started_at") or run.get("created_at"))
    finished = _timestamp(run.get("finished_at"))
    duration = format_seconds(finished - started) if started and finished else ""
    lrs = config.get("lrs")
    if lrs:
        lr_text = f"{format_value(float(lrs[0]))}…{format_value(float(lrs[1]))}"
    else:
        lr = config.get("lr")
        lr_text = format_value(float(lr)) if lr else "auto"
    sizes = config.get("resize") or [config.get("size")]
    size_text = "→".join(str(s) for s in sizes if s)
    best = run.get("best_metric")
    best_text = ""
    if isinstance(best, int | float) and math.isfinite(best):
        best_text = f"{run.get('metric_name') or 'metric'} {best:.4f}"
    epochs = run.get("epochs") or config.get("epochs") or ""
    return [str(run.get("run_id") or run.get("id") or ""),
            str(run.get("status") or ""), size_text, str(epochs), lr_text, best_text, duration]


class RunHistory(QWidget):
    """List of runs; emits ``loadRequested(run_id)`` for the selected finished run."""

    loadRequested = Signal(str)
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
        self.load_button.setEnabled(False)
        self.refresh_button = QPushButton("Refresh")
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self._request_load())
        self.load_button.clicked.connect(self._request_load)
        self.refresh_button.clicked.connect(self.refreshRequested.emit)
        self._busy = False

    def set_runs(self, runs: Sequence[Mapping[str, Any]]) -> None:
        selected = self.selected_run_id()
        self.tree.clear()
        for run in runs:
            item = QTreeWidgetItem(run_row(run))
            item.setData(0, Qt.ItemDataRole.UserRole, item.text(0))
            item.setData(1, Qt.ItemDataRole.UserRole, str(run.get("status") or ""))
            item.setToolTip(0, f"started {started_text(run)}")
            if run.get("error"):
                item.setToolTip(1, str(run["error"]))
            self.tree.addTopLevelItem(item)
            if item.text(0) == selected:
                item.setSelected(True)
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self._selection_changed()

    def run_ids(self) -> list[str]:
        return [self.tree.topLevelItem(i).text(0) for i in range(self.tree.topLevelItemCount())]

    def selected_run_id(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].text(0) if items else None

    def select_run(self, run_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setSelected(item.text(0) == run_id)

    def set_busy(self, busy: bool) -> None:
        """Loading needs the training thread; disabled while a job runs."""
        self._busy = busy
        self._selection_changed()

    def _selection_changed(self) -> None:
        items = self.tree.selectedItems()
        loadable = bool(items) and items[0].data(1, Qt.ItemDataRole.UserRole) != "running"
        self.load_button.setEnabled(loadable and not self._busy)

    def _request_load(self) -> None:
        run_id = self.selected_run_id()
        if run_id and self.load_button.isEnabled():
            self.loadRequested.emit(run_id)
