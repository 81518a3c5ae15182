"""Helpers shared by the Qt tests."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests():
    """As in the app (workbench/qt/gui_gc.py), cyclic garbage is never collected on a worker
    thread during a Qt test: collection is off inside the test and runs here, between tests,
    when no worker thread is alive. Survivors are frozen so each of these collections only
    walks what the last test made (a full walk with torch loaded added minutes to the suite).

    WORKBENCH_GC_STRESS=N instead runs the app's own GUI-thread collector inside every test,
    due every N allocations and checked every millisecond: slow, but it shakes out
    object-lifetime and re-entrancy bugs (it found the weights dialog deleting itself inside
    its own setValue)."""
    stress = os.environ.get("WORKBENCH_GC_STRESS")
    if stress:
        from workbench.qt.gui_gc import GuiThreadCollector

        thresholds = gc.get_threshold()
        gc.set_threshold(int(stress), 2, 2)
        collector = GuiThreadCollector(interval_ms=1)
        collector.start()
        yield
        collector.stop()
        collector.deleteLater()
        gc.set_threshold(*thresholds)
        return
    gc.disable()
    yield
    gc.enable()
    gc.collect()
    gc.freeze()


@pytest.fixture
def answer_message_box(qtbot) -> Callable[[QMessageBox.StandardButton], list[str]]:
    """answer_message_box(button): click ``button`` on the next modal QMessageBox.

    Returns a list that receives the box's objectName once it has been answered.
    """

    def answer(button: QMessageBox.StandardButton) -> list[str]:
        seen: list[str] = []

        def click() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(20, click)  # the box is not open yet: look again shortly
                return
            seen.append(box.objectName())
            qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)

        QTimer.singleShot(20, click)
        return seen

    return answer


@pytest.fixture
def one_torch_thread():
    """Train on one torch thread: GUI tests that train share 2 cores with the Qt thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
