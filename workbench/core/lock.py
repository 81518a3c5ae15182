"""The project write lock: a ``.workbench.lock`` file holding the owner's pid and host.

Created with O_EXCL so two processes cannot both win. A lock left by a process that died (same
host, pid no longer running) is stale and taken over. Opening the same project twice within one
process shares the lock (reference counted), because that is one window, not a conflict.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

from workbench.core.atomic import translate_os_error
from workbench.core.errors import ProjectLockedError

log = logging.getLogger(__name__)

LOCK_NAME = ".workbench.lock"
_held: dict[Path, int] = {}
_held_lock = threading.Lock()


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


def _read_owner(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class ProjectLock:
    """Exclusive write lock on one project folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.path = self.root / LOCK_NAME
        self.acquired = False
        self.shared = False  # True when another Project in this process already held it

    def acquire(self) -> None:
        with _held_lock:
            if _held.get(self.root, 0) > 0:
                _held[self.root] += 1
                self.acquired = self.shared = True
                return
            for _attempt in range(3):
                if self._try_create():
                    _held[self.root] = 1
                    self.acquired = True
                    return
                self._handle_existing()
        raise ProjectLockedError(f"Could not lock {self.root}: the lock file keeps reappearing.")

    def _try_create(self) -> bool:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "created": time.time()}
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise translate_os_error(exc, self.path, "lock") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(owner, fh)
        return True

    def _handle_existing(self) -> None:
        """Remove the existing lock if stale, else raise ProjectLockedError."""
        owner = _read_owner(self.path)
        pid, host = owner.get("pid"), owner.get("host")
        here = socket.gethostname()
        if not owner:
            # An empty/garbled lock: the writer died between create and write. Give a live
            # writer a moment, then treat it as stale.
            time.sleep(0.2)
            if _read_owner(self.path):
                return
        elif host != here:
            raise ProjectLockedError(
                f"{self.root} is already open on another computer ({host}, pid {pid}). "
                f"Close it there, or delete {self.path} if that program is no longer running.",
                pid=pid, host=host,
            )
        elif isinstance(pid, int) and pid_alive(pid) and pid != os.getpid():
            raise ProjectLockedError(
                f"{self.root} is already open in another window (pid {pid}). "
                "Close it there first, or open this project read-only.",
                pid=pid, host=host,
            )
        log.warning("removing stale lock %s (owner %s)", self.path, owner or "unknown")
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise translate_os_error(exc, self.path, "remove the stale lock") from exc

    def release(self) -> None:
        if not self.acquired:
            return
        self.acquired = False
        with _held_lock:
            count = _held.get(self.root, 0) - 1
            if count > 0:
                _held[self.root] = count
                return
            _held.pop(self.root, None)
            if _read_owner(self.path).get("pid") == os.getpid():
                try:
                    self.path.unlink()
                except OSError as exc:
                    log.warning("could not remove lock %s: %s", self.path, exc)
