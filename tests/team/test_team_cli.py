"""The CLI contract of team projects (the exact forms of issue 19), in-process and as real
parallel processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import cli
from workbench.core.project import Project

from .conftest import TeamSetup, make_images, shape_mask

REPO = Path(__file__).resolve().parents[2]


def run(capsys, monkeypatch, setup: TeamSetup, who: str | None, *argv: object,
        stdin: str | None = None) -> tuple[int, str, str]:
    for key in [k for k in os.environ if k.startswith("PG")]:
        monkeypatch.delenv(key)
    for key, value in setup.env(who).items():
        if key.startswith("PG"):
            monkeypatch.setenv(key, value)
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_new_add_user_claim_team_history(team_db: TeamSetup, tmp_path: Path, capsys,
                                         monkeypatch) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("background\nshape\n")
    shared = tmp_path / "shared" / "P"
    code, out, err = run(capsys, monkeypatch, team_db, None, "new", shared, "--task",
                         "segmentation", "--codes", codes, "--database", team_db.url)
    assert code == 0, err
    assert "team project" in out
    manifest = json.loads((shared / "workbench.json").read_text())
    assert manifest["database"] == team_db.url
    assert not (shared / "workbench.db").exists() and not (shared / "masks").exists()
    make_images(tmp_path / "src", 5)
    code, out, err = run(capsys, monkeypatch, team_db, None, "import", shared, "--images",
                         tmp_path / "src")
    assert code == 0, err
    for user in ("alice", "bob"):
        code, out, err = run(capsys, monkeypatch, team_db, None, "team", shared, "add-user",
                             user, stdin=f"secret-{user}\n")
        assert code == 0 and f"role {user}: an annotator of" in out, err  # roles are per server
    code, out, err = run(capsys, monkeypatch, team_db, "alice", "claim", shared, "--count", 2,
                         "--json")
    assert code == 0, err
    assert json.loads(out) == {"claimed": ["img_00.png", "img_01.png"]}
    code, out, _ = run(capsys, monkeypatch, team_db, "bob", "claim", shared, "--count", 2)
    assert out.split() == ["img_02.png", "img_03.png"]
    # alice labels her images with an ordinary command (import of masks), bob cannot
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(2):
        Image.fromarray(shape_mask(i)).save(masks / f"img_{i:02d}.png")
    code, out, err = run(capsys, monkeypatch, team_db, "bob", "import", shared, "--images",
                         tmp_path / "src", "--masks", masks)
    assert "held by alice" in out + err
    code, out, err = run(capsys, monkeypatch, team_db, "alice", "import", shared, "--images",
                         tmp_path / "src", "--masks", masks)
    assert code == 0, out + err
    code, out, err = run(capsys, monkeypatch, team_db, "bob", "team", shared, "--json")
    summary = json.loads(out)
    assert summary["you"] == "bob"
    assert {c["image"]: c["holder"] for c in summary["claims"]} == {
        "img_00.png": "alice", "img_01.png": "alice", "img_02.png": "bob", "img_03.png": "bob"}
    assert summary["per_user"]["alice"] == {"holding": 2, "labelled": 2}
    assert summary["status"] == {"labelled": 2, "unlabelled": 3}
    code, out, _ = run(capsys, monkeypatch, team_db, "bob", "team", shared, "--audit", 3)
    assert "img_00.png: alice until" in out and "bob: holding 2" in out
    assert "audit log (newest 3)" in out and "alice" in out.split("audit log")[1]
    code, out, _ = run(capsys, monkeypatch, team_db, "bob", "team", shared, "--json",
                       "--audit", 50)
    actions = [(e["actor"], e["action"], e["image"]) for e in json.loads(out)["audit"]]
    assert ("alice", "save", "img_01.png") in actions and ("bob", "claim", "img_02.png") in actions
    assert ("bob", "conflict", "img_00.png") in actions  # bob's refused import, kept
    code, out, _ = run(capsys, monkeypatch, team_db, "bob", "history", shared, "img_00.png")
    assert code == 0 and "v1" in out and "alice" in out
    code, out, _ = run(capsys, monkeypatch, team_db, "bob", "release", shared)
    assert "released 2 claim(s)" in out
    code, out, err = run(capsys, monkeypatch, team_db, "bob", "review", shared, "img_00.png",
                         "--reject", "--note", "missed a cell")
    assert code == 0, err
    code, out, _ = run(capsys, monkeypatch, team_db, "alice", "history", shared, "img_00.png",
                       "--json")
    assert json.loads(out)["reviews"][0]["note"] == "missed a cell"
    # the existing read commands work unchanged
    code, out, err = run(capsys, monkeypatch, team_db, "bob", "info", shared, "--json")
    assert code == 0 and json.loads(out)["status"]["labelled"] == 1, err
    code, out, err = run(capsys, monkeypatch, team_db, "bob", "export", shared, "--format",
                         "masks", "--out", tmp_path / "out")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img_01.png"]  # 00 rejected
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "img_01.png")),
                                  shape_mask(1))


def test_wrong_password_is_one_line_naming_the_url(team_project, capsys, monkeypatch) -> None:
    setup, root = team_project
    monkeypatch.setenv("PGUSER", "alice")
    monkeypatch.setenv("PGPASSWORD", "not-her-password")
    code = cli.main(["claim", str(root)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(f"workbench: error: Cannot connect to {setup.url}: password "
                          'authentication failed for user "alice"')
    assert "not-her-password" not in err


def test_a_computer_without_libpq_is_told_in_one_line(team_project, capsys, monkeypatch) -> None:
    setup, root = team_project
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import fails, as without libpq
    code = cli.main(["claim", str(root)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"workbench: error: Cannot use the team project at {setup.url}: this "
                          "computer lacks the PostgreSQL client library libpq")


def test_claim_on_a_local_project_says_what_to_do(tmp_path, capsys) -> None:
    Project.create(tmp_path / "l", name="l", task="segmentation", classes=["a", "b"]).close()
    assert cli.main(["claim", str(tmp_path / "l")]) == 1
    assert "is a local project; `claim` works on team projects" in capsys.readouterr().err


def test_parallel_claim_processes_never_share_an_image(team_project) -> None:
    setup, root = team_project
    procs = [subprocess.Popen(
        [sys.executable, "-m", "workbench", "claim", str(root), "--count", "3", "--json"],
        env={**setup.env(user), "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for user in ("alice", "bob", "carol")]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out)["claimed"])
    every = [n for names in results for n in names]
    assert len(every) == len(set(every)) == 8  # 8 images, 9 asked for: nobody gets one twice
    assert max(len(r) for r in results) == 3


@pytest.mark.parametrize("argv", [["claim", "--count", "0"], ["claim", "--lease", "-5"]])
def test_bad_claim_arguments(team_project, capsys, monkeypatch, argv) -> None:
    setup, root = team_project
    code, _, err = run(capsys, monkeypatch, setup, "alice", argv[0], root, *argv[1:])
    assert code == 1 and ("--count must be at least 1" in err or "A lease must be" in err)


def test_multilabel_team_project(team_db: TeamSetup, tmp_path: Path, capsys,
                                 monkeypatch) -> None:
    shared = tmp_path / "tags"
    code, out, err = run(capsys, monkeypatch, team_db, None, "new", shared, "--task",
                         "multilabel", "--classes", "red,green", "--database", team_db.url)
    assert code == 0, err
    make_images(tmp_path / "src", 3)
    assert run(capsys, monkeypatch, team_db, None, "import", shared, "--images",
               tmp_path / "src")[0] == 0
    assert not (shared / "labels.csv").exists()  # tags live in the database
    run(capsys, monkeypatch, team_db, None, "team", shared, "add-user", "alice",
        stdin="secret-alice\n")
    with Project.open(shared, credentials=team_db.user("alice")) as alice:
        assert alice.claim_next(1) == ["img_00.png"]
        alice.set_tags("img_00.png", ["green", "red"])
        with pytest.raises(Exception, match="Unknown tag"):
            alice.set_tags("img_00.png", ["blue"])
        assert alice.tags("img_00.png") == ["green", "red"]
    code, out, err = run(capsys, monkeypatch, team_db, "alice", "info", shared, "--json")
    assert json.loads(out)["per_class"] == {"red": 1, "green": 1}
    code, out, err = run(capsys, monkeypatch, team_db, None, "export", shared, "--format",
                         "csv", "--out", tmp_path / "labels.csv")
    assert code == 0, err
    assert (tmp_path / "labels.csv").read_text().splitlines() == ["image_name,tags",
                                                                 "img_00,green red"]


def test_repair_refuses_a_team_project(team_project, capsys) -> None:
    _setup, root = team_project
    assert cli.main(["repair", str(root)]) == 1
    assert "is a team project" in capsys.readouterr().err
    assert not (root / "workbench.db").exists()


def test_marking_reviewed_is_a_review_by_someone_else(team_project) -> None:
    from workbench.core.errors import LabelError
    from workbench.core.manifest import Status

    setup, root = team_project
    with Project.open(root, credentials=setup.user("alice")) as alice, \
            Project.open(root, credentials=setup.user("bob")) as bob:
        alice.claim("img_00.png")
        alice.write_mask("img_00.png", shape_mask(0))
        with pytest.raises(LabelError, match="labelled by you"):
            alice.set_status("img_00.png", Status.REVIEWED)  # the window's R key
        bob.set_status("img_00.png", Status.REVIEWED)
        assert alice.status("img_00.png") is Status.REVIEWED


def test_history_lists_and_takes_a_conflict_copy(team_project, capsys, monkeypatch) -> None:
    setup, root = team_project
    with Project.open(root, credentials=setup.user("alice")) as alice, \
            Project.open(root, credentials=setup.user("bob")) as bob:
        alice.claim("img_04.png")
        alice.write_mask("img_04.png", shape_mask(4))
        with pytest.raises(Exception, match="held by alice"):
            bob.write_mask("img_04.png", shape_mask(6))
        alice.release()
    code, out, _ = run(capsys, monkeypatch, setup, None, "history", root, "img_04.png")
    assert code == 0 and "conflict copy #1: mask by bob" in out and "held by someone else" in out
    code, out, err = run(capsys, monkeypatch, setup, None, "history", root, "img_04.png",
                         "--take-conflict", 1, "--json")
    assert code == 0, err
    data = json.loads(out[out.index("{"):])
    assert [(v["version"], v["author"]) for v in data["versions"]] == [(1, "alice"),
                                                                      (2, setup.admin["user"])]
    with Project.open(root, credentials=setup.user("carol")) as carol:
        np.testing.assert_array_equal(carol.read_mask("img_04.png"), shape_mask(6))
    code, _, err = run(capsys, monkeypatch, setup, None, "history", root, "img_04.png",
                       "--take-conflict", 99)
    assert code == 1 and "no conflict copy #99" in err


def test_remove_user_takes_the_grants_away(team_project, tmp_path, capsys, monkeypatch) -> None:
    setup, root = team_project
    with Project.open(root, credentials=setup.user("carol")) as carol:
        carol.claim_next(2)
        carol.write_mask("img_00.png", shape_mask(0))
    code, out, err = run(capsys, monkeypatch, setup, None, "team", root, "remove-user", "carol")
    assert code == 0 and "carol is no longer an annotator" in out, err
    code, _, err = run(capsys, monkeypatch, setup, "carol", "claim", root)
    assert code == 1 and err.count("\n") == 1 and "permission denied" in err
    with Project.open(root, credentials=setup.admin) as lead:
        assert lead.holders() == {}  # her claims were released
        assert [v.author for v in lead.history("img_00.png")] == ["carol"]  # history stays
    code, _, err = run(capsys, monkeypatch, setup, None, "team", root, "remove-user", "carol")
    assert code == 1 and "carol is not an annotator" in err
    # and back again
    code, out, _ = run(capsys, monkeypatch, setup, None, "team", root, "add-user", "carol",
                       stdin="secret-carol\n")
    assert code == 0
    code, out, _ = run(capsys, monkeypatch, setup, "carol", "claim", root, "--json")
    assert code == 0 and len(json.loads(out)["claimed"]) == 1


def _ensure_lead_role(setup: TeamSetup) -> dict[str, str]:
    """A team lead as the README sets one up: CREATEROLE, owns the database, no superuser."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(setup.server.admin_conninfo(), autocommit=True) as con:
        if con.execute("SELECT 1 FROM pg_roles WHERE rolname = 'lead'").fetchone() is None:
            con.execute("CREATE ROLE lead LOGIN CREATEROLE PASSWORD 'lead-pw'")
        con.execute(sql.SQL("ALTER DATABASE {} OWNER TO lead").format(
            sql.Identifier(setup.dbname)))
    return {"user": "lead", "password": "lead-pw"}


