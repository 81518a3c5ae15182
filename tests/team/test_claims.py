"""Claims, leases, holder-only writes and conflict copies on a real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from workbench.core.errors import ClaimError, ConflictError, LabelError, ReadOnlyError
from workbench.core.manifest import Status
from workbench.core.project import Project

from .conftest import TeamSetup, add_user, make_images, shape_mask

CELLS = ["background", "shape"]


def open_as(setup: TeamSetup, root: Path, who: str | None) -> Project:
    return Project.open(root, credentials=setup.admin if who is None else setup.user(who))


def test_concurrent_claims_never_overlap(team_db: TeamSetup, tmp_path: Path) -> None:
    root = tmp_path / "shared"
    with Project.create(root, name="many", task="segmentation", classes=CELLS,
                        database=team_db.url, credentials=team_db.admin) as admin:
        admin.add_images(make_images(tmp_path / "src", 60, size=16))
        users = [f"ann{i}" for i in range(6)]
        for user in users:
            add_user(team_db, admin, user)
    got: dict[str, list[str]] = {u: [] for u in users}
    start = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def annotator(user: str) -> None:
        try:
            with open_as(team_db, root, user) as project:
                start.wait()
                while True:
                    names = project.claim_next(2, 60)
                    if not names:
                        return
                    got[user] += names
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=annotator, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    every = [n for names in got.values() for n in names]
    twice = [n for n, k in Counter(every).items() if k > 1]
    assert twice == []
    assert len(every) == 60  # all claimed, by someone
    assert sum(1 for names in got.values() if names) >= 2  # really concurrent, not one winner
    with open_as(team_db, root, None) as admin:
        holders = admin.holders()
    assert {n: c["holder"] for n, c in holders.items()} == {
        n: u for u, names in got.items() for n in names}


def test_non_holder_write_is_refused_by_name_and_kept(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice, open_as(setup, root, "bob") as bob:
        assert alice.claim("img_00.png") is None
        assert bob.claim("img_00.png") == "alice"  # the window opens it read-only
        with pytest.raises(ClaimError, match=r"img_00.png is held by alice"):
            bob.write_mask("img_00.png", shape_mask(5))
        assert bob.read_mask("img_00.png") is None  # nothing written
        assert bob.status("img_00.png") is Status.UNLABELLED
        conflicts = bob.db.conflicts("img_00.png")
        assert [(c["author"], c["reason"]) for c in conflicts] == [("bob", "held")]
        alice.write_mask("img_00.png", shape_mask(0))  # the holder may
        np.testing.assert_array_equal(bob.read_mask("img_00.png"), shape_mask(0))
        assert [v.author for v in bob.history("img_00.png")] == ["alice"]


def test_stale_base_save_is_kept_as_conflict(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice, open_as(setup, root, None) as lead:
        assert alice.claim("img_01.png", lease_s=1) is None
        time.sleep(1.3)  # alice's lease lapses while she paints
        lead.write_mask("img_01.png", shape_mask(9))  # e.g. an import: nobody holds it now
        painted = shape_mask(1)
        with pytest.raises(ConflictError, match=r"changed since you started.*version 1 by "
                                                r"postgres.*from version 0.*conflict #\d+"):
            alice.write_mask("img_01.png", painted)
        np.testing.assert_array_equal(alice.read_mask("img_01.png"), shape_mask(9))
        [kept] = alice.db.conflicts("img_01.png")
        assert (kept["author"], kept["base_version"], kept["current_version"]) == ("alice", 0, 1)
        from workbench.core import imageio

        np.testing.assert_array_equal(imageio.decode_mask_png(bytes(kept["png"]), "c"), painted)


def test_lapsed_lease_taken_by_someone_else_refuses_the_old_holder(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice, open_as(setup, root, "bob") as bob:
        assert alice.claim("img_02.png", lease_s=1) is None
        assert bob.claim("img_02.png") == "alice"
        time.sleep(1.3)
        assert bob.claim("img_02.png") is None  # expired: bob gets it
        bob.write_mask("img_02.png", shape_mask(2, value=1))
        with pytest.raises(ClaimError, match="held by bob"):
            alice.write_mask("img_02.png", shape_mask(3))
        assert [v.author for v in alice.history("img_02.png")] == ["bob"]
        assert len(alice.db.conflicts("img_02.png")) == 1


def test_lease_expiry_frees_a_killed_annotators_claims(team_project) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys

    setup, root = team_project
    script = ("import json, sys, time; from workbench.core.project import Project; "
              f"p = Project.open({str(root)!r}); "
              "print(json.dumps(p.claim_next(3, lease_s=1)), flush=True); time.sleep(60)")
    repo = str(Path(__file__).resolve().parents[2])
    alice = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**setup.env("alice"), "PYTHONPATH": repo})
    try:
        mine = json.loads(alice.stdout.readline())
    finally:
        os.kill(alice.pid, signal.SIGKILL)  # alice's process dies holding three claims
        alice.wait(10)
    assert len(mine) == 3
    with open_as(setup, root, "bob") as bob:
        first = bob.claim_next(8, lease_s=60)
        assert not set(first) & set(mine) and len(first) == 5  # still hers for now
        time.sleep(1.3)
        assert bob.claim_next(8, lease_s=60) == sorted(mine)  # her leases ran out
        assert set(bob.holders()) == set(first) | set(mine)


def test_an_image_deleted_from_the_shared_folder_is_not_claimed(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice:
        first = alice.image_names()[0]
        alice.release()
    (root / "images" / first).unlink()  # someone removed it from the share
    with open_as(setup, root, "bob") as bob:
        assert first not in bob.image_names()
        claimed = bob.claim_next(100)
        assert claimed and first not in claimed


def test_release_only_own_claims(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice, open_as(setup, root, "bob") as bob:
        names = alice.claim_next(2)
        with pytest.raises(ClaimError, match=f"{names[0]} \\(held by alice\\)"):
            bob.release([names[0]])
        assert alice.release([names[0]]) == [names[0]]
        assert bob.claim(names[0]) is None
        assert alice.release() == [names[1]]
        assert set(bob.holders()) == {names[0]}


def test_review_and_reject_sends_back_to_labeller(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice, open_as(setup, root, "bob") as bob, \
            open_as(setup, root, "carol") as carol:
        alice.claim("img_03.png")
        alice.write_mask("img_03.png", shape_mask(3))
        alice.release(["img_03.png"])
        with pytest.raises(LabelError, match="labelled by you"):
            alice.review("img_03.png", accept=True)
        with pytest.raises(LabelError, match="needs a note"):
            bob.review("img_03.png", accept=False)
        bob.review("img_03.png", accept=False, note="cell at the top-left is missed")
        assert bob.status("img_03.png") is Status.UNLABELLED
        claim = bob.holders()["img_03.png"]
        assert claim["holder"] == "alice"
        assert "rejected by bob: cell at the top-left is missed" in claim["note"]
        assert "img_03.png" not in carol.claim_next(8)  # back to alice, not to the pool
        with pytest.raises(ClaimError, match="held by alice"):
            carol.write_mask("img_03.png", shape_mask(4))
        alice.refresh()
        alice.write_mask("img_03.png", shape_mask(3, value=1) | shape_mask(4))
        assert alice.status("img_03.png") is Status.LABELLED
        bob.review("img_03.png", accept=True)
        assert carol.status("img_03.png") is Status.REVIEWED
        from workbench.core.team.claims import reviews

        assert [(r["verdict"], r["reviewer"], r["version"]) for r in
                reviews(bob.db, "img_03.png")] == [("rejected", "bob", 1), ("accepted", "bob", 2)]
        actions = [r["action"] for r in bob.db.query(
            "SELECT action FROM audit WHERE name = 'img_03.png' ORDER BY id")]
        assert actions == ["claim", "save", "release", "rejected", "conflict", "save",
                           "accepted"]


def test_history_revert_adds_a_version(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice:
        alice.claim("img_04.png")
        alice.write_mask("img_04.png", shape_mask(4))
        alice.write_mask("img_04.png", shape_mask(5))
        assert alice.revert("img_04.png", 1) == 3
        np.testing.assert_array_equal(alice.read_mask("img_04.png"), shape_mask(4))
        assert [(v.version, v.base_version, v.current) for v in alice.history("img_04.png")] == [
            (1, 0, False), (2, 1, False), (3, 2, True)]


def test_annotator_grants_are_exactly_what_labelling_needs(team_project) -> None:
    setup, root = team_project
    with open_as(setup, root, "alice") as alice:
        alice.claim("img_05.png")
        alice.write_mask("img_05.png", shape_mask(5))
        for sql in ("UPDATE label_versions SET author = 'bob'", "DELETE FROM label_versions",
                    "DELETE FROM audit", "UPDATE reviews SET verdict = 'accepted'",
                    "DROP TABLE claims", "CREATE TABLE mine (x int)"):
            with pytest.raises(ReadOnlyError, match="permission denied|must be owner"):
                alice.db.execute(sql)
        # the author is the login role, whatever a client sends
        with alice.db.write() as con:
            con.execute("INSERT INTO audit (action, actor) VALUES ('x', 'bob')")
        assert alice.db.query("SELECT actor FROM audit WHERE action = 'x'") == [
            {"actor": "alice"}]


def test_wrong_password_and_missing_database_are_one_line(team_project, tmp_path) -> None:
    from workbench.core.team.url import TeamConnectionError

    setup, root = team_project
    with pytest.raises(TeamConnectionError) as exc:
        Project.open(root, credentials={"user": "alice", "password": "wrong"})
    text = str(exc.value)
    assert "\n" not in text and setup.url in text and "password authentication failed" in text
    assert "wrong" not in text
    with pytest.raises(TeamConnectionError) as exc:
        Project.create(tmp_path / "other", name="x", task="segmentation", classes=CELLS,
                       database=setup.server.url("nosuchdb"), credentials=setup.admin)
    assert not (tmp_path / "other").exists()
    text = str(exc.value)
    assert "\n" not in text and 'database "nosuchdb" does not exist' in text


def test_database_url_refuses_credentials(tmp_path) -> None:
    from workbench.core.errors import ProjectError

    with pytest.raises(ProjectError, match="must not contain a user name or password"):
        Project.create(tmp_path / "p", name="p", task="segmentation", classes=CELLS,
                       database="postgresql://alice:pw@db.example:5432/cells")
    assert not (tmp_path / "p" / "workbench.json").exists()


def test_one_database_one_project(team_project, tmp_path) -> None:
    from workbench.core.errors import ProjectError

    setup, _root = team_project
    with pytest.raises(ProjectError, match="already holds a Workbench project"):
        Project.create(tmp_path / "second", name="second", task="segmentation", classes=CELLS,
                       database=setup.url, credentials=setup.admin)
    assert not (tmp_path / "second").exists()  # nothing was made


def test_a_database_without_a_project_is_named(team_db: TeamSetup, tmp_path: Path) -> None:
    import json

    from workbench.core.errors import ProjectError

    root = tmp_path / "p"
    (root / "images").mkdir(parents=True)
    (root / "workbench.json").write_text(json.dumps({
        "format_version": 2, "name": "p", "task": "segmentation",
        "classes": [{"name": "a", "color": "#000000"}, {"name": "b", "color": "#ffffff"}],
        "database": team_db.url}))
    with pytest.raises(ProjectError, match=f"{team_db.url} holds no Workbench project"):
        Project.open(root, credentials=team_db.admin)
