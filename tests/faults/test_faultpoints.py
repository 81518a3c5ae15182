"""The fault-point hook itself: silent by default, each action does what it says."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.core import faultpoints
from workbench.core.faultpoints import ENV, fault_env, fault_point

REPO = Path(__file__).resolve().parents[2]


def test_unnamed_points_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    fault_point("atomic.before_rename")
    monkeypatch.setenv(ENV, "lock.write=enospc")
    fault_point("atomic.before_rename")  # another point: still nothing


def test_errno_actions_and_nth_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    faultpoints.reset()
    monkeypatch.setenv(ENV, "write.*=enospc@2")
    fault_point("write.atomic")  # first hit passes
    with pytest.raises(OSError) as info:
        fault_point("write.db")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.setenv(ENV, "x=erofs")
    with pytest.raises(OSError) as info:
        fault_point("x")
    assert info.value.errno == errno.EROFS


def test_unknown_action_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "x=explode")
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        fault_point("x")


def _child(spec: str, folder: Path | None = None) -> subprocess.Popen[str]:
    code = ("from workbench.core.faultpoints import fault_point\n"
            "fault_point('demo.step'); print('passed', flush=True)")
    env = fault_env(spec, folder)
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize(("action", "sig"), [("kill", signal.SIGKILL), ("term", signal.SIGTERM)])
def test_kill_and_term_end_a_real_process(action: str, sig: int) -> None:
    proc = _child(f"demo.step={action}")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -sig and "passed" not in out


def test_wait_blocks_until_continue(tmp_path: Path) -> None:
    proc = _child("demo.step=wait", tmp_path)
    reached = tmp_path / "demo.step.reached"
    for _ in range(1500):
        if reached.exists() or proc.poll() is not None:
            break
        time.sleep(0.02)
    assert reached.read_text() == str(proc.pid) and proc.poll() is None
    (tmp_path / "demo.step.continue").touch()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.strip() == "passed"
