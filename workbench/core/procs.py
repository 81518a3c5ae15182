"""Processes: is a pid alive and what is it (lock messages, killed runs), and SIGTERM handled
like Ctrl-C, so `timeout`, systemd or docker stopping a command is a Stop, not a kill."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the work ends as after Ctrl-C (the run is recorded as cancelled)."""


def raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the body runs (on the main thread), SIGTERM raises :class:`Terminated`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def pid_alive(pid: int) -> bool:
    """True if a process with this pid runs on this host (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def describe_process(pid: int) -> str:
    """``pid 123: python3 -m workbench train …`` when /proc tells, else ``pid 123``."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    command = " ".join(a.decode("utf-8", "replace") for a in raw.split(b"\0") if a)
    if len(command) > 120:
        command = command[:117] + "..."
    return f"pid {pid}: {command}" if command else f"pid {pid}"
