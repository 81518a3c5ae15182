"""Other processes on this machine: is a pid alive, and what is it (for lock messages)."""

from __future__ import annotations

import os
from pathlib import Path


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
