"""The weights download dialog: a progress update never runs other events (re-entrancy)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from workbench.qt.training.weights_dialog import WeightsDownloadDialog


def test_progress_update_does_not_process_pending_events(qtbot) -> None:
    """A modal QProgressDialog's setValue() runs processEvents(): the end of the download,
    already queued, was delivered inside it and deleted the dialog under its own feet."""
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    dialog = WeightsDownloadDialog("resnet18", "http://127.0.0.1:9/none.pth", parent)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog._progressed(1_000_000, 10_000_000)  # the first update only shows the dialog
    ran: list[bool] = []
    QTimer.singleShot(0, lambda: ran.append(True))  # stands for the queued "finished"

    dialog._progressed(5_000_000, 10_000_000)

    assert ran == []  # nothing else ran inside the update
    assert dialog.value() == 500 and dialog.maximum() == 1000
    assert "5.0 of 10.0 MB" in dialog.labelText()
    qtbot.waitUntil(lambda: ran == [True])
    dialog.deleteLater()
