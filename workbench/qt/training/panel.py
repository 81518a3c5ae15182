"""The training panel: start buttons and progress on top, settings beside the live views (or,
in a narrow dock, in a tab next to them).

The panel only wires parts together: ConfigForm/StageControls hold the settings, jobs.py does
the engine work on a JobRunner thread, RunMonitor feeds plots/progress/table, and the panel
turns job results and errors into messages. Nothing heavy runs on the GUI thread.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.qt.training.config_form import ConfigForm
from workbench.qt.training.devices import DeviceProbe
from workbench.qt.training.engine_state import EngineState
from workbench.qt.training.epoch_table import EpochTable
from workbench.qt.training.history import RunHistory
from workbench.qt.training.hover import format_value
from workbench.qt.training.lr_finder_plot import LRFinderPlot
from workbench.qt.training.monitor import RunMonitor
from workbench.qt.training.notices import NoticeBox
from workbench.qt.training.plots import LivePlots
from workbench.qt.training.preview import Gallery
from workbench.qt.training.progress import TrainingProgress
from workbench.qt.training.stages import StageControls
from workbench.qt.training.weights_dialog import WeightsDownloadDialog
from workbench.qt.training.worker import JobRunner, JobSignals
from workbench.training.config import TrainConfig
from workbench.training.reports import Notice

if TYPE_CHECKING:
    from workbench.core.project import Project
    from workbench.qt.training.jobs import Job

log = logging.getLogger(__name__)

BANNER_STYLES = {
    "error": "background:#fdecea; color:#611a15; border:1px solid #f5c2c0;",
    "warning": "background:#fff4e5; color:#663c00; border:1px solid #ffd8a8;",
    "ok": "background:#edf7ed; color:#1e4620; border:1px solid #b7dfb9;",
    "info": "background:#e8f4fd; color:#0d3c61; border:1px solid #b6dcf8;",
}
ERROR_TITLES = {
    "labels": "Not enough labelled images",
    "nan": "Training stopped: the loss is no longer a number",
    "oom": "Out of memory",
    "cancelled": "Cancelled",
    "error": "Training failed",
}
SETTINGS_WIDTH = 330  # the settings column when side by side with the plots
COMPACT_BELOW = 760  # narrower than this, settings move into a tab

JOB_TEXT = {"train": "Training", "lr_find": "LR finder running…",
            "show_batch": "Loading a batch…", "predict": "Predicting all images…"}


class TrainingPanel(QWidget):
    """Train models on the project's labels from a dock, on a background thread."""

    runFinished = Signal(str)
    jobStarted = Signal(object)  # the job's JobSignals relay, before its thread starts

    def __init__(self, project: Project, parent: QWidget | None = None,
                 config: TrainConfig | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.project = project
        self.engine = EngineState()
        self.runner = JobRunner(self)
        self.job_kind: str | None = None
        self.lr_find_iters = 100  # sweep length; tests and slow CPUs may shorten it
        self.last_result: object = None
        self.form = ConfigForm(config or TrainConfig(arch="resnet18", size=128, bs=8, epochs=3))
        self.stages = StageControls()
        self.plots = LivePlots()
        self.lr_finder = LRFinderPlot()
        self.table = EpochTable()
        self.batch_gallery = Gallery("Show batch", "Press “Show batch” to see augmented "
                                     "training samples with their labels.")
        self.pred_gallery = Gallery("Validation predictions",
                                    "After training, validation images appear here with their "
                                    "targets and the model's predictions.")
        self.history = RunHistory()
        self.progress = TrainingProgress()
        self.monitor = RunMonitor(self.plots, self.progress, self.table,
                                  list(project.classes), self)
        self._build_buttons()
        self._build_layout()
        self._connect()
        # Probing devices imports torch (seconds): do it once the event loop runs, off the GUI
        # thread, so the window shows at once.
        self._weights_dialog: WeightsDownloadDialog | None = None
        self._device_probe = DeviceProbe(self)
        self._device_probe.found.connect(self._devices_found)
        QTimer.singleShot(0, self._device_probe.start)
        self.stages.update_summary(self.form.config)
        self.refresh_history()
        self._set_busy(False)

    @Slot(list)
    def _devices_found(self, devices: list) -> None:
        self.form.device_picker.set_devices(devices, self.form.config.device)

    # ------------------------------------------------------------------ layout
    def _build_buttons(self) -> None:
        self.start_button = _button("trainStartButton", "Start", "Run the selected stages")
        self.stop_button = _button("trainStopButton", "Stop",
                                   "Stop after the current batch; the last checkpoint is kept")
        self.start_button.setProperty("primary", True)  # the accent button of the panel
        self.lr_find_button = _button("lrFindButton", "LR finder",
                                      "Sweep the learning rate to find a good max LR")
        self.show_batch_button = _button("showBatchButton", "Show batch",
                                         "Preview augmented training samples")
        self.save_plots_button = _button("savePlotsButton", "Save plots as PNG…",
                                         "Save the four training plots as one image")
        self.banner = QLabel()
        self.banner.setObjectName("trainMessage")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setVisible(False)
        self.notices = NoticeBox()  # what the engine chose on its own, under the banner

    def _build_layout(self) -> None:
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 6, 4, 0)
        settings = QGroupBox("Model")
        QVBoxLayout(settings).addWidget(self.form)
        column.addWidget(settings)
        column.addWidget(self.stages)
        column.addStretch(1)
        self.settings_scroll = QScrollArea()
        self.settings_scroll.setObjectName("trainSettings")
        self.settings_scroll.setWidgetResizable(True)
        self.settings_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.settings_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.settings_scroll.setWidget(controls)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("trainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._plots_tab(), "Plots")
        self.tabs.addTab(self.lr_finder, "LR finder")
        self.tabs.addTab(self.table, "Epochs")
        self.preview_tab = self._preview_tab()
        self.tabs.addTab(self.preview_tab, "Preview")
        self.tabs.addTab(self.history, "History")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.settings_scroll)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([SETTINGS_WIDTH, 2 * SETTINGS_WIDTH])
        self.compact = False
        buttons = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.lr_find_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addLayout(buttons)
        outer.addWidget(self.progress)
        outer.addWidget(self.banner)
        outer.addWidget(self.notices)
        outer.addWidget(self.splitter, 1)

    def _plots_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.plots, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_plots_button)
        layout.addLayout(row)
        return tab

    def _preview_tab(self) -> QWidget:
        inner = QWidget()
        layout = QVBoxLayout(inner)
        row = QHBoxLayout()
        row.addWidget(self.show_batch_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.batch_gallery)
        layout.addWidget(self.pred_gallery)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        return scroll

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Settings beside the live views when there is room; in a narrow dock they become the
        # first tab, so the plots keep the panel's full width instead of being squeezed.
        super().resizeEvent(event)
        self.set_compact(event.size().width() < COMPACT_BELOW)

    def set_compact(self, compact: bool) -> None:
        """Settings as a tab beside the plots (compact) or a column left of them."""
        if compact == self.compact:
            return
        self.compact = compact
        if compact:
            self.tabs.insertTab(0, self.settings_scroll, "Settings")
            if not self.is_training():  # before a run the settings are what one needs first
                self.tabs.setCurrentIndex(0)
        else:
            self.tabs.removeTab(self.tabs.indexOf(self.settings_scroll))
            self.splitter.insertWidget(0, self.settings_scroll)
            self.settings_scroll.show()
            self.splitter.setSizes([SETTINGS_WIDTH, max(1, self.width() - SETTINGS_WIDTH)])

    def _connect(self) -> None:
        self.start_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop)
        self.lr_find_button.clicked.connect(self.run_lr_find)
        self.show_batch_button.clicked.connect(self.show_batch)
        self.save_plots_button.clicked.connect(self._save_plots_dialog)
        self.lr_finder.lrPicked.connect(self.apply_lr)
        self.history.loadRequested.connect(self.load_run)
        self.history.refreshRequested.connect(self.refresh_history)
        self.form.configChanged.connect(lambda: self.stages.update_summary(self.form.config))
        self.stages.changed.connect(lambda: self.stages.update_summary(self.form.config))
        self.runner.busyChanged.connect(self._set_busy)
        self.form.downloadWeightsRequested.connect(self.download_weights)

    # ------------------------------------------------------------------ public API
    def is_training(self) -> bool:
        return self.runner.is_running()

    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.show_message("info", "Stopping after the current batch…")

    def stop_and_wait(self, timeout_ms: int = 10000) -> bool:
        """Request a stop and block until the training thread has ended (window closing)."""
        self.runner.stop()
        return self.runner.wait(timeout_ms)

    @Slot(float)
    def apply_lr(self, lr: float) -> None:
        """Use ``lr`` as the max learning rate (from the LR finder plot or its buttons)."""
        self.form.set_lr(lr)
        self.show_message("info", f"Max learning rate set to {format_value(lr)}.")

    def start_training(self) -> None:
        settings = self.stages.settings
        recipe = settings.to_config(self.form.config)  # planned by the engine, as the CLI
        continue_model = settings.continues_model() and self.engine.trained
        job = _jobs().training_job(self.project, recipe, self.engine, continue_model)
        self._launch("train", job, keep_history=continue_model,
                     planned_epochs=sum(s.epochs for s in settings.plan(self.form.config)))

    def run_lr_find(self) -> None:
        settings = self.stages.settings
        continue_model = settings.continues_model() and self.engine.trained
        job = _jobs().lr_find_job(self.project, settings.to_config(self.form.config),
                                  self.engine, continue_model=continue_model,
                                  num_it=self.lr_find_iters)
        self._launch("lr_find", job)

    def show_batch(self) -> None:
        self._launch("show_batch", _jobs().show_batch_job(self.project, self.form.config))

    def download_weights(self, arch: str, url: str | None = None) -> WeightsDownloadDialog:
        """Download ``arch``'s ImageNet weights with a progress dialog (its own thread)."""
        dialog = WeightsDownloadDialog(arch, url, self)
        dialog.ended.connect(lambda: self._weights_ended(dialog))
        self._weights_dialog = dialog  # alive until its thread has ended
        dialog.start()
        dialog.show()
        return dialog

    def _weights_ended(self, dialog: WeightsDownloadDialog) -> None:
        if dialog.result_path is not None:
            self.show_message("ok", f"ImageNet weights for {dialog.arch} saved to "
                              f"{dialog.result_path}. The next run starts from them.")
        elif dialog.error:
            self.show_message("error", f"<b>Download failed</b><br>{_escape(dialog.error)}")
        else:
            self.show_message("info", "Download cancelled; nothing was saved.")
        self.form.refresh_weights()
        self.stages.update_summary(self.form.config)
        self._weights_dialog = None
        dialog.deleteLater()

    def load_run(self, run_id: str) -> None:
        """Predict every image with run ``run_id`` (the annotation panel offers them)."""
        self.history.select_run(run_id)
        self._launch("predict", _jobs().predict_run_job(self.project, run_id,
                                                     self.form.config.device))

    def refresh_history(self) -> None:
        try:
            self.history.set_runs(self.project.db.list_runs())
        except (sqlite3.Error, WorkbenchError) as exc:  # a locked database must not break it
            log.warning("could not read the run history: %s", exc)
            self.show_message("warning", f"Could not read the run history: {exc}")

    def show_message(self, level: str, text: str) -> None:
        self.banner.setStyleSheet(f"QLabel {{ {BANNER_STYLES[level]} padding:6px; "
                                  "border-radius:4px; }")
        self.banner.setText(text)
        self.banner.setProperty("level", level)
        self.banner.setVisible(bool(text))

    def show_notice(self, text: str, level: str = "warning") -> None:
        """Add one engine notice ("warning" or "info") to the box under the banner."""
        self.notices.add(text, level)

    def notice_texts(self) -> list[tuple[str, str]]:
        """(level, text) of each notice shown, oldest first."""
        return self.notices.items()

    def message(self) -> tuple[str, str]:
        """(level, text) of the message shown in the panel; ("", "") when none."""
        if self.banner.isHidden():
            return "", ""
        return str(self.banner.property("level")), self.banner.text()

    def save_plots(self, path: str | Path) -> Path:
        return self.plots.save_png(path)

    # ------------------------------------------------------------------ jobs
    def _launch(self, kind: str, job: Job, keep_history: bool = False,
                planned_epochs: int = 0) -> None:
        if self.runner.is_running():
            self.show_message("warning", "A job is already running; stop it first.")
            return
        self.job_kind = kind
        self.last_result = None
        self.banner.setVisible(False)
        self.notices.clear_all()
        if kind == "train":
            self.monitor.begin(keep_history, planned_epochs)
            self.pred_gallery.clear()
            if self.tabs.currentWidget() is self.settings_scroll:
                self.tabs.setCurrentIndex(self.tabs.indexOf(self.settings_scroll) + 1)
        else:
            self.progress.set_busy(JOB_TEXT[kind])
        self.runner.start(job, connect=self._connect_worker)
        self._set_busy(True)

    def _connect_worker(self, worker: JobSignals) -> None:
        self.monitor.connect_worker(worker)
        worker.lrFindDone.connect(self._on_lr_find_done)
        worker.otherMessage.connect(self._on_other_message)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self.jobStarted.emit(worker)

    @Slot(object)
    def _on_lr_find_done(self, msg: object) -> None:
        self.lr_finder.set_result(msg.lrs, msg.losses, msg.suggestions)
        if self.job_kind == "lr_find":
            self.tabs.setCurrentWidget(self.lr_finder)

    @Slot(object)
    def _on_other_message(self, msg: object) -> None:
        if isinstance(msg, Notice):
            self.notices.add(msg.text, msg.level, msg.kind)
            return
        if isinstance(msg, _jobs().PreviewReady):
            gallery = self.batch_gallery if msg.kind == "batch" else self.pred_gallery
            gallery.set_tiles(msg.tiles, msg.note)

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self.last_result = result
        if isinstance(result, _jobs().TrainResult):
            best = "" if result.best_metric is None else f", best metric {result.best_metric:.4f}"
            if result.cancelled:
                self.show_message("warning", f"Run {result.run_id} stopped{best}. The last "
                                  "checkpoint is kept.")
            elif self.notices.has("few_iterations"):
                self.show_message("warning", f"Run {result.run_id} finished{best}, but it "
                                  "trained almost nothing: see below.")
            else:
                self.show_message("ok", f"Run {result.run_id} finished{best}.")
        elif isinstance(result, Path):
            self.show_message("ok", f"Predictions written to {result}. The annotation panel can "
                              "start from them.")
        elif self.job_kind == "lr_find" and self.lr_finder.suggestions:
            self.show_message("info", "Click the curve or a suggestion to set the max LR.")
        elif self.job_kind == "show_batch":
            self.tabs.setCurrentWidget(self.preview_tab)

    @Slot(str, str)
    def _on_failed(self, kind: str, text: str) -> None:
        level = "warning" if kind == "cancelled" else "error"
        self.show_message(level, f"<b>{ERROR_TITLES.get(kind, ERROR_TITLES['error'])}</b><br>"
                          f"{_escape(text)}")

    @Slot()
    def _on_finished(self) -> None:
        kind = self.job_kind
        if kind == "train":
            self.monitor.end()
        stopped = self.runner.worker is not None and self.runner.worker.context.cancelled
        level, _ = self.message()
        if level == "error":
            self.progress.finish("Failed")
        else:
            self.progress.finish("Stopped" if stopped else "Done")
        self.refresh_history()
        run_id = getattr(self.last_result, "run_id", None)
        if kind == "train" and self.engine.learner is not None:
            run_id = run_id or self.engine.learner.run_id
            self.runFinished.emit(str(run_id))

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.start_button, self.lr_find_button, self.show_batch_button):
            widget.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.history.set_busy(busy)

    def _save_plots_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save plots", "training_plots.png",
                                              "PNG image (*.png)")
        if path:
            try:
                self.save_plots(path)
            except OSError as exc:
                self.show_message("error", str(exc))


def _jobs():
    """The engine side of the panel, imported on first use: it pulls in torch, which takes
    seconds, and the window should not wait for that."""
    from workbench.qt.training import jobs

    return jobs


def _button(name: str, text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
