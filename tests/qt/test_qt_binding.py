"""Guards against Qt binding releases that corrupt the interpreter during long sessions."""

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QWidget


def test_void_qt_calls_keep_none_refcount(qtbot):
    # PySide6 6.12.0 lost one reference to None per void call; after a few thousand brush
    # strokes Python 3.11 aborted with "none_dealloc".
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    before = sys.getrefcount(None)
    for _ in range(500):
        widget.update()
    assert sys.getrefcount(None) - before > -50
