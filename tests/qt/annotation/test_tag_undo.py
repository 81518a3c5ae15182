"""Multilabel tag edits are undoable: ticks, "same as previous" replacing labelled tags, per image."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.project import Status


def key(ws, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(ws.canvas.viewport(), k, mods)


def undo(ws) -> None:
    key(ws, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def redo(ws) -> None:
    key(ws, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)


def test_same_as_previous_on_labelled_image_is_one_undo_step_with_a_warning(qtbot, tag_ws):
    project = tag_ws.project
    first, second = project.image_names()[:2]
    previous = project.tags(first)
    own = project.tags(second)
    assert own and set(own) != set(previous)  # the fixture gives them different tags
    tag_ws.open_image(second)
    with qtbot.waitSignal(tag_ws.errorOccurred) as warned:
        key(tag_ws, Qt.Key.Key_S)
    assert project.tags(second) == previous
    assert warned.args[0] == f"Replaced {', '.join(own)} · Ctrl+Z undoes"
    undo(tag_ws)
    assert project.tags(second) == own  # written back to labels.csv, not only on screen
    assert tag_ws.tag_panel.checked() == own
    assert [t for t, _ in tag_ws.canvas._badges] == own
    redo(tag_ws)
    assert project.tags(second) == previous


def test_each_tick_is_a_step_and_undo_buttons_follow(qtbot, tag_ws):
    project = tag_ws.project
    name = tag_ws.current_name
    before = project.tags(name)
    undo_action = tag_ws.actions_by_id["undo"]
    assert not undo_action.isEnabled()
    assert tag_ws.toolbar.widgetForAction(undo_action) is not None  # shown in multilabel too
    key(tag_ws, Qt.Key.Key_1)
    key(tag_ws, Qt.Key.Key_2)
    assert undo_action.isEnabled()
    undo(tag_ws)
    assert set(project.tags(name)) == set(before) ^ {"red"}
    undo(tag_ws)
    assert project.tags(name) == before
    assert not undo_action.isEnabled()
    assert tag_ws.actions_by_id["redo"].isEnabled()


def test_undo_of_first_tags_returns_image_to_unlabelled(qtbot, tag_ws):
    project = tag_ws.project
    name = project.image_names()[3]
    project.clear_label(name)
    tag_ws.open_image(name)
    with qtbot.waitSignal(tag_ws.statusChanged) as changed:
        key(tag_ws, Qt.Key.Key_3)
    assert changed.args == [name, "labelled"]
    with qtbot.waitSignal(tag_ws.statusChanged) as changed:
        undo(tag_ws)
    assert changed.args == [name, "unlabelled"]
    assert not project.has_label(name)
    assert project.status(name) == Status.UNLABELLED


def test_history_is_per_image_and_kept_when_coming_back(qtbot, tag_ws):
    project = tag_ws.project
    a, b = project.image_names()[:2]
    tags_a = project.tags(a)
    tag_ws.open_image(a)
    key(tag_ws, Qt.Key.Key_1)
    tag_ws.open_image(b)
    tags_b = project.tags(b)
    undo(tag_ws)  # b has no history: nothing changes anywhere
    assert project.tags(b) == tags_b
    assert set(project.tags(a)) == set(tags_a) ^ {"red"}
    tag_ws.open_image(a)
    undo(tag_ws)
    assert project.tags(a) == tags_a


def test_failed_write_is_reported_and_screen_shows_what_is_stored(qtbot, tag_ws, monkeypatch):
    from workbench.core.errors import DiskFullError

    project = tag_ws.project
    name = tag_ws.current_name
    before = project.tags(name)

    def full(*_a, **_k):
        raise DiskFullError("Cannot write labels.csv: the disk is full.")

    monkeypatch.setattr(project, "set_tags", full)
    with qtbot.waitSignal(tag_ws.errorOccurred) as err:
        key(tag_ws, Qt.Key.Key_1)
    assert "disk is full" in err.args[0]
    assert tag_ws.tag_panel.checked() == before
    assert not tag_ws.tag_undo.canUndo()  # no step claims a change that is not on disk