def test_a_team_lead_who_is_no_superuser_sets_up_the_team(team_db: TeamSetup, tmp_path,
                                                           capsys, monkeypatch) -> None:
    lead = _ensure_lead_role(team_db)
    monkeypatch.setenv("PGUSER", lead["user"])
    monkeypatch.setenv("PGPASSWORD", lead["password"])
    shared = tmp_path / "cells"
    assert cli.main(["new", str(shared), "--task", "segmentation", "--classes", "bg,cell",
                     "--database", team_db.url]) == 0
    make_images(tmp_path / "src", 3)
    assert cli.main(["import", str(shared), "--images", str(tmp_path / "src")]) == 0
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("secret-dora\n"))
    assert cli.main(["team", str(shared), "add-user", "dora"]) == 0
    capsys.readouterr()
    with Project.open(shared, credentials={"user": "dora", "password": "secret-dora"}) as dora:
        assert dora.claim_next(1) == ["img_00.png"]
        dora.write_mask("img_00.png", shape_mask(0))
    assert cli.main(["team", str(shared), "remove-user", "dora"]) == 0


def test_pg_dump_backup_restores_every_version(team_project, tmp_path) -> None:
    import psycopg

    setup, root = team_project
    with Project.open(root, credentials=setup.user("alice")) as alice:
        alice.claim("img_00.png")
        alice.write_mask("img_00.png", shape_mask(0))
        alice.write_mask("img_00.png", shape_mask(1))
    server = setup.server
    dump = tmp_path / "cells.dump"
    base = ["--host=127.0.0.1", f"--port={server.port}", f"--username={server.superuser}"]
    subprocess.run([str(server.bin / "pg_dump"), *base, "-Fc", "-f", str(dump), setup.dbname],
                   check=True, capture_output=True)
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as con:  # the disaster
        con.execute(f'DROP DATABASE "{setup.dbname}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{setup.dbname}"')
    subprocess.run([str(server.bin / "pg_restore"), *base, "-d", setup.dbname, str(dump)],
                   check=True, capture_output=True)
    with Project.open(root, credentials=setup.user("bob")) as bob:  # grants came back too
        assert [v.version for v in bob.history("img_00.png")] == [1, 2]
        np.testing.assert_array_equal(bob.read_mask("img_00.png"), shape_mask(1))
        assert bob.holders()["img_00.png"]["holder"] == "alice"
