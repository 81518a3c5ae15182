"""SIGTERM (logout, systemd, `kill`, `timeout`) ends the app as a confirmed close would: a run in
progress is stopped and recorded as cancelled with its last completed epoch, the open image's
strokes are saved, and the lock is released. Without this, Python's default would end the
process on the spot and the run would only be found interrupted at the next open."""

from __future__ import annotations

import logging
import signal
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

log = logging.getLogger(__name__)
WAKE_MS = 250  # Python runs signal handlers between bytecodes; Qt's wait must let it run


class SigtermQuit(QObject):
    """Installed by ``run_app``; ``close_all`` is what the handler schedules."""

    def __init__(self, app: QCoreApplication) -> None:
        super().__init__(app)
        self.app = app
        self.received = False
        self._wake = QTimer(self)
        self._wake.timeout.connect(lambda: None)
        self._wake.start(WAKE_MS)
        self.previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = True
        QTimer.singleShot(0, self.close_all)

    def close_all(self) -> None:
        log.info("SIGTERM: stopping training and closing every window")
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMainWindow) and widget.isVisible():
                if hasattr(widget, "confirm_on_close"):
                    widget.confirm_on_close = False  # nobody is there to answer
                widget.close()
        self.app.quit()

    def uninstall(self) -> None:
        signal.signal(signal.SIGTERM, self.previous)
        self._wake.stop()
