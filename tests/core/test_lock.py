"""The project lock, tested against a real second process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.errors import ProjectLockedError
from workbench.core.lock import LOCK_NAME, pid_alive
from workbench.core.project import Project

REPO = Path(__file__).resolve().parents[2]
_HOLDER = """
import sys
from workbench.core.project import Project
p = Project.open(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
p.close()
print("closed", flush=True)
"""


def _spawn_holder(root: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def closed_root(tmp_path: Path) -> Path:
    Project.create(tmp_path / "p", name="p", task="multilabel", classes=["a"]).close()
    return tmp_path / "p"


def test_second_process_is_refused_with_pid(closed_root: Path) -> None:
    proc = _spawn_holder(closed_root)
    try:
        with pytest.raises(ProjectLockedError,
                           match=rf"already open in another window \(pid {proc.pid}\)") as info:
            Project.open(closed_root)
        assert info.value.pid == proc.pid
        with Project.open(closed_root, readonly=True) as ro:  # viewing is still allowed
            assert ro.task.value == "multilabel"
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "closed"
        proc.wait(10)
    with Project.open(closed_root) as project:  # released on close
        assert project.root == closed_root.resolve()


def test_stale_lock_of_killed_process_is_recovered(closed_root: Path) -> None:
    proc = _spawn_holder(closed_root)
    proc.kill()
    proc.wait(10)
    owner = json.loads((closed_root / LOCK_NAME).read_text())
    assert owner["pid"] == proc.pid and owner["host"] == socket.gethostname()
    assert not pid_alive(proc.pid)
    with Project.open(closed_root) as project:
        owner = json.loads((project.root / LOCK_NAME).read_text())
        assert owner["pid"] == os.getpid()


def test_garbled_lock_is_recovered(closed_root: Path) -> None:
    (closed_root / LOCK_NAME).write_text("")
    with Project.open(closed_root):
        assert json.loads((closed_root / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_lock_from_other_host_is_refused(closed_root: Path) -> None:
    (closed_root / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(ProjectLockedError, match="another computer \\(elsewhere"):
        Project.open(closed_root)


def test_same_process_shares_the_lock(closed_root: Path) -> None:
    first = Project.open(closed_root)
    second = Project.open(closed_root)
    second.close()
    assert (closed_root / LOCK_NAME).exists()  # still held by `first`
    first.close()
    assert not (closed_root / LOCK_NAME).exists()


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
