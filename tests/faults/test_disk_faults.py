"""Full disks: every multi-step change is all or nothing, in memory too, and every command says
"disk full" in one line instead of a traceback."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.errors import DiskFullError, MaskError
from workbench.core.feedback import import_feedback
from workbench.core.lock import LOCK_NAME
from workbench.core.project import Project, Status

from .helpers import (
    SmallDisk,
    kill_after_calls,
    one_line_error,
    run_cli,
    seg_project,
    spawn,
)


def _mask_bytes(root: Path) -> dict[str, bytes]:
    """The masks a reader sees (a killed writer's hidden temp files are no masks)."""
    return {p.name: p.read_bytes() for p in sorted((root / "masks").iterdir())
            if not p.name.startswith(".")}


def test_failed_add_classes_leaves_memory_and_masks_as_they_were(small_disk: SmallDisk) -> None:
    root = seg_project(small_disk.root / "p", labelled=2)
    project = Project.open(root)
    try:
        small_disk.fill(project=project)
        with pytest.raises(DiskFullError, match="workbench.json"):
            project.add_classes(["extra"])
        assert project.classes == ["bg", "fg"]
        small_disk.free()
        with pytest.raises(MaskError, match="outside the 2 classes"):  # class 2 does not exist
            project.write_mask("img0.png", np.full((32, 32), 2, np.uint8))
    finally:
        small_disk.free()
        project.close()
    with Project.open(root) as project:
        assert project.classes == ["bg", "fg"]
        assert all(project.read_mask(n) is not None for n in ("img0.png", "img1.png"))


def test_failed_clear_label_keeps_the_mask_and_its_status(small_disk: SmallDisk) -> None:
    root = seg_project(small_disk.root / "p", labelled=2)
    project = Project.open(root)
    try:
        before = project.read_mask("img0.png")
        small_disk.fill(project=project)
        with pytest.raises(DiskFullError):
            project.clear_label("img0.png")
        np.testing.assert_array_equal(project.read_mask("img0.png"), before)
        assert project.status("img0.png") is Status.LABELLED
    finally:
        small_disk.free()
        project.close()
    with Project.open(root) as project:
        np.testing.assert_array_equal(project.read_mask("img0.png"), before)
        assert project.status("img0.png") is Status.LABELLED
        assert not [p for p in (root / "masks").iterdir() if p.name.startswith(".")]


def _corrections(folder: Path, n: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(7)
    for i in range(n):
        Image.fromarray(rng.integers(0, 2, (32, 32), dtype=np.uint8)).save(folder / f"img{i}.png")
    return folder


def _assert_rerun_queues_every_change(root: Path, corrections: Path, n: int) -> None:
    with Project.open(root) as project:
        assert project.queue.items() == []
        report = import_feedback(project, masks_dir=corrections)
        assert len(report.items) == n
        assert all(item.change["total"] > 0 for item in report.items)  # no "no pixel changed"


def test_feedback_import_on_a_nearly_full_disk_changes_nothing(small_disk: SmallDisk,
                                                               tmp_path: Path) -> None:
    n = 8
    root = seg_project(small_disk.root / "p", n=n, labelled=n)
    corrections = _corrections(tmp_path / "fb", n)
    before = _mask_bytes(root)
    project = Project.open(root)
    try:
        small_disk.fill(room=3, project=project)  # room for a few masks, not for all of them
        with pytest.raises(DiskFullError):
            import_feedback(project, masks_dir=corrections)
        assert project.queue.items() == []
    finally:
        small_disk.free()
        project.close()
    assert _mask_bytes(root) == before
    _assert_rerun_queues_every_change(root, corrections, n)


_FEEDBACK = """
import sys
from workbench.core.feedback import import_feedback
from workbench.core.project import Project
with Project.open(sys.argv[1]) as project:
    import_feedback(project, masks_dir=sys.argv[2])
"""


def test_sigterm_during_feedback_import_changes_nothing(tmp_path: Path) -> None:
    n = 8
    root = seg_project(tmp_path / "p", n=n, labelled=n)
    corrections = _corrections(tmp_path / "fb", n)
    before = _mask_bytes(root)
    # SIGTERM once the third corrected mask has been encoded (old code had written two).
    code = kill_after_calls("workbench.core.imageio", "encode_mask_png", 3, signal.SIGTERM)
    child = spawn(code + _FEEDBACK, root, corrections)
    _, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGTERM, err
    assert _mask_bytes(root) == before
    _assert_rerun_queues_every_change(root, corrections, n)
    assert not [p for p in (root / "masks").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("command", [
    ["info"], ["queue", "{root}", "list"], ["import", "{root}", "--images", "{images}"],
    ["queue", "{root}", "add", "img0.png"], ["repair"]])
def test_every_command_on_a_full_disk_answers_in_one_line(small_disk: SmallDisk, tmp_path: Path,
                                                          command: list[str]) -> None:
    root = seg_project(small_disk.root / "p", labelled=1)
    images = tmp_path / "more"
    seg_project(tmp_path / "other", n=2)
    images = tmp_path / "other" / "images"
    small_disk.fill()
    args = [a.format(root=root, images=images) for a in command]
    if len(args) == 1:
        args.append(str(root))
    result = run_cli(*args, **small_disk.env())
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode != 0:
        assert "disk is full" in one_line_error(result)
    assert not (root / LOCK_NAME).exists(), "a lock file was left behind"
    small_disk.free()
    with Project.open(root) as project:  # nothing was damaged
        assert project.read_mask("img0.png") is not None
