"""The training panel: buttons and progress on top, a collapsible settings section beside the
tabbed live views (plots, LR finder, epochs, preview, history, and tabs added with add_view).

The panel only wires parts together: ConfigForm/StageControls hold the settings, jobs.py does
the engine work on a JobRunner thread, RunMonitor feeds plots/progress/table, and the panel
turns job results and errors into messages. Nothing heavy runs on the GUI thread.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFileDialog,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.core.project import Task
from workbench.qt.training.banner import escape
from workbench.qt.training.config_form import ConfigForm
from workbench.qt.training.devices import DeviceProbe
from workbench.qt.training.engine_state import EngineState
from workbench.qt.training.epoch_table import EpochTable
from workbench.qt.training.history import RunHistory
from workbench.qt.training.host import TrainingHost
from workbench.qt.training.hover import format_value
from workbench.qt.training.lr_finder_plot import LRFinderPlot
from workbench.qt.training.monitor import RunMonitor
from workbench.qt.training.panel_ui import build_ui
from workbench.qt.training.plots import LivePlots
from workbench.qt.training.preview import Gallery
from workbench.qt.training.progress import TrainingProgress
from workbench.qt.training.settings_section import TWO_COLUMNS_FROM
from workbench.qt.training.stages import StageControls
from workbench.qt.training.weights_dialog import WeightsDownloadDialog
from workbench.qt.training.worker import JobRunner, JobSignals
from workbench.training.config import TrainConfig
from workbench.training.reports import Notice

if TYPE_CHECKING:
    from workbench.core.project import Project
    from workbench.qt.training.jobs import Job

log = logging.getLogger(__name__)

STACK_TOP_BELOW = 820  # narrower panels put the progress bar under the buttons

JOB_TEXT = {"train": "Preparing: reading the labelled images and building the model…",
            "lr_find": "Preparing the LR finder: reading the images, building the model…",
            "show_batch": "Loading a batch…", "predict": "Loading the model to predict…"}


class TrainingPanel(QWidget):
    """Train models on the project's labels from a dock, on a background thread."""

    runFinished = Signal(str)
    predictionsWritten = Signal(str)  # run id whose predictions were just written
    jobStarted = Signal(object)  # the job's JobSignals relay, before its thread starts

    def __init__(self, project: Project, parent: QWidget | None = None,
                 config: TrainConfig | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.project = project
        self.engine = EngineState()
        self.runner = JobRunner(self)
        self.job_kind: str | None = None
        self.closing = False
        # After a finished run, predict the unlabelled images so "From prediction" just works.
        self.auto_predict = project.task == Task.SEGMENTATION
        self._after_job: Callable[[], None] | None = None
        self.last_result: object = None
        self._predict_text = "Predicting · image"
        self._follow_up = False  # the job now launched continues the last one's plan
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
        build_ui(self)
        self.host = TrainingHost(self)  # what the corrections loop may use of this panel
        self._connect()
        # Probing devices imports torch (seconds): do it once the event loop runs, off the GUI
        # thread, so the window shows at once.
        self.devices_probed = False
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
        cpu = next((d for d in devices if d.get("id") == "cpu"), {})
        if "bf16_native" in cpu:
            self.form.set_cpu_bf16(bool(cpu["bf16_native"]))
        self.devices_probed = True

    # ------------------------------------------------------------------ layout
    def add_view(self, widget: QWidget, title: str) -> int:
        """Add a tab beside the training views (e.g. a review of the model's mistakes)."""
        return self.tabs.addTab(widget, title)

    def set_settings_visible(self, visible: bool) -> None:
        """Collapse the settings so the plots get the panel's whole width, or show them."""
        self.body.set_settings_visible(visible)  # one at a time in a narrow panel

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = event.size().width()
        self.settings_section.set_columns(2 if width >= TWO_COLUMNS_FROM else 1)
        self.top_row.setDirection(QBoxLayout.Direction.LeftToRight if width >= STACK_TOP_BELOW
                                  else QBoxLayout.Direction.TopToBottom)

    def _connect(self) -> None:
        self.start_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop)
        self.lr_find_button.clicked.connect(self.run_lr_find)
        self.show_batch_button.clicked.connect(self.show_batch)
        self.save_plots_button.clicked.connect(self._save_plots_dialog)
        self.lr_finder.lrPicked.connect(self.apply_lr)
        self.history.loadRequested.connect(self.load_run)
        self.history.useRequested.connect(self.host.use_run)
        self.history.deleteRequested.connect(self.host.delete_run)
        self.history.refreshRequested.connect(self.refresh_history)
        self.form.configChanged.connect(lambda: self.stages.update_summary(self.form.config))
        self.stages.changed.connect(lambda: self.stages.update_summary(self.form.config))
        self.runner.busyChanged.connect(self._set_busy)
        self.monitor.stageStarted.connect(self._on_stage_started)
        self.form.downloadWeightsRequested.connect(self.download_weights)

    # ------------------------------------------------------------------ public API
    def is_training(self) -> bool:
        return self.runner.is_running()

    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.show_message("info", "Stopping after the current batch…")

    def stop_and_wait(self, timeout_ms: int = 10000) -> bool:
        """Request a stop and block until the training thread has ended (window closing).

        The project is closed next, so the job's last queued reports must not touch it."""
        self.closing = True
        self.runner.stop()
        return self.runner.wait(timeout_ms)

    @Slot(float)
    def apply_lr(self, lr: float) -> None:
        """Use ``lr`` as the max learning rate (from the LR finder plot or its buttons)."""
        self.form.set_lr(lr)
        self.show_message("info", f"Max learning rate set to {format_value(lr)}.")

    def start_training(self) -> None:
        if getattr(self.project, "readonly", False):  # opened for viewing: nowhere to write
            self.show_message("error", "<b>This project is open read-only</b><br>Training "
                              "writes models/ and the run history; copy the project somewhere "
                              "writable to train.")
            return
        settings = self.stages.settings
        recipe = settings.to_config(self.form.config)  # planned by the engine, as the CLI
        planned = sum(s.epochs for s in settings.plan(self.form.config))
        if recipe.device == "ddp":  # the same recipe in torchrun child processes, one per GPU
            job = _jobs().ddp_training_job(self.project, recipe,
                                           self.form.device_picker.gpu_count())
            self._launch("train", job, planned_epochs=planned)
            return
        continue_model = settings.continues_model() and self.engine.trained
        # The predictions written after the run are part of the wait: the estimate covers them.
        after = len(unlabelled_names(self.project)) if self.auto_predict else 0
        job = _jobs().training_job(self.project, recipe, self.engine, continue_model, after)
        self._launch("train", job, keep_history=continue_model,
                     planned_epochs=planned)

    def run_lr_find(self) -> None:
        settings = self.stages.settings
        continue_model = settings.continues_model() and self.engine.trained
        job = _jobs().lr_find_job(self.project, settings.to_config(self.form.config),
                                  self.engine, continue_model=continue_model)
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
            self.show_message("error", f"<b>Download failed</b><br>{escape(dialog.error)}")
        else:
            self.show_message("info", "Download cancelled; nothing was saved.")
        self.form.refresh_weights()
        self.stages.update_summary(self.form.config)
        self._weights_dialog = None
        dialog.deleteLater()

    def load_run(self, run_id: str) -> None:
        """Predict every image with run ``run_id`` (the annotation panel offers them)."""
        self.history.select_run(run_id)
        self._predict(run_id, "all", f"Predicting all images with run {run_id} ·")

    def predict_with_newest(self, also: Sequence[str] = ()) -> str | None:
        """Predict the unlabelled images and ``also`` with the current model; its id, or None
        when there is no model yet or a job is running."""
        run_id = self.host.current_model_id()
        if run_id is None or self.runner.is_running():
            return None
        names = list(dict.fromkeys([*also, *unlabelled_names(self.project)]))
        self._predict(run_id, names, f"Predicting with run {run_id} · image")
        return run_id

    def predict_after_choice(self, run_id: str) -> None:
        """A run was chosen as the model: predict the unlabelled images, as after training."""
        if self.auto_predict and not self.runner.is_running():
            self._predict_unlabelled(run_id)

    def show_plots(self) -> None:
        """Bring the tab holding the live plots to the front."""
        for i in range(self.tabs.count()):
            widget = self.tabs.widget(i)
            if widget is self.plots or widget.isAncestorOf(self.plots):
                self.tabs.setCurrentIndex(i)
                return

    def _predict(self, run_id: str, images: str | Sequence[str], text: str) -> None:
        self._predict_text = text
        config = self.form.config
        self._launch("predict", _jobs().predict_run_job(self.project, run_id, config.device,
                                                     images, config.precision))

    def _predict_unlabelled(self, run_id: str) -> None:
        names = unlabelled_names(self.project)
        if names and not self.closing:
            self._follow_up = True  # the run's estimate planned these predictions
            self._predict(run_id, names, "Predicting the unlabelled images for “From "
                          "prediction” · image")

    def refresh_history(self) -> None:
        if self.closing:  # the window is closing the project
            return
        try:
            runs = self.project.db.list_runs()
        except (sqlite3.Error, WorkbenchError) as exc:  # a locked database must not break it
            log.warning("could not read the run history: %s", exc)
            self.show_message("warning", f"Could not read the run history: {exc}")
            return
        model = self.host.current_model_id()
        self.history.set_runs(runs, model)
        self.host.runs_refreshed(model)

    def show_message(self, level: str, text: str) -> None:
        self.banner.show_message(level, text)

    def notice_texts(self) -> list[tuple[str, str]]:
        """(level, text) of each notice shown, oldest first."""
        return self.notices.items()

    def message(self) -> tuple[str, str]:
        """(level, text) of the message shown in the panel; ("", "") when none."""
        return self.banner.message()

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
        else:
            self.monitor.track(new_estimate=not self._follow_up,
                               predict_label=self._predict_text,
                               waiting=JOB_TEXT[kind].rstrip("…"))
        self._follow_up = False
        self.progress.set_busy(JOB_TEXT[kind])  # until the first report says more
        self.runner.start(job, connect=self._connect_worker)
        self._set_busy(True)

    def _connect_worker(self, worker: JobSignals) -> None:
        self.monitor.connect_worker(worker)
        worker.lrFindStep.connect(self._on_lr_find_step)
        worker.lrFindDone.connect(self._on_lr_find_done)
        worker.otherMessage.connect(self._on_other_message)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self.jobStarted.emit(worker)

    @Slot(object)
    def _on_lr_find_step(self, msg: object) -> None:
        if msg.iteration <= 1 or not self.lr_finder.live:
            self.lr_finder.begin_live(msg.num_it)
            self.tabs.setCurrentWidget(self.lr_finder)  # the curve fills in while it runs
        self.lr_finder.add_point(msg.lr, msg.loss)  # the bar's text comes from the estimate

    @Slot(object)
    def _on_lr_find_done(self, msg: object) -> None:
        self.lr_finder.set_result(msg.lrs, msg.losses, msg.suggestions)
        if self.job_kind == "lr_find":
            self.tabs.setCurrentWidget(self.lr_finder)
        if msg.cached and msg.suggestions.get("valley"):
            self.show_message("info", "Using the LR finder's valley "
                              f"{format_value(msg.suggestions['valley'])} from an identical "
                              "earlier sweep (same model, data and settings): no new sweep.")

    @Slot(str)
    def _on_stage_started(self, _stage: str) -> None:
        # Training starts: its plots come to the front (the first stage, or after a sweep
        # showed the LR finder); later stages leave the tab the user chose.
        if self.monitor.stages_started == 1 or self.tabs.currentWidget() is self.lr_finder:
            self.tabs.setCurrentWidget(self.plots)

    @Slot(object)
    def _on_other_message(self, msg: object) -> None:
        if isinstance(msg, Notice):
            self.notices.add(msg.text, msg.level, msg.kind)
        elif isinstance(msg, _jobs().PreviewReady):
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
            self.show_message("ok", f"Predictions written to {result}. “From prediction” "
                              "(Ctrl+P) starts the mask from them.")
            self.predictionsWritten.emit(result.name)
        elif self.job_kind == "lr_find" and self.lr_finder.suggestions:
            self.show_message("info", "Click the curve or a suggestion to set the max LR.")
        elif self.job_kind == "show_batch":
            self.tabs.setCurrentWidget(self.preview_tab)

    @Slot(str, str)
    def _on_failed(self, kind: str, text: str) -> None:
        self.banner.show_error(kind, text)

    @Slot()
    def _on_finished(self) -> None:
        kind = self.job_kind
        self.monitor.end()
        if self.lr_finder.live:  # the sweep was stopped or failed
            self.lr_finder.stop_live()
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
        if kind == "train" and run_id:  # a DDP run has no learner in this process
            run_id = str(run_id)
            if self.auto_predict and level != "error" and not stopped and not self.closing:
                self._after_job = lambda: self._predict_unlabelled(run_id)
            self.runFinished.emit(run_id)

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.start_button, self.lr_find_button, self.show_batch_button):
            widget.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.history.set_busy(busy)
        if not busy and self._after_job is not None:  # the thread has ended: next job
            follow_up, self._after_job = self._after_job, None
            follow_up()

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


def unlabelled_names(project: Project) -> list[str]:
    labelled = set(project.labelled_names())
    return [name for name in project.image_names() if name not in labelled]
