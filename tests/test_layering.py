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


# --- static check of the import graph -------------------------------------------------------
# Importing modules only sees module-level imports that actually run; a function-level
# ``import torch`` in core, or one behind an ``if``, would slip through. So every module's source
# is also parsed, and every import statement anywhere in it (and every constant-string
# ``importlib.import_module`` / ``__import__`` call) is checked against the layer's rules.

GUI = ("PySide6", "shiboken6", "pyqtgraph", "workbench.qt", "workbench.app")
BANNED = {
    "workbench/core": GUI + ("torch", "torchvision", "workbench.training", "workbench.cli"),
    "workbench/training": GUI + ("workbench.cli",),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, at any depth."""
    import ast

    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name)
                       and node.func.id in ("__import__", "import_module")))):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(layer: str) -> tuple[list[str], int]:
    banned = BANNED[layer]
    bad, files = [], 0
    for path in sorted((REPO / layer).rglob("*.py")):
        files += 1
        module = _module_name(path)
        source = path.read_text(encoding="utf-8")
        for line, name in imported_names(source, module, path.name == "__init__.py"):
            if any(name == b or name.startswith(b + ".") for b in banned):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    return bad, files


def test_import_graph_scanner_sees_nested_relative_and_dynamic_imports() -> None:
    source = ("import os\n"
              "def f():\n"
              "    import torch.nn\n"
              "    if True:\n"
              "        from PySide6 import QtCore\n"
              "    from ..qt import main_window\n"
              "    importlib.import_module('pyqtgraph')\n")
    names = {name for _line, name in imported_names(source, "workbench.core.annotation.x")}
    assert {"torch.nn", "PySide6.QtCore", "workbench.core.qt.main_window", "pyqtgraph"} <= names
    names = {name for _line, name in imported_names("from ...qt import w\n", "workbench.core.a.b")}
    assert "workbench.qt.w" in names


def test_core_imports_neither_qt_nor_torch_anywhere_in_its_source() -> None:
    bad, files = violations("workbench/core")
    assert files > 10
    assert bad == [], "\n".join(bad)


def test_training_imports_no_qt_anywhere_in_its_source() -> None:
    bad, files = violations("workbench/training")
    assert files > 10
    assert bad == [], "\n".join(bad)
