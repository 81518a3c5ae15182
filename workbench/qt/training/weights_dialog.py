"""Downloading an encoder's ImageNet weights from the training panel, with a progress dialog.

The download itself is the engine's (:func:`workbench.training.weights.download_weights`, the
same as ``workbench weights download``); here it runs on its own thread so the window stays
responsive, and Cancel stops it between chunks (nothing is left in the cache then).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressBar, QProgressDialog, QWidget

from workbench.core.errors import WorkbenchError


class WeightsDownload(QObject):
    """Runs one download on a QThread; reports bytes as they arrive, then done or failed."""

    progressed = Signal(int, int)  # bytes done, total bytes (0: unknown)
    done = Signal(str)  # the saved file
    failed = Signal(str)  # a message for the user ("" when cancelled)
    finished = Signal()

    def __init__(self, arch: str, url: str | None = None) -> None:
        super().__init__()
        self.arch, self.url = arch, url
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        from workbench.training.errors import TrainingCancelled
        from workbench.training.weights import download_weights

        try:
            path = download_weights(self.arch, url=self.url, progress=self._progress,
                                    cancelled=self._cancel.is_set)
        except TrainingCancelled:
            self.failed.emit("")
        except WorkbenchError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 (any crash must reach the user)
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(str(path))
        finally:
            self.finished.emit()

    def _progress(self, done: int, total: int | None) -> None:
        self.progressed.emit(done, total or 0)


class WeightsDownloadDialog(QProgressDialog):
    """Progress for one download; ``ended`` fires once its thread is done, and then
    ``result_path`` (saved) or ``error`` ("" with no path: cancelled) say how it went.

    Progress goes straight to the dialog's bar, never through ``setValue``: on a modal
    QProgressDialog that runs ``processEvents()``, which could deliver the end of the download
    and delete this dialog in the middle of its own ``setValue`` (a crash, seen in tests).
    """

    ended = Signal()

    def __init__(self, arch: str, url: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(f"Downloading ImageNet weights for {arch}…", "Cancel", 0, 0, parent)
        self.setObjectName("weightsDownloadDialog")
        self.setWindowTitle("Download weights")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(0)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 34)  # label fits
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # busy until the size is known
        self.setBar(self.bar)
        self.result_path: Path | None = None
        self.error = ""
        self.arch = arch
        self._thread = QThread(self)
        self.worker = WeightsDownload(arch, url)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        self.worker.progressed.connect(self._progressed)
        self.worker.done.connect(self._done)
        self.worker.failed.connect(self._failed)
        self.worker.finished.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._finished)
        self.canceled.connect(self.worker.cancel)

    def start(self) -> None:
        self._thread.start()

    def wait(self, timeout_ms: int = 30000) -> bool:
        return self._thread.wait(timeout_ms)

    @Slot(int, int)
    def _progressed(self, done: int, total: int) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * done / total))
            self.setLabelText(f"Downloading ImageNet weights for {self.arch}: "
                              f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.setLabelText(f"Downloading ImageNet weights for {self.arch}: "
                              f"{done / 1e6:.1f} MB")

    @Slot(str)
    def _done(self, path: str) -> None:
        self.result_path = Path(path)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.error = message

    @Slot()
    def _finished(self) -> None:
        if self.result_path is not None:
            self.accept()
        else:
            self.reject()
        self.ended.emit()
