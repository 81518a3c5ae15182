"""Two windows on one team project (offscreen Qt): claims on open, "held by", the live view
of the other's saves and claims, reconnecting after a server restart, review and history."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from workbench.core.annotation.edit import diff_edit
from workbench.core.project import Project

from .conftest import shape_mask

pytest.importorskip("pytestqt")


@pytest.fixture
def two_windows(team_project, qtbot):
    from workbench.app import create_main_window

    setup, root = team_project
    projects, windows = [], []
    for user in ("alice", "bob"):
        project = Project.open(root, credentials=setup.user(user))
        window = create_main_window(project)
        qtbot.addWidget(window)
        projects.append(project)
        windows.append(window)
    yield setup, root, windows
    for window in windows:
        window.close()
    for project in projects:
        project.close()


def _paint(window, target: np.ndarray) -> None:
    controller = window.workspace.controller
    edit = diff_edit(controller.session.mask, target)
    controller.push(edit, "Brush")


def test_held_by_live_view_and_reconnect(two_windows, qtbot) -> None:
    setup, root, (alice, bob) = two_windows
    assert alice.team is not None and bob.team is not None
    alice.workspace.open_image("img_00.png")
    assert alice.workspace.held_by is None
    bob.workspace.open_image("img_00.png")
    assert bob.workspace.held_by == "alice"
    assert bob.workspace.controller.session is None  # read-only: no edits are taken
    assert "held by alice (read-only)" in bob.workspace.info.text()
    tools = bob.workspace.seg_panel.tool_group.buttons()
    assert not any(b.isEnabled() for b in tools)  # what edits is greyed out
    assert not bob.workspace.seg_panel.fill_button.isEnabled()
    assert all(b.isEnabled() for b in alice.workspace.seg_panel.tool_group.buttons())
    # bob's list shows alice's claim, live
    qtbot.waitUntil(lambda: bob.browser.model.holder("img_00.png") == "alice", timeout=2000)

    _paint(alice, shape_mask(0))
    alice.workspace.flush()
    # alice's save reaches bob's window within 2 s: status, and the mask he is looking at
    qtbot.waitUntil(lambda: bob.browser.model.status("img_00.png") == "labelled", timeout=2000)
    qtbot.waitUntil(lambda: np.array_equal(bob.workspace.controller._view_mask, shape_mask(0)),
                    timeout=2000)

    # alice moves on: img_00 is free again and bob's window takes it over for editing
    alice.workspace.open_image("img_01.png")
    qtbot.waitUntil(lambda: bob.workspace.held_by is None, timeout=3000)
    assert bob.workspace.controller.session is not None
    assert all(b.isEnabled() for b in bob.workspace.seg_panel.tool_group.buttons())

    # the server goes away while alice paints: "reconnecting", strokes kept, saved when back
    setup.server.stop()
    try:
        qtbot.waitUntil(lambda: "reconnecting" in alice.team.label.text(), timeout=5000)
        _paint(alice, shape_mask(1))
        alice.workspace.flush()  # fails now; the journal holds the strokes
        assert alice.workspace.controller.session.dirty
        assert "reconnecting" in alice.workspace.info.text()
    finally:
        setup.server.start_again()
    qtbot.waitUntil(lambda: "reconnecting" not in alice.team.label.text(), timeout=10000)
    qtbot.waitUntil(lambda: not alice.workspace.controller.session.dirty, timeout=5000)
    with Project.open(root, readonly=True, credentials=setup.admin) as check:
        np.testing.assert_array_equal(check.read_mask("img_01.png"), shape_mask(1))


def test_review_reject_and_history_revert_in_the_window(two_windows, qtbot) -> None:
    _setup, _root, (alice, bob) = two_windows
    alice.workspace.open_image("img_02.png")
    _paint(alice, shape_mask(2))
    alice.workspace.flush()
    _paint(alice, shape_mask(3))
    alice.workspace.flush()
    alice.workspace.open_image("img_03.png")  # releases img_02
    bob.workspace.open_image("img_02.png")
    assert bob.workspace.held_by is None
    assert bob.team.reject_current(note="wrong cell")
    qtbot.waitUntil(lambda: alice.browser.model.status("img_02.png") == "unlabelled",
                    timeout=2000)
    qtbot.waitUntil(lambda: alice.browser.model.holder("img_02.png") == "you", timeout=2000)
    # the image went back to alice: bob now sees it read-only
    qtbot.waitUntil(lambda: bob.workspace.held_by == "alice", timeout=2000)
    alice.workspace.open_image("img_02.png")
    # the labeller sees why: on the image and in the status line
    assert alice.workspace.review_note == "rejected by bob: wrong cell"
    assert "rejected by bob: wrong cell" in alice.workspace.info.text()
    dialog = alice.team.show_history()
    assert dialog.list.count() == 2
    dialog.list.setCurrentRow(1)  # the oldest: version 1
    assert dialog.revert_selected() == 3
    assert dialog.list.item(0).text().startswith("v3")
    np.testing.assert_array_equal(alice.workspace.controller.session.mask, shape_mask(2))
    dialog.close()


def test_the_open_images_claim_is_renewed_while_it_stays_open(team_project, qtbot) -> None:
    from workbench.qt.team import TeamSeat

    setup, root = team_project
    with Project.open(root, credentials=setup.user("alice")) as alice:
        seat = TeamSeat(alice, renew_ms=200)
        assert seat.take("img_05.png") is None
        with alice.db.write() as con:  # pretend the lease is about to run out
            con.execute("UPDATE claims SET expires_at = now() + interval '2 seconds'")
        qtbot.waitUntil(lambda: alice.holders()["img_05.png"]["expires_at"]
                        - alice.holders()["img_05.png"]["claimed_at"] > 800, timeout=3000)
        seat.leave()
        assert "img_05.png" not in alice.holders()


def test_a_lapsed_claim_taken_by_someone_else_keeps_the_strokes_as_a_conflict(
        two_windows, qtbot) -> None:
    setup, root, (alice, bob) = two_windows
    bob.workspace.open_image("img_06.png")
    assert bob.workspace.held_by is None
    _paint(bob, shape_mask(6))  # not saved yet (autosave waits 2 s)
    with Project.open(root, credentials=setup.admin) as lead, lead.db.write() as con:
        con.execute("UPDATE claims SET expires_at = now() - interval '1 second' "
                    "WHERE name = 'img_06.png'")  # bob's laptop slept past his lease
    alice.workspace.open_image("img_06.png")  # alice takes the image over
    assert alice.workspace.held_by is None
    # bob's window learns it (live), tries to save, is refused by name and turns read-only;
    # his strokes are kept as a conflict copy, nothing of alice's is overwritten
    qtbot.waitUntil(lambda: bob.workspace.held_by == "alice", timeout=3000)
    [kept] = bob.project.conflict_copies("img_06.png")
    assert (kept["author"], kept["reason"]) == ("bob", "held")
    assert bob.project.history("img_06.png") == []
    assert "held by alice" in bob.workspace.info.text()
    # alice looks at the history, finds bob's strokes and takes them
    dialog = alice.team.show_history()
    assert dialog.list.count() == 1 and dialog.list.item(0).text().startswith("conflict copy")
    dialog.list.setCurrentRow(0)
    assert dialog.revert_selected() == 1
    np.testing.assert_array_equal(alice.workspace.controller.session.mask, shape_mask(6))
    assert [v.author for v in alice.project.history("img_06.png")] == ["alice"]
    dialog.close()


def test_next_to_do_skips_images_someone_else_holds(two_windows, qtbot) -> None:
    _setup, _root, (alice, bob) = two_windows
    alice.workspace.open_image("img_00.png")
    alice.workspace.open_image("img_01.png")  # releases img_00, holds img_01
    bob.browser.select("img_00.png")
    qtbot.waitUntil(lambda: bob.browser.model.holder("img_01.png") == "alice", timeout=2000)
    assert bob.navigate("next_unlabelled")
    assert bob.workspace.current_name == "img_02.png"  # not alice's img_01
    assert bob.workspace.held_by is None
