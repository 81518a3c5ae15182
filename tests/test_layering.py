"""core and training must never import Qt: the dependency direction is qt -> training -> core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Imports every module of the two packages in a fresh interpreter (other tests import Qt, so
# sys.modules of this process proves nothing), then lists any GUI module that came along.
_PROBE = """
import importlib, pkgutil, sys
import workbench.core, workbench.training
for pkg in (workbench.core, workbench.training):
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(mod.name)
banned = ("PySide6", "pyqtgraph", "shiboken6")
print(sorted(m for m in sys.modules if m.split(".")[0] in banned))
print(len([m for m in sys.modules if m.startswith(("workbench.core", "workbench.training"))]))
"""


def test_core_and_training_do_not_import_qt() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                            env=env, cwd=REPO, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    leaked, count = result.stdout.strip().splitlines()
    assert leaked == "[]", f"core/training imported GUI modules: {leaked}"
    assert int(count) > 10  # the probe really imported the packages' modules


def test_core_does_not_import_torch() -> None:
    probe = ("import importlib, pkgutil, sys, workbench.core\n"
             "for m in pkgutil.walk_packages(workbench.core.__path__, 'workbench.core.'):\n"
             "    importlib.import_module(m.name)\n"
             "print('torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, cwd=REPO, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
