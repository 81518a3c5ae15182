"""Import dialog: pick a source, run core's importer on a worker thread, show what was skipped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core import importers
from workbench.core.errors import WorkbenchError
from workbench.core.project import Project, Task
from workbench.core.report import ImportReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    key: str
    label: str
    fields: tuple[str, ...]  # which inputs this source needs
    task: Task | None  # None: any task


SOURCES = (
    Source("folder", "Plain folder of images", ("images",), None),
    Source("masks", "Images + folder of index masks", ("images", "masks"), Task.SEGMENTATION),
    Source("camvid", "CamVid-style: label files by pattern + codes.txt",
           ("images", "masks", "pattern", "codes"), Task.SEGMENTATION),
    Source("csv", "Planet-style labels.csv + images", ("images", "csv", "add_tags"),
           Task.MULTILABEL),
)


def run_import(project: Project, key: str, values: dict[str, object]) -> ImportReport:
    """Call the core importer for source ``key`` with the dialog's values (any thread)."""
    images = str(values["images"])
    if key == "folder":
        return importers.import_images(project, images)
    if key == "masks":
        return importers.import_masks(project, images, str(values["masks"]))
    if key == "camvid":
        codes = str(values.get("codes") or "") or None
        return importers.import_masks(project, images, str(values["masks"]),
                                      pattern=str(values["pattern"]), codes=codes)
    if key == "csv":
        return importers.import_csv(project, images, str(values["csv"]),
                                    add_tags=bool(values.get("add_tags")))
    raise ValueError(f"unknown import source {key!r}")


class ImportWorker(QObject):
    """Runs one import on its thread; reports through queued signals."""

    finished = Signal(object)  # ImportReport
    failed = Signal(str)

    def __init__(self, job: Callable[[], ImportReport]) -> None:
        super().__init__()
        self._job = job

    @Slot()
    def run(self) -> None:
        try:
            report = self._job()
        except WorkbenchError as exc:
            self.failed.emit(str(exc))
            return
        self.finished.emit(report)


class ImportDialog(QDialog):
    imported = Signal(object)  # ImportReport, after a successful import

    def __init__(self, project: Project, parent: QWidget | None = None,
                 start_dir: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import into {project.name}")
        self.start_dir = start_dir  # where Browse… opens: the project's last import folder
        self.setMinimumSize(640, 460)
        self.project = project
        self._thread: QThread | None = None
        self._worker: ImportWorker | None = None
        self.source_box = QComboBox(objectName="importSource")
        for source in SOURCES:
            if source.task in (None, project.task):
                self.source_box.addItem(source.label, source.key)
        self.edits: dict[str, QLineEdit] = {}
        self.add_tags = QCheckBox("Add tags that the project does not have yet")
        self.report_view = QPlainTextEdit(objectName="importReport", readOnly=True)
        self.report_view.setPlaceholderText("The import report appears here.")
        self.busy = QProgressBar(objectName="importBusy")
        self.busy.setRange(0, 0)
        self.busy.hide()
        self._build()
        self.source_box.currentIndexChanged.connect(self._source_changed)
        self._source_changed()

    def _path_row(self, key: str, pick: Callable[[], str]) -> QWidget:
        edit = QLineEdit(objectName=f"import_{key}")
        self.edits[key] = edit
        button = QPushButton("Browse…")
        button.setAutoDefault(False)  # Enter in the dialog means Import, not Browse
        button.clicked.connect(lambda: (path := pick()) and edit.setText(path))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        layout.addWidget(button)
        return row

    def _build(self) -> None:
        def folder(title: str) -> Callable[[], str]:
            return lambda: QFileDialog.getExistingDirectory(self, title, self.start_dir)

        def file(title: str, pattern: str) -> Callable[[], str]:
            return lambda: QFileDialog.getOpenFileName(self, title, self.start_dir, pattern)[0]

        self.form = QFormLayout()
        self.form.addRow("Source", self.source_box)
        self.rows = {
            "images": self._path_row("images", folder("Folder of images")),
            "masks": self._path_row("masks", folder("Folder of masks / label files")),
            "codes": self._path_row("codes", file("codes.txt", "Text files (*.txt)")),
            "csv": self._path_row("csv", file("labels.csv", "CSV files (*.csv)")),
        }
        self.edits["pattern"] = QLineEdit("{stem}_P.png", objectName="import_pattern")
        self.edits["pattern"].setToolTip("{stem}: image name without extension; {name}: with it")
        self.rows["pattern"] = self.edits["pattern"]
        self.rows["add_tags"] = self.add_tags
        labels = {"images": "Images", "masks": "Masks", "codes": "codes.txt",
                  "csv": "labels.csv", "pattern": "Label file name", "add_tags": ""}
        for key, widget in self.rows.items():
            self.form.addRow(labels[key], widget)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.import_button = self.buttons.addButton(
            "Import", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_button.setObjectName("importButton")
        self.import_button.setProperty("primary", True)
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start_import)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.busy)
        layout.addWidget(self.report_view, 1)
        layout.addWidget(self.buttons)

    def source(self) -> Source:
        key = self.source_box.currentData()
        return next(s for s in SOURCES if s.key == key)

    def _source_changed(self) -> None:
        fields = self.source().fields
        for key, widget in self.rows.items():
            self.form.setRowVisible(widget, key in fields)

    def values(self) -> dict[str, object]:
        values: dict[str, object] = {k: e.text().strip() for k, e in self.edits.items()}
        values["add_tags"] = self.add_tags.isChecked()
        return values

    def start_import(self) -> None:
        source, values = self.source(), self.values()
        missing = [k for k in source.fields if k not in ("codes", "add_tags") and not values[k]]
        if missing:
            self.report_view.setPlainText(f"Fill in: {', '.join(missing)}.")
            return
        self.import_button.setEnabled(False)
        self.busy.show()
        self.report_view.setPlainText(f"Importing from {Path(str(values['images']))} …")
        self._thread = QThread(self)
        self._worker = ImportWorker(lambda: run_import(self.project, source.key, values))
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        for signal in (self._worker.finished, self._worker.failed):
            signal.connect(self._thread.quit)
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def _done(self) -> None:
        self.busy.hide()
        self.import_button.setEnabled(True)

    def _on_finished(self, report: ImportReport) -> None:
        self._done()
        self.report_view.setPlainText(report.summary())
        self.imported.emit(report)

    def _on_failed(self, message: str) -> None:
        self._done()
        self.report_view.setPlainText(f"Import failed: {message}")

    def done(self, result: int) -> None:
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()  # an import is short; never leave a thread writing the project
        super().done(result)
