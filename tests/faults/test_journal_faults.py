"""Stroke journals under faults: a journal left by a killed painter replays only onto the mask
it was painted on; links and nonsense records are set aside, never followed or applied."""

from __future__ import annotations

import logging
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.annotation import AnnotationSession, StrokeJournal, journal_path
from workbench.core.feedback import import_feedback
from workbench.core.importers import import_masks
from workbench.core.project import Project

from .helpers import seg_project, spawn

# A painter that journals two strokes on img0.png and is killed before it saves.
_PAINTER = """
import os, signal, sys
import numpy as np
from workbench.core.annotation import AnnotationSession, brush
from workbench.core.project import Project
project = Project.open(sys.argv[1])
s = AnnotationSession(project, "img0.png", (32, 32))
s.do(brush(s.mask, [(4, 4), (20, 4)], 3, 1))
s.do(brush(s.mask, [(8, 20)], 4, 0))
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_painter(root: Path) -> None:
    proc = spawn(_PAINTER, root)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert journal_path(root, "img0.png").stat().st_size > 0


def _newer_mask(tmp_path: Path) -> Path:
    folder = tmp_path / "newer"
    folder.mkdir()
    mask = np.zeros((32, 32), np.uint8)
    mask[:, 16:] = 1
    Image.fromarray(mask).save(folder / "img0.png")
    return folder


@pytest.mark.parametrize("how", ["import --masks", "queue import --masks", "by hand"])
def test_stale_journal_never_lands_on_a_newer_mask(tmp_path: Path, how: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    root = seg_project(tmp_path / "p", labelled=1)
    _killed_painter(root)
    newer = _newer_mask(tmp_path)
    expected = np.asarray(Image.open(newer / "img0.png"))
    with Project.open(root) as project, caplog.at_level(logging.WARNING):
        if how == "import --masks":
            import_masks(project, root / "images", newer)
        elif how == "queue import --masks":
            assert import_feedback(project, masks_dir=newer).ok
        else:  # a person copied a mask in: no store write saw it
            shutil.copyfile(newer / "img0.png", project.mask_path("img0.png"))
        session = AnnotationSession(project, "img0.png", (32, 32))
        assert session.recovered == 0
        np.testing.assert_array_equal(session.mask, expected)
        np.testing.assert_array_equal(project.read_mask("img0.png"), expected)
        # The strokes are kept beside the journal, and the user is told where.
        aside = [p for p in (root / ".journal").iterdir() if p.name.startswith("img0.")]
        assert len(aside) == 1 and aside[0].suffix != ".jrnl" and aside[0].stat().st_size > 0
        told = (session.set_aside_message or "") + caplog.text
        assert "set aside" in told or "kept as" in told


@pytest.mark.parametrize("target_exists", [False, True])
def test_journal_symlink_is_never_written_through(tmp_path: Path, target_exists: bool) -> None:
    root = seg_project(tmp_path / "p")
    outside = tmp_path / "outside.bin"
    if target_exists:
        outside.write_bytes(b"")
    link = journal_path(root, "img1.png")
    link.parent.mkdir()
    link.symlink_to(outside)
    with Project.open(root) as project:
        session = AnnotationSession(project, "img1.png", (32, 32))
        session.do(_stroke(session))
        assert journal_path(root, "img1.png").stat().st_size > 0
        assert not journal_path(root, "img1.png").is_symlink()
    assert outside.exists() is target_exists
    assert not target_exists or outside.read_bytes() == b""
    assert "symbolic link" in (session.set_aside_message or "")


def test_journal_folder_symlink_is_refused_by_name(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p")
    (tmp_path / "elsewhere").mkdir()
    (root / ".journal").symlink_to(tmp_path / "elsewhere")
    with Project.open(root) as project:
        session = AnnotationSession(project, "img1.png", (32, 32))
        with pytest.raises(Exception, match=r"\.journal is a symbolic link"):
            session.do(_stroke(session))
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize("record", ["value 7 of 2 classes", "rectangle outside the mask"])
def test_journal_with_valid_crc_but_nonsense_is_set_aside(tmp_path: Path, record: str) -> None:
    root = seg_project(tmp_path / "p")
    journal = StrokeJournal(journal_path(root, "img2.png"), (32, 32))
    journal.append([((0, 0, 2, 2), np.ones((2, 2), np.uint8))])  # a good first record
    if record.startswith("value"):
        journal.append([((4, 4, 6, 6), np.full((2, 2), 7, np.uint8))])
    else:
        journal.append([((30, 30, 40, 40), np.ones((10, 10), np.uint8))])
    journal.close()
    with Project.open(root) as project:
        session = AnnotationSession(project, "img2.png", (32, 32))  # the image opens
        assert session.recovered == 0 and (session.mask == 255).all()  # nothing half-applied
        assert project.read_mask("img2.png") is None
        assert "unreadable" in (session.set_aside_message or "") or "kept as" in (
            session.set_aside_message or "")
    assert (root / ".journal" / "img2.unreadable").stat().st_size > 0


def _stroke(session: AnnotationSession):
    from workbench.core.annotation import brush

    return brush(session.mask, [(5, 5), (15, 5)], 2, 1)
