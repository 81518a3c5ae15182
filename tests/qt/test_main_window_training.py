"""Closing the real window while a real (tiny) training run is going: ask, then stop cleanly."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtWidgets import QMessageBox

from workbench.app import create_main_window
from workbench.training.config import TrainConfig

TINY = TrainConfig(arch="resnet18", size=32, bs=2, epochs=30, lr=1e-3, pretrained=None,
                   device="cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def window_training(qtbot, project):
    """The real window with a tiny run going (two batches done)."""
    window = create_main_window(project)
    window.show()
    panel = window.training_panel
    panel.form.set_config(TINY)
    panel.stages.set_mode("frozen")
    batches: list[object] = []
    panel.jobStarted.connect(lambda signals: signals.batchEnded.connect(batches.append))
    panel.start_training()
    qtbot.waitUntil(lambda: len(batches) >= 2, timeout=60000)
    return window, panel


def test_close_during_training_asks_then_stops_and_records_the_run(qtbot, seg_project,
                                                                   answer_message_box):
    window, panel = window_training(qtbot, seg_project)

    seen = answer_message_box(QMessageBox.StandardButton.Cancel)
    assert window.close() is False and seen == ["confirmStopTraining"]
    assert panel.is_training()  # "Cancel" left the run alone

    seen = answer_message_box(QMessageBox.StandardButton.Yes)
    assert window.close() is True and seen == ["confirmStopTraining"]
    assert not panel.is_training()
    runs = seg_project.db.list_runs()
    assert runs and runs[0].status == "cancelled"
    window.deleteLater()


def test_sigterm_during_training_stops_the_run_and_closes_without_asking(
        qtbot, seg_project, answer_message_box):
    import signal

    from PySide6.QtWidgets import QApplication

    from workbench.qt.termination import SigtermQuit

    window, panel = window_training(qtbot, seg_project)
    seen = answer_message_box(QMessageBox.StandardButton.Cancel)  # would keep it running
    quitter = SigtermQuit(QApplication.instance())
    try:
        assert signal.getsignal(signal.SIGTERM) == quitter._handle  # never the default here
        signal.raise_signal(signal.SIGTERM)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)
    finally:
        quitter.uninstall()
    assert quitter.received and seen == []  # nobody was asked
    assert not panel.is_training()
    runs = seg_project.db.list_runs()
    assert runs and runs[0].status == "cancelled"
    window.deleteLater()
