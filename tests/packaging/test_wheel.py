"""The wheel carries its resources: build it, install it into a fresh venv, run the self-test.

The fresh venv gets only the built wheel installed; torch, Qt & co. come from this environment
through a ``.pth`` line (installing them again would take minutes). The checks below prove the
``workbench`` that runs is the wheel's copy, not this checkout, and that the wheel lists the
demo data, icons and theme.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from workbench.selftest import CHECKS

REPO = Path(__file__).resolve().parents[2]
# Nothing may leak in from the checkout (the test run's PYTHONPATH points at it).
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
RESOURCES = REPO / "workbench" / "resources"


def _build_wheel(tmp: Path) -> Path:
    # Build from a copy so setuptools' build/ and egg-info never land in the checkout.
    src = tmp / "src"
    shutil.copytree(REPO / "workbench", src / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    out = tmp / "wheelhouse"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "-w", str(out), str(src)],
                   check=True, timeout=300)
    (wheel,) = out.glob("workbench-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    base = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120,
                   env=CLEAN_ENV)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300, env=CLEAN_ENV)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True,
                          env=CLEAN_ENV).stdout
    # Dependencies only: appended after the venv's own site-packages, so the wheel's copy wins.
    Path(site.strip(), "reuse-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.mark.timeout(900)
def test_wheel_installs_and_passes_self_test(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "workbench/" + p.relative_to(REPO / "workbench").as_posix()
        for p in RESOURCES.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert len(expected) > 300  # the demo images, icons and theme
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)[:5]}"

    venv = _fresh_venv(tmp_path, wheel)
    env = dict(CLEAN_ENV)
    env["HOME"] = str(tmp_path / "home")  # no user settings or caches from this machine
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import workbench.resources as r; print(r.resource_path('demo'))"],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(venv), f"resources found outside the venv: {where}"

    result = subprocess.run([str(venv / "bin" / "workbench"), "--self-test"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=840, check=False)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(("ok ", "FAIL "))]
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(lines) == len(CHECKS) and all(ln.startswith("ok ") for ln in lines), result.stdout
    assert f"{len(CHECKS)} passed, 0 failed" in result.stdout
