"""Every Qt class lives under here: thin adapters over workbench.core and workbench.training.

Importing this package also works around a PySide6 bug that would otherwise abort the app
(see :func:`_guard_emit_refcount`); every Qt module of Workbench is under this package, so the
guard is in place before any of them emits a signal.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class _Probe(QObject):
    fired = Signal()


def emit_leaks_true() -> bool:
    """True when ``SignalInstance.emit()`` returns ``True`` without a new reference.

    PySide6 6.12.0 does this; on Python >= 3.12 ``True`` is immortal so nothing happens, but on
    3.11 every emit from Python drops one reference to ``True`` and after a few thousand emits
    the interpreter aborts with "bool_dealloc: deallocating True or False".
    """
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.emit()
    return sys.getrefcount(True) < before


def _guard_emit_refcount() -> None:
    """Give True/False a huge reference count (what Python 3.12 does by making them immortal)
    so that the leaked decrements can never reach zero."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    if not emit_leaks_true():
        return
    for value in (True, False):
        # ob_refcnt is the first field of every CPython object, and id() is its address.
        ctypes.c_ssize_t.from_address(id(value)).value += 1 << 40
    log.debug("PySide6 emit() reference leak detected; pinned True/False")


_guard_emit_refcount()
