"""Atomic file writes: temp file in the same folder, fsync, rename.

A crash, a full disk or a permission problem at any point leaves the previous file intact: the
rename is the only step that touches it, and POSIX/NTFS renames within one folder are atomic.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from workbench.core.errors import DiskFullError, ProjectError, ReadOnlyError
from workbench.core.faultpoints import fault_point
from workbench.core.procs import pid_alive

log = logging.getLogger(__name__)

NAME_MAX = 255  # bytes in one path component on Linux/macOS file systems
# Temp names carry the writer's pid, so a sweep can tell a live writer's file from a leftover.
_TEMP_RE = re.compile(r"\.wb(\d+)-[^.]*\.tmp$")

_READ_ONLY_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
# mkstemp creates 0600 files; give new files the mode open() would (read once: os.umask is
# process-global and not thread-safe to query later).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def translate_os_error(exc: OSError, path: Path, action: str = "write") -> Exception:
    """Turn an OSError into the specific WorkbenchError a user can act on."""
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return DiskFullError(
            f"Cannot {action} {path}: the disk is full. Free some space and try again; "
            "the previous version of the file was kept."
        )
    if isinstance(exc, PermissionError) or exc.errno in _READ_ONLY_ERRNOS:
        return ReadOnlyError(
            f"Cannot {action} {path}: the folder {path.parent} is read-only. "
            "Check its permissions or copy the project somewhere writable."
        )
    return ProjectError(f"Cannot {action} {path}: {exc.strerror or exc}.")


_deferred = threading.local()


@contextmanager
def deferred_sync() -> Iterator[None]:
    """Skip the per-file fsync inside the block and flush everything once at its end.

    For bulk imports: fsync dominated (two thirds of the time per imported image). Writes stay
    atomic (temp file + rename), so a crashing process still never leaves a partial file; only
    durability against power loss is delayed until the block ends.
    """
    outer = getattr(_deferred, "active", False)
    _deferred.active = True
    try:
        yield
    finally:
        _deferred.active = outer
        if not outer and hasattr(os, "sync"):
            os.sync()


def _sync_now() -> bool:
    return not getattr(_deferred, "active", False)


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable. Not possible on Windows; harmless to skip there.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def short_name(name: str, room: int) -> str:
    """``name`` cut to at most NAME_MAX - ``room`` UTF-8 bytes (whole characters), so that a
    prefix or suffix of ``room`` bytes still fits in one path component."""
    raw = name.encode("utf-8", "surrogateescape")
    limit = NAME_MAX - room
    if len(raw) <= limit:
        return name
    return raw[:limit].decode("utf-8", "surrogateescape")


def temp_prefix(name: str) -> str:
    """The hidden temp-name prefix for writing ``name``: ``.<name>.wb<pid>-`` (mkstemp adds 8
    random characters and the caller ``.tmp``), short enough for a 255-byte ``name``."""
    tail = f".wb{os.getpid()}-"
    return "." + short_name(name, 1 + len(tail) + 8 + len(".tmp")) + tail


class StagedFile:
    """A complete temp file waiting beside ``path``: :meth:`commit` renames it over ``path``
    (needs no disk space, so it cannot fail for a full disk), :meth:`discard` removes it.

    Lets a change to several files and the database be all or nothing: stage every file,
    commit the database, then commit the files.
    """

    def __init__(self, path: Path, tmp: str) -> None:
        self.path = path
        self._tmp: str | None = tmp

    def commit(self) -> None:
        if self._tmp is None:
            return
        try:
            fault_point("atomic.before_rename")
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.discard()
            raise translate_os_error(exc, self.path) from exc
        self._tmp = None
        if _sync_now():
            _fsync_dir(self.path.parent)

    def discard(self) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                log.warning("could not remove temporary file %s", self._tmp)
            self._tmp = None


def stage_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> StagedFile:
    """Fill a temp file next to ``path`` with ``write(fh)`` and fsync it; nothing replaced yet.

    Any OSError becomes the specific WorkbenchError naming ``path``; the temp file is removed.
    """
    path = Path(path)
    tmp_name: str | None = None
    try:
        fault_point("write.atomic")
        fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp",
                                        dir=path.parent)
        os.chmod(tmp_name, _file_mode(path))
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if _sync_now():
                os.fsync(fh.fileno())
        staged, tmp_name = StagedFile(path, tmp_name), None
        return staged
    except OSError as exc:
        raise translate_os_error(exc, path) from exc
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                log.warning("could not remove temporary file %s", tmp_name)


def stage_bytes(path: str | os.PathLike[str], data: bytes) -> StagedFile:
    return stage_write(path, lambda fh: fh.write(data))


def _replace_via_temp(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Fill a temp file next to ``path`` with ``write(fh)``, fsync it and rename it over ``path``.

    Any OSError becomes the specific WorkbenchError naming ``path``; the temp file is removed.
    """
    staged = stage_write(path, write)
    staged.commit()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; raise DiskFullError/ReadOnlyError on failure."""
    _replace_via_temp(Path(path), lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Text version of :func:`atomic_write_bytes` (newlines written as given)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_copy(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Copy ``src`` to ``dest`` so that ``dest`` is either absent/old or complete, never partial."""

    def copy(out: BinaryIO) -> None:
        with open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)

    _replace_via_temp(Path(dest), copy)


