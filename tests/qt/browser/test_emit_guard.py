"""Guards against the PySide6 6.12.0 emit() leak: every Python-side signal emit lost one
reference to True, so on Python 3.11 the thumbnail and status signals of a long session
aborted the interpreter ("bool_dealloc"). pyproject pins PySide6 below 6.12 for this."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import PySide6
import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


def test_pyside6_version_is_not_the_leaking_one():
    # True is immortal from Python 3.12 on, so the refcount test cannot see the leak there.
    assert tuple(PySide6.__version_info__[:2]) < (6, 12), PySide6.__version__


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="True is immortal from Python 3.12 on: its refcount never changes, so "
                           "a leak cannot show; the version guard above covers it")
def test_signal_emit_keeps_true_refcount():
    emitter = _Emitter()
    received = []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for i in range(500):
        emitter.fired.emit(i)
    assert len(received) == 500
    assert sys.getrefcount(True) - before > -50
