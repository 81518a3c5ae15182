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
    """Python's cyclic collector runs at any allocation: inside a Qt test that is often while a
    training thread is busy, and collecting the dead Qt wrappers of earlier tests there crashed
    the process once (segfault in GC inside qtbot.waitUntil, 1 full run in 4). So in Qt tests
    it runs here, between tests, when no worker thread is alive. Survivors are frozen so each
    of these collections only walks what the last test made (a full walk with torch loaded
    added minutes to the suite)."""
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