def writer_alive(name: str) -> bool:
    """Whether the temp file or folder ``name`` belongs to a process that still runs here."""
    match = _TEMP_RE.search(name)
    return match is not None and pid_alive(int(match.group(1)))


def remove_stale_temps(folder: Path) -> int:
    """Delete temp files left by interrupted atomic writes in ``folder``; return how many.

    Call this while holding the project lock. A temp file whose writer (the pid in its name)
    still runs is kept: a process that writes without the lock (e.g. ``predict --out`` into the
    project) may be half way through it.
    """
    try:
        with os.scandir(folder) as it:
            names = [e.name for e in it if e.name.startswith(".") and e.name.endswith(".tmp")
                     and e.is_file(follow_symlinks=False) and not writer_alive(e.name)]
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in names:
        try:
            os.unlink(folder / name)
        except OSError as exc:
            log.warning("could not remove %s: %s", folder / name, exc)
    return len(names)


# -- whole folders ---------------------------------------------------------------------------
_OLD_TREE_RE = re.compile(r"^\.(.+)\.wb(\d+)-old\.tmp$")


def staging_dir(dest: str | os.PathLike[str]) -> Path:
    """A new empty hidden folder beside ``dest`` to build its next version in (see
    :func:`replace_dir`); a crash leaves only this hidden folder, removed on the next open."""
    dest = Path(dest)
    try:
        fault_point("write.atomic")
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=temp_prefix(dest.name), suffix=".tmp",
                                     dir=dest.parent))
    except OSError as exc:
        raise translate_os_error(exc, dest, "create") from exc


def replace_dir(staged: Path, dest: Path) -> None:
    """Put the complete folder ``staged`` where ``dest`` is: readers see the old folder or the
    new one, never a half-written one. Two renames; a crash between them leaves the old folder
    under a hidden name, which :func:`remove_stale_trees` puts back."""
    old: Path | None = None
    try:
        if dest.exists():
            old = dest.with_name(temp_prefix(dest.name) + "old.tmp")
            os.replace(dest, old)
        fault_point("atomic.between_renames")
        os.replace(staged, dest)
    except OSError as exc:
        if old is not None and not dest.exists():
            os.replace(old, dest)
        raise translate_os_error(exc, dest, "replace") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    if _sync_now():
        _fsync_dir(dest.parent)


def remove_stale_trees(folder: Path, dest_name: str | None = None) -> int:
    """Clean up after interrupted :func:`staging_dir` / :func:`replace_dir` in ``folder`` (only
    those for ``dest_name`` if given): an old version whose folder is missing is put back,
    other leftovers of dead writers go."""
    start = "." if dest_name is None else temp_prefix(dest_name).rsplit(".wb", 1)[0] + ".wb"
    try:
        with os.scandir(folder) as it:
            names = [e.name for e in it if e.name.startswith(start) and e.name.endswith(".tmp")
                     and e.is_dir(follow_symlinks=False) and not writer_alive(e.name)]
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in names:
        restore = _OLD_TREE_RE.match(name)
        try:
            if restore and not (folder / restore.group(1)).exists():
                os.replace(folder / name, folder / restore.group(1))
                log.warning("put back %s, which an interrupted write had moved aside",
                            folder / restore.group(1))
            else:
                shutil.rmtree(folder / name)
        except OSError as exc:
            log.warning("could not clean up %s: %s", folder / name, exc)
    return len(names)
