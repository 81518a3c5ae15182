"""The project write lock: an OS lock (``flock``) on ``.workbench.lock``, which names its owner.

The kernel holds the lock for as long as the owner's file descriptor is open, so it dies with
its process (kill -9, power loss of a local disk) and no process ever decides that someone
else's lock is stale: whoever gets the ``flock`` is the one writer. The pid and host written
into the file only serve the message a second process shows. Only the holder removes the file
(on release, while still holding it); a process that locked a file which was removed or
replaced in the meantime notices (different inode) and tries again.

Opening the same project twice within one process shares the lock (reference counted),
because that is one window, not a conflict.
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
from workbench.core.faultpoints import fault_point
from workbench.core.procs import describe_process, pid_alive

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "ProjectLock", "pid_alive"]

log = logging.getLogger(__name__)

LOCK_NAME = ".workbench.lock"
_KIND = "flock"  # marks files written by this lock (older versions used O_EXCL files)
_held: dict[Path, int] = {}
_fds: dict[Path, int] = {}
_held_lock = threading.Lock()


def _read_owner(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, RecursionError):
        return {}


def _try_flock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover - Windows: lock the first byte instead
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _names_live_owner(owner: dict) -> bool:
    pid, host = owner.get("pid"), owner.get("host")
    if host not in (None, socket.gethostname()):
        return True
    return isinstance(pid, int) and pid_alive(pid)


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
            owner: dict = {}
            for _attempt in range(20):
                fd = self._open()
                if _try_flock(fd):
                    if _same_file(fd, self.path):
                        break
                    os.close(fd)  # the holder removed it between our open and flock: again
                    continue
                owner = _read_owner(fd)
                os.close(fd)
                if _names_live_owner(owner):
                    raise self._locked_error(owner)
                time.sleep(0.05)  # a winner that has not written its name yet, or is leaving
            else:
                raise self._locked_error(owner)
            try:
                self._take(fd)
            except BaseException:
                os.close(fd)
                raise
            _held[self.root] = 1
            _fds[self.root] = fd
            self.acquired = True

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fault_point("write.lock")
            return os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise translate_os_error(exc, self.path, "lock") from exc

    def _take(self, fd: int) -> None:
        """We hold the flock: refuse an owner this lock cannot see, then write our name."""
        old = _read_owner(fd)
        here = socket.gethostname()
        if old.get("host") not in (None, here):
            # flock may not reach across machines (some network file systems): be careful.
            raise ProjectLockedError(
                f"{self.root} is already open on another computer ({old['host']}, pid "
                f"{old.get('pid')}). Close it there, or delete {self.path} if that program is "
                "no longer running.", pid=old.get("pid"), host=old["host"])
        pid = old.get("pid")
        if old.get("kind") != _KIND and isinstance(pid, int) and pid != os.getpid() \
                and pid_alive(pid):
            # Written by an older Workbench, which did not flock: the pid is all we have.
            raise ProjectLockedError(
                f"{self.root} is locked by {describe_process(pid)} (a lock from an older "
                f"Workbench). Close that program, or delete {self.path} if it is not Workbench.",
                pid=pid, host=here)
        if old:
            log.info("taking over the lock of a process that is gone (%s)", old)
        owner = {"pid": os.getpid(), "host": here, "created": time.time(), "kind": _KIND}
        data = json.dumps(owner).encode()
        try:
            os.ftruncate(fd, 0)
            fault_point("write.lock_owner")
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, data)
        except OSError as exc:
            # The flock is the lock; the owner's name only improves the message others see.
            log.warning("could not write the owner into %s (%s); the lock holds anyway",
                        self.path, exc.strerror or exc)

    def _locked_error(self, owner: dict) -> ProjectLockedError:
        pid, host = owner.get("pid"), owner.get("host")
        if not isinstance(pid, int):
            return ProjectLockedError(
                f"{self.root} is already open for writing by another process. Close it there "
                "first, or open this project read-only.")
        if host not in (None, socket.gethostname()):
            return ProjectLockedError(
                f"{self.root} is already open on another computer ({host}, pid {pid}). Close "
                "it there first, or open this project read-only.", pid=pid, host=host)
        if pid_alive(pid):
            return ProjectLockedError(
                f"{self.root} is already open in another window (pid {pid}). Close it there "
                f"first, or open this project read-only. ({describe_process(pid)})",
                pid=pid, host=host)
        return ProjectLockedError(
            f"{self.root} is still locked by a child of pid {pid}, which has ended; close the "
            "program that it started (e.g. a data loader worker) or wait for it to finish.",
            pid=pid, host=host)

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
            fd = _fds.pop(self.root, None)
            if fd is None:
                return
            try:
                if _same_file(fd, self.path):  # we hold it, so nobody replaced it since
                    self.path.unlink()
            except OSError as exc:
                log.warning("could not remove lock %s: %s", self.path, exc)
            finally:
                os.close(fd)  # releases the flock
