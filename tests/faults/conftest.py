"""Fixtures of the fault suite (the tools themselves are in helpers.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import SmallDisk, _umount, can_mount


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    real = can_mount() and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        check=False, capture_output=True).returncode == 0
    try:
        yield SmallDisk(mount, real, monkeypatch)
    finally:
        if real:
            _umount(mount)
