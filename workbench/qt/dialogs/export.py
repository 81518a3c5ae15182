"""File → Export Labels: the window's side of ``workbench export`` (the same core exporters).

Segmentation projects export index masks, colour masks and COCO-style instances
(``instances.json``: each connected region of an object class one annotation); multilabel
projects export labels.csv. The export runs on a worker thread; the status bar says where
the files went, or why nothing was written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu

from workbench.core import exporters
from workbench.core.errors import WorkbenchError
from workbench.core.project import Task

log = logging.getLogger(__name__)

#: (menu text, what the status bar calls the result, exporter) per task.
EXPORTS: dict[Task, tuple[tuple[str, str, Callable], ...]] = {
    Task.SEGMENTATION: (
        ("Index &Masks (PNG)…", "index mask(s)", exporters.export_masks),
        ("&Colour Masks (PNG)…", "colour mask(s)", exporters.export_palette),
        ("&Instances (COCO JSON)…", "instance file", exporters.export_coco),
    ),
    Task.MULTILABEL: (("&labels.csv…", "labels file", exporters.export_csv),),
}


class ExportMenu(QObject):
    """The Export Labels submenu of one window; ``choose_folder`` is replaceable in tests."""

    def __init__(self, window: QMainWindow, parent_menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.menu = QMenu("&Export Labels", parent_menu)
        self.menu.setObjectName("exportMenu")
        self.choose_folder: Callable[[str], str] = self._ask_folder
        self.folder = ""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
        self._running: Future | None = None
        self._timer = QTimer(self, interval=100)
        self._timer.timeout.connect(self._poll)
        for text, noun, export in EXPORTS[Task(window.project.task)]:
            action = self.menu.addAction(text)
            action.setObjectName("action_export_" + export.__name__.removeprefix("export_"))
            action.triggered.connect(lambda _c=False, t=text, n=noun, e=export:
                                     self.export(e, n, t))

    def _ask_folder(self, title: str) -> str:
        return QFileDialog.getExistingDirectory(self.window, title, self.folder or
                                                str(Path(self.window.project.root).parent))

    def export(self, exporter: Callable, noun: str, text: str = "Export") -> bool:
        """Ask for a folder and export into it in the background; False if nothing started."""
        if self._running is not None:
            self._say("An export is still running.")
            return False
        folder = self.choose_folder(text.replace("&", "").replace("…", "") + " to")
        if not folder:
            return False
        self.folder = folder
        flush = getattr(self.window.workspace, "flush", None)
        if flush is not None:
            flush()  # what is on screen is what gets exported
        self._say(f"Exporting {noun} to {folder}…")
        self._running = self._pool.submit(exporter, self.window.project, folder)
        self._noun, self._where = noun, folder
        self._timer.start()
        return True

    def _poll(self) -> None:
        job = self._running
        if job is None or not job.done():
            return
        self._timer.stop()
        self._running = None
        try:
            result = job.result()
        except (WorkbenchError, OSError) as exc:
            log.warning("export failed: %s", exc)
            self._say(f"Export failed: {exc}")
            return
        count = len(result) if isinstance(result, list) else 1
        self._say(f"Exported {count} {self._noun} to {self._where}.")

    def wait(self, timeout_s: float = 60.0) -> None:
        """Block until the running export ends and its message is shown (tests, closing)."""
        if self._running is not None:
            self._running.exception(timeout=timeout_s)
            self._poll()

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10000)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
