"""Undo history, crash journal and the editing session over a real project (no Qt)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PIL import Image

from workbench.core.annotation import (
    UNLABELLED,
    AnnotationSession,
    AutosavePolicy,
    BrushStroke,
    EditHistory,
    MaskEdit,
    StrokeJournal,
    brush,
    journal_path,
)
from workbench.core.errors import MaskError


def edit_of(n: int, value: int = 1) -> MaskEdit:
    return MaskEdit((0, 0, 1, n), np.zeros((1, n), np.uint8), np.full((1, n), value, np.uint8))


def test_history_undo_redo_and_redo_tail_dropped() -> None:
    h = EditHistory()
    a, b, c = edit_of(2), edit_of(3), edit_of(4)
    h.push(a)
    h.push(b)
    assert h.undo() is b and h.can_redo()
    assert h.redo() is b and h.redo() is None
    assert h.undo() is b
    h.push(c)  # discards b
    assert not h.can_redo() and len(h) == 2 and h.nbytes == a.nbytes + c.nbytes
    assert h.undo() is c and h.undo() is a and h.undo() is None


def test_history_is_bounded_by_bytes_not_steps() -> None:
    h = EditHistory(max_bytes=1000)
    dropped = sum(h.push(edit_of(100)) for _ in range(12))  # 200 bytes each
    assert h.nbytes <= 1000 and len(h) == 5 and dropped == 7 == h.dropped
    huge = edit_of(5000)
    h.push(huge)  # the newest edit is kept even if alone over budget
    assert len(h) == 1 and h.undo() is huge


def test_autosave_policy_delays_and_caps() -> None:
    p = AutosavePolicy(delay_s=2, max_delay_s=10)
    assert p.seconds_until_save(0) is None
    p.note_edit(0)
    assert p.seconds_until_save(1) == pytest.approx(1)
    for t in range(1, 10):
        p.note_edit(t)  # continuous painting
    assert p.seconds_until_save(9.5) == pytest.approx(0.5)  # capped at first + 10
    p.note_saved()
    assert p.seconds_until_save(20) is None


def test_journal_roundtrip_and_torn_tail(tmp_path) -> None:
    path = tmp_path / ".journal" / "a.jrnl"
    j = StrokeJournal(path, (20, 30))
    j.append([((0, 0, 2, 3), np.full((2, 3), 4, np.uint8))])
    j.append([((5, 5, 6, 7), np.array([[1, 2]], np.uint8)), ((9, 9, 10, 10), np.ones((1, 1)))])
    j.close()
    with open(path, "ab") as f:  # a crash in the middle of the third append
        f.write(b"\x40\x00\x00\x00garbage")
    mask = np.full((20, 30), UNLABELLED, np.uint8)
    assert StrokeJournal(path, (20, 30)).replay(mask) == 2
    assert (mask[:2, :3] == 4).all() and mask[5, 6] == 2 and mask[9, 9] == 1
    with pytest.raises(MaskError, match="30x20"):
        StrokeJournal(path, (21, 30)).read()
    StrokeJournal(path, (20, 30)).clear()
    assert not path.exists()


def test_session_journals_each_stroke_and_recovers_after_crash(seg_project) -> None:
    name = seg_project.image_names()[0]
    saved = seg_project.read_mask(name)
    s = AnnotationSession(seg_project, name, saved.shape)
    stroke = BrushStroke(s.mask, 3, 1)
    stroke.add_point(5, 5)
    stroke.add_point(30, 20)
    s.commit(stroke.finish())
    s.do(brush(s.mask, [(40, 40)], 4, UNLABELLED))
    s.undo()  # the undo is journalled too
    expected = s.mask.copy()
    assert journal_path(seg_project.root, name).stat().st_size > 0
    # The process "dies" here: no save(). A new session replays the journal and saves.
    assert np.array_equal(seg_project.read_mask(name), saved)
    s2 = AnnotationSession(seg_project, name, saved.shape)
    assert s2.recovered == 3
    assert np.array_equal(s2.mask, expected)
    assert np.array_equal(seg_project.read_mask(name), expected)
    assert not journal_path(seg_project.root, name).exists()
    assert AnnotationSession(seg_project, name, saved.shape).recovered == 0


def test_session_save_writes_mask_and_clears_journal(seg_project) -> None:
    name = seg_project.image_names()[1]
    s = AnnotationSession(seg_project, name, (48, 48))
    assert not s.save()  # nothing to save
    s.do(brush(s.mask, [(10, 10), (20, 10)], 2, UNLABELLED))
    assert s.dirty
    assert s.save()
    assert np.array_equal(seg_project.read_mask(name), s.mask)
    assert not journal_path(seg_project.root, name).exists() and not s.dirty


def test_prediction_edit_uses_newest_run(seg_project) -> None:
    name = seg_project.image_names()[2]
    stem = os.path.splitext(name)[0]
    s = AnnotationSession(seg_project, name, (48, 48))
    assert s.prediction_edit() is None
    for i, run in enumerate(["old", "new"]):
        d = seg_project.root / "predictions" / run
        d.mkdir(parents=True)
        Image.fromarray(np.full((48, 48), i, np.uint8)).save(d / f"{stem}.png")
        t = time.time() + i * 10
        os.utime(d, (t, t))
    edit = s.prediction_edit()
    s.do(edit)
    assert (s.mask == 1).all()
    s.undo()
    assert np.array_equal(s.mask, seg_project.read_mask(name))
    bad = seg_project.root / "predictions" / "new" / f"{stem}.png"
    Image.fromarray(np.full((10, 10), 1, np.uint8)).save(bad)
    with pytest.raises(MaskError, match="workbench predict"):
        s.prediction_edit()


def test_journal_for_another_image_size_is_moved_aside(seg_project) -> None:
    name = seg_project.image_names()[3]
    path = journal_path(seg_project.root, name)
    j = StrokeJournal(path, (10, 10))
    j.append([((0, 0, 1, 1), np.zeros((1, 1), np.uint8))])
    j.close()
    s = AnnotationSession(seg_project, name, (48, 48))
    assert s.recovered == 0 and not path.exists()
    assert path.with_suffix(".unreadable").exists()
