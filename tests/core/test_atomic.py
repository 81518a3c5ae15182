"""Atomic writes: a crash, a full disk or a read-only folder never damages the previous file."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.core import atomic
from workbench.core.atomic import atomic_copy, atomic_write_bytes, atomic_write_text
from workbench.core.errors import DiskFullError, ProjectError, ReadOnlyError
from workbench.core.project import Project

REPO = Path(__file__).resolve().parents[2]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic_write_text(path, "one")
    assert path.read_text() == "one"
    assert path.stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK
    os.chmod(path, 0o640)
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert path.stat().st_mode & 0o777 == 0o640
    assert _leftovers(tmp_path) == []


def test_crash_before_rename_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")

    def crash(*_a: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ProjectError, match="a.txt"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_disk_full_gives_specific_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mask.png"
    path.write_bytes(b"old mask")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFullError, match=r"mask.png: the disk is full.*previous version"):
        atomic_write_bytes(path, b"new mask")
    assert path.read_bytes() == b"old mask"
    assert _leftovers(tmp_path) == []


def test_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root ignores chmod, so simulate what the OS reports for a read-only folder.
    def denied(*_a: object, **_k: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(ReadOnlyError, match="x.txt.*read-only"):
        atomic_write_text(tmp_path / "x.txt", "data")
    with pytest.raises(ReadOnlyError, match="copy.bin"):
        atomic_copy(__file__, tmp_path / "copy.bin")
    assert not (tmp_path / "x.txt").exists()


def test_atomic_copy(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 << 20))
    atomic_copy(src, tmp_path / "dst.bin")
    assert (tmp_path / "dst.bin").read_bytes() == src.read_bytes()


_KILLED_WRITER = """
import os, sys, time
from workbench.core import atomic
def stall(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = stall
atomic.atomic_write_bytes(sys.argv[1], b"new content that must never appear")
"""


def test_process_killed_mid_write_leaves_old_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("image_name,tags\nold,row\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait(10)
    assert path.read_text() == "image_name,tags\nold,row\n"
    # The temp file of the killed writer is left, hidden, beside it; it is never read, and the
    # next writable open of the project removes it.
    leftovers = _leftovers(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".labels.csv."), leftovers


def test_project_open_removes_crash_leftovers(seg_project: Project) -> None:
    root = seg_project.root
    seg_project.close()
    (root / "masks" / ".img_00.png.abc123.tmp").write_bytes(b"half a mask")
    (root / ".workbench.json.x.tmp").write_text("{")
    with Project.open(root, readonly=True):
        assert _leftovers(root / "masks")  # a viewer never deletes anything
    with Project.open(root) as first:
        assert _leftovers(root / "masks") == [] and _leftovers(root) == []
        # A second open in the same process may race a live write of the first: keep temps.
        (root / "masks" / ".live.png.x.tmp").write_bytes(b"being written")
        with Project.open(root):
            assert _leftovers(root / "masks") == [".live.png.x.tmp"]
        assert first.image_names()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores folder permissions; test_read_only_folder simulates it")
def test_real_read_only_folder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old")
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(ReadOnlyError, match="a.txt.*read-only"):
            atomic_write_text(tmp_path / "a.txt", "new")
    finally:
        os.chmod(tmp_path, 0o755)
    assert (tmp_path / "a.txt").read_text() == "old"
