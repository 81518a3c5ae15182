"""The smaller faults: hostile JSON and a demo build killed half way."""

from __future__ import annotations

import signal
from pathlib import Path

from workbench.core.demo import create_demo
from workbench.core.prefs import PREFS_NAME, ProjectPrefs
from workbench.core.project import Project

from .helpers import kill_after_calls, one_line_error, run_cli, seg_project, spawn

DEEP = "[" * 200_000 + "]" * 200_000


def test_deeply_nested_manifest_is_one_line(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=1)
    (root / "workbench.json").write_text('{"name": ' + DEEP + "}")
    line = one_line_error(run_cli("info", root))
    assert "workbench.json" in line and "nested too deeply" in line


def test_deeply_nested_prefs_are_ignored(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=1)
    (root / PREFS_NAME).write_text(DEEP)
    assert ProjectPrefs(root).section("training") == {}


_DEMO = """
import sys
from workbench.core.demo import create_demo
create_demo(sys.argv[1], "segmentation")
"""


def test_demo_killed_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    # kill -9 right after the project was built in its hidden folder, before it moved in.
    child = spawn(kill_after_calls("workbench.core.demo", "_build_nuclei", 1) + _DEMO, dest)
    _, err = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, err
    assert not dest.exists()
    assert create_demo(dest, "segmentation") == dest.resolve()  # the next run cleans up
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with Project.open(dest, readonly=True) as project:
        assert len(project.image_names()) == 60
