"""A server restart while an annotator paints, and converting a local project."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from workbench.core.annotation.edit import diff_edit
from workbench.core.annotation.session import AnnotationSession
from workbench.core.errors import ProjectError
from workbench.core.manifest import Status
from workbench.core.project import Project
from workbench.core.team.url import TeamConnectionError

from .conftest import TeamSetup, make_images, shape_mask


def _paint(session: AnnotationSession, target: np.ndarray) -> None:
    edit = diff_edit(session.mask, target)
    assert edit is not None
    session.do(edit)


def test_server_restart_while_painting_loses_nothing(team_project) -> None:
    setup, root = team_project
    alice = Project.open(root, credentials=setup.user("alice"))
    try:
        assert alice.claim("img_06.png") is None
        session = AnnotationSession(alice, "img_06.png", (32, 32))
        first = shape_mask(6)
        _paint(session, first)
        assert session.save()
        setup.server.stop()  # the server goes down while alice goes on painting
        try:
            second = first | shape_mask(7)
            _paint(session, second)
            with pytest.raises(TeamConnectionError, match=setup.url):
                session.save()
            assert session.dirty and session.journal.exists()  # the strokes are journalled
            third = second | shape_mask(8)
            _paint(session, third)  # journalling goes on while the server is away
        finally:
            setup.server.start_again()
        assert session.save()  # reconnects
        np.testing.assert_array_equal(alice.read_mask("img_06.png"), third)
        assert not session.journal.exists()
        assert [v.version for v in alice.history("img_06.png")] == [1, 2]
        session.close()
    finally:
        alice.close()


def test_journal_of_a_crashed_window_is_saved_after_the_server_is_back(team_project) -> None:
    setup, root = team_project
    alice = Project.open(root, credentials=setup.user("alice"))
    alice.claim("img_07.png")
    session = AnnotationSession(alice, "img_07.png", (32, 32))
    _paint(session, shape_mask(7))
    session.journal.close()  # the window dies here: the journal is all that is left
    # the journal is on alice's computer, not on the shared folder
    assert session.journal.exists() and not (root / ".journal").exists()
    assert str(session.journal.path).startswith(os.environ["XDG_DATA_HOME"])
    alice.close()
    with Project.open(root, credentials=setup.user("bob")) as bob:
        other = AnnotationSession(bob, "img_07.png", (32, 32))  # never alice's strokes
        assert other.recovered == 0 and not other.dirty
        other.journal.close()
    setup.server.stop()
    try:
        with pytest.raises(TeamConnectionError, match=setup.url):
            Project.open(root, credentials=setup.user("alice"))
    finally:
        setup.server.start_again()
    with Project.open(root, credentials=setup.user("alice")) as again:
        again.claim("img_07.png")
        recovered = AnnotationSession(again, "img_07.png", (32, 32))
        assert recovered.recovered == 1
        np.testing.assert_array_equal(again.read_mask("img_07.png"), shape_mask(7))
        recovered.close()


def _local_project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "local", name="local", task="segmentation",
                             classes=["background", "shape"])
    project.add_images(make_images(tmp_path / "src", 6))
    for i in range(4):
        project.write_mask(f"img_{i:02d}.png", shape_mask(i))
    project.set_status("img_01.png", Status.REVIEWED)
    project.set_in_progress("img_02.png")
    project.queue.add("img_03.png", reason="looked wrong", score=0.7)
    project.db.add_run("run-1", {"arch": "tiny"}, created_at=1000.0)
    project.db.update_run("run-1", status="finished", best_metric=0.8, metric_name="dice")
    project.db.set_uncertainty("run-1", {"img_04.png": 0.9, "img_05.png": 0.1})
    return project


def test_convert_keeps_everything(team_db: TeamSetup, tmp_path: Path) -> None:
    from workbench.core.team.admin import convert

    with _local_project(tmp_path) as local:
        before = {n: local.read_mask(n) for n in local.image_names()}
        statuses = local.statuses()
        queue = [(i.image, i.reason, i.score) for i in local.queue.items()]
        counts = convert(local, team_db.url, team_db.admin)
    assert counts == {"images": 6, "labels": 4, "runs": 1, "queue": 1, "uncertainty": 2}
    manifest = json.loads((tmp_path / "local" / "workbench.json").read_text())
    assert manifest["database"] == team_db.url and manifest["format_version"] == 2
    assert "password" not in json.dumps(manifest)
    with Project.open(tmp_path / "local", credentials=team_db.admin) as team:
        assert team.is_team
        for name, mask in before.items():
            got = team.read_mask(name)
            assert (got is None) == (mask is None)
            if mask is not None:
                np.testing.assert_array_equal(got, mask)
        assert team.statuses() == statuses
        assert team.in_progress() == {"img_02.png"}
        assert [(i.image, i.reason, i.score) for i in team.queue.items()] == queue
        [run] = team.db.list_runs()
        assert (run.run_id, run.status.value, run.best_metric) == ("run-1", "finished", 0.8)
        assert team.db.get_meta("current_model") == "run-1"
        assert team.db.uncertainty() == {"img_04.png": 0.9, "img_05.png": 0.1}
        assert [v.note for v in team.history("img_00.png")] == ["converted from the local project"]
        team.queue.add("img_05.png", reason="new")  # the id sequence continues after the copy
        assert len(team.queue.items()) == 2
    with Project.open(tmp_path / "local", credentials=team_db.admin) as team, \
            pytest.raises(ProjectError, match="already a team project"):
        convert(team, team_db.url, team_db.admin)


def test_convert_refuses_a_used_database_and_changes_nothing(team_project, tmp_path) -> None:
    from workbench.core.team.admin import convert

    setup, _root = team_project
    with _local_project(tmp_path) as local:
        with pytest.raises(ProjectError, match="already holds a Workbench project"):
            convert(local, setup.url, setup.admin)
        assert not local.is_team
    manifest = json.loads((tmp_path / "local" / "workbench.json").read_text())
    assert "database" not in manifest and manifest["format_version"] == 1


def test_convert_multilabel(team_db: TeamSetup, tmp_path: Path) -> None:
    from workbench.core.team.admin import convert

    with Project.create(tmp_path / "tags", name="tags", task="multilabel",
                        classes=["red", "green"]) as local:
        local.add_images(make_images(tmp_path / "src", 3))
        local.set_many_tags({"img_00.png": ["red"], "img_01.png": ["red", "green"],
                             "img_02.png": []})
        convert(local, team_db.url, team_db.admin)
    with Project.open(tmp_path / "tags", credentials=team_db.admin) as team:
        assert team.all_tags() == {"img_00.png": ["red"], "img_01.png": ["red", "green"],
                                   "img_02.png": []}
        team.set_tags("img_00.png", ["green"])
        assert team.tags("img_00.png") == ["green"]
        assert [v.version for v in team.history("img_00.png")] == [1, 2]
