"""Tools of the fault suite: real child processes, a real small disk and a real read-only mount
where this machine lets the tests mount them, and an injected error at the write layer where
it does not (so the suite runs everywhere and skips nothing).

``WORKBENCH_TEST_NO_MOUNT=1`` forces the injected variants (to check them on a machine that
could mount).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core import faultpoints
from workbench.core.faultpoints import DIR_ENV, ENV
from workbench.core.project import Project, SplitRule, Task

REPO = Path(__file__).resolve().parents[2]
PAGE = 4096


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(ENV, None)
    env.update(extra)
    return env


def spawn(code: str, *args: object, **extra_env: str) -> subprocess.Popen[str]:
    """A Python child running ``code`` (argv[1:] = args) with this checkout on its path."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                            env=child_env(**extra_env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_cli(*args: object, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """``workbench ARGS`` in a child process (what a user runs)."""
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], check=False,
                          env=child_env(**extra_env), capture_output=True, text=True, timeout=120)


def wait_for(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI failed with exit 1 and exactly one ``workbench: error:`` line, no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("workbench: error:")]
    assert result.returncode == 1 and len(errors) == 1, (result.returncode, result.stderr)
    return errors[0]


def save_rgb(path: Path, seed: int = 0, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)


def seg_project(root: Path, n: int = 4, size: int = 32, labelled: int = 0) -> Path:
    """A closed segmentation project (bg, fg) with ``n`` images, the first ``labelled`` with a
    random mask; returns its folder."""
    src = root.parent / f"{root.name}-src"
    src.mkdir(parents=True)
    for i in range(n):
        save_rgb(src / f"img{i}.png", i, size)
    with Project.create(root, name="p", task=Task.SEGMENTATION, classes=["bg", "fg"],
                        split=SplitRule(valid_pct=0.25)) as project:
        project.add_images(sorted(src.iterdir()))
        rng = np.random.default_rng(1)
        for i in range(labelled):
            project.write_mask(f"img{i}.png", rng.integers(0, 2, (size, size), dtype=np.uint8))
    shutil.rmtree(src)
    return root


def tag_project(root: Path, n: int = 4) -> Path:
    src = root.parent / f"{root.name}-src"
    src.mkdir(parents=True)
    for i in range(n):
        save_rgb(src / f"t{i}.png", i)
    with Project.create(root, name="t", task=Task.MULTILABEL, classes=["a", "b"]) as project:
        project.add_images(sorted(src.iterdir()))
    shutil.rmtree(src)
    return root


# -- mounts ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, e.g. CI's container)."""
    if os.environ.get("WORKBENCH_TEST_NO_MOUNT") or not sys.platform.startswith("linux"):
        return False
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    probe = Path(tempfile.mkdtemp(prefix="wb-mount-probe-"))
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                            check=False, capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], check=True)
        return ok
    finally:
        probe.rmdir()


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


class SmallDisk:
    """A folder on a real 8 MiB tmpfs (``real``), or a plain folder whose writes fail with
    ENOSPC through the write fault points once it is "full"."""

    def __init__(self, root: Path, real: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.real = real
        self._mp = monkeypatch
        self._filler = root / "filler"

    def fill(self, room: int = 0, project: Project | None = None) -> None:
        """Fill the disk, leaving room for about ``room`` more small (one-page) files. An open
        ``project`` first truncates its WAL, so its next database write needs new space too."""
        if project is not None:
            project.db.con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        if not self.real:
            faultpoints.reset()
            self._mp.setenv(ENV, f"write.*=enospc@{room + 1}")
            return
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for chunk in (PAGE * 64, PAGE):  # big writes, then page by page to the last one
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        if room:
            os.truncate(self._filler, max(0, self._filler.stat().st_size - room * PAGE))

    def free(self) -> None:
        if self.real:
            self._filler.unlink(missing_ok=True)
        else:
            self._mp.delenv(ENV, raising=False)

    def env(self) -> dict[str, str]:
        """Extra environment for a child process that must see the disk as full."""
        return {} if self.real else {ENV: "write.*=enospc"}


def _bind_read_only(folder: Path) -> bool:
    """Mount ``folder`` read-only onto itself; False (and nothing mounted) where not allowed."""
    if not can_mount():
        return False
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], check=False,
                      capture_output=True).returncode != 0:
        return False
    if subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=False,
                      capture_output=True).returncode != 0:
        _umount(folder)
        return False
    return True


@contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Make ``folder`` read-only for the block: a read-only bind mount of it onto itself where
    we may mount, else its permissions (non-root), else EROFS injected at the write layer.
    Yields extra environment for child processes (empty unless EROFS is injected)."""
    if _bind_read_only(folder):
        try:
            yield {}
        finally:
            _umount(folder)
    elif os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for p, mode in modes.items():
            p.chmod(mode & ~0o222)
        try:
            yield {}
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
    else:
        faultpoints.reset()
        monkeypatch.setenv(ENV, "write.*=erofs")
        try:
            yield {ENV: "write.*=erofs"}
        finally:
            monkeypatch.delenv(ENV)


def kill_after_calls(module: str, function: str, n: int, sig: int = signal.SIGKILL) -> str:
    """Code for a child: wrap ``module.function`` so that the process gets ``sig`` right after
    its ``n``-th call returns (an exact moment that old and new code both pass through)."""
    return (f"import os, importlib\n"
            f"_m = importlib.import_module({module!r})\n"
            f"_orig = getattr(_m, {function!r})\n"
            f"_calls = [0]\n"
            f"def _wrapped(*a, **k):\n"
            f"    out = _orig(*a, **k)\n"
            f"    _calls[0] += 1\n"
            f"    if _calls[0] == {n}:\n"
            f"        os.kill(os.getpid(), {int(sig)})\n"
            f"    return out\n"
            f"setattr(_m, {function!r}, _wrapped)\n")


def fault_dir_env(folder: Path, spec: str) -> dict[str, str]:
    return {ENV: spec, DIR_ENV: str(folder)}
