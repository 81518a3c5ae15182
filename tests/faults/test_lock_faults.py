"""The project lock under races and stale owners: one writer, always, and a clear word on who."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from workbench.core.errors import ProjectLockedError
from workbench.core.lock import LOCK_NAME
from workbench.core.project import Project

from .helpers import seg_project, spawn, wait_for

RACERS = 6
TRIALS = 12

_RACER = """
import sys, time
from pathlib import Path
from workbench.core.errors import ProjectLockedError
from workbench.core.lock import ProjectLock
lock = ProjectLock(Path(sys.argv[1]))
go = Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
try:
    lock.acquire()
    print("got", flush=True)
except ProjectLockedError:
    print("refused", flush=True)
sys.stdin.readline()
lock.release()
"""


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _stale_lock(root: Path) -> None:
    (root / LOCK_NAME).write_text(json.dumps(
        {"pid": _dead_pid(), "host": socket.gethostname(), "created": time.time()}))


def test_racing_for_a_stale_lock_gives_exactly_one_writer(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=1)
    winners = []
    for trial in range(TRIALS):
        _stale_lock(root)
        go = tmp_path / f"go{trial}"
        racers = [spawn(_RACER, root, go) for _ in range(RACERS)]
        try:
            for racer in racers:
                assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
            go.touch()
            # Every racer has answered while the winners still hold the lock.
            outcomes = [r.stdout.readline().strip() for r in racers]  # type: ignore[union-attr]
        finally:
            for racer in racers:
                racer.communicate("\n", timeout=30)
        winners.append(outcomes.count("got"))
        assert set(outcomes) <= {"got", "refused"}, outcomes
    assert winners == [1] * TRIALS, f"writers per trial: {winners}"
    with Project.open(root):  # the last winner released it: free again
        pass


def test_lock_owned_by_a_live_unrelated_pid_names_that_process(tmp_path: Path) -> None:
    """A lock file from an older Workbench whose pid now belongs to another program."""
    root = seg_project(tmp_path / "p", n=1)
    other = subprocess.Popen(["sleep", "60"])
    try:
        (root / LOCK_NAME).write_text(json.dumps({"pid": other.pid,
                                                  "host": socket.gethostname()}))
        with pytest.raises(ProjectLockedError) as info:
            Project.open(root)
        message = str(info.value)
        assert f"pid {other.pid}" in message and "sleep 60" in message
        assert str(root / LOCK_NAME) in message  # what to delete if it is not Workbench
    finally:
        other.kill()
        other.wait()


def test_a_lock_file_nobody_holds_is_taken_even_if_its_pid_lives(tmp_path: Path) -> None:
    """Our own lock files are flocked: an unlocked one is stale whatever its pid (reused)."""
    root = seg_project(tmp_path / "p", n=1)
    other = subprocess.Popen(["sleep", "60"])
    try:
        (root / LOCK_NAME).write_text(json.dumps(
            {"pid": other.pid, "host": socket.gethostname(), "kind": "flock"}))
        with Project.open(root) as project:
            assert not project.readonly
    finally:
        other.kill()
        other.wait()


# A writer that writes without the project lock (as `predict --out <project>/masks` does), held
# between writing its temp file and renaming it.
_SLOW_WRITER = """
import os, sys, time
from pathlib import Path
from workbench.core.atomic import atomic_write_bytes
target, held, go = (Path(a) for a in sys.argv[1:4])
real_replace = os.replace
def held_replace(src, dst):
    held.write_text(str(src))
    while not go.exists():
        time.sleep(0.01)
    real_replace(src, dst)
os.replace = held_replace
atomic_write_bytes(target, b"complete")
print("done", flush=True)
"""


def test_open_never_sweeps_the_temp_file_of_a_live_writer(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=1)
    target, held, go = root / "masks" / "x.png", tmp_path / "held", tmp_path / "go"
    writer = spawn(_SLOW_WRITER, target, held, go)
    try:
        wait_for(held.exists, what="the writer's temp file")
        temp = Path(held.read_text())
        assert temp.exists()
        with Project.open(root):  # the sweep of a writable open
            assert temp.exists(), "the live writer's temp file was deleted"
        go.touch()
        out, err = writer.communicate(timeout=30)
        assert writer.returncode == 0 and out.strip() == "done", err
        assert target.read_bytes() == b"complete"
    finally:
        go.touch()
        writer.kill()
        writer.wait()
