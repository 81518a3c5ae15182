"""A damaged workbench.db: refused on open by name (never written into), rebuilt by
``workbench repair`` from the files and whatever rows can still be read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from workbench.core.project import Project, Status

from .helpers import SmallDisk, one_line_error, run_cli, save_rgb, seg_project


def _project(tmp_path: Path) -> Path:
    """Four images, three labelled, one reviewed, a run and a queue item."""
    root = seg_project(tmp_path / "p", labelled=3)
    with Project.open(root) as project:
        project.set_status("img1.png", Status.REVIEWED)
        project.db.add_run("run-1", {"arch": "resnet18"})
        project.db.update_run("run-1", status="finished")
        project.queue.add("img2.png", reason="fix me")
    return root


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _garble(db: Path) -> None:
    data = bytearray(db.read_bytes())
    for i in range(100, len(data), 997):  # every page's header and cells get some noise
        data[i:i + 8] = b"\xde\xad\xbe\xef" * 2
    db.write_bytes(bytes(data))


def _set(db: Path, sql: str) -> None:
    con = sqlite3.connect(db)
    with con:
        con.execute(sql)
    con.close()


DAMAGE = {
    "truncated": _truncate,
    "garbled": _garble,
    "bogus status": lambda db: _set(db, "UPDATE image_status SET status = 'bogus' "
                                        "WHERE name = 'img0.png'"),
    "bogus run status": lambda db: _set(db, "UPDATE runs SET status = 'bogus'"),
    "bad JSON": lambda db: _set(db, "UPDATE queue SET change = '{not json'"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_database_is_named_by_every_command_and_never_written(tmp_path: Path,
                                                                      damage: str) -> None:
    root = _project(tmp_path)
    db = root / "workbench.db"
    DAMAGE[damage](db)
    before = db.read_bytes()
    save_rgb(tmp_path / "more" / "new.png")
    for args in (("info", root), ("queue", root, "list"),
                 ("import", root, "--images", tmp_path / "more")):
        line = one_line_error(run_cli(*args))
        assert str(db) in line and "damaged" in line and f"workbench repair {root}" in line
    assert db.read_bytes() == before  # import refused to write into it
    assert not (root / "images" / "new.png").exists()


@pytest.mark.parametrize("damage", ["truncated", "bogus status"])
def test_repair_rebuilds_from_files_and_lists_what_is_lost(tmp_path: Path, damage: str) -> None:
    root = _project(tmp_path)
    DAMAGE[damage](root / "workbench.db")
    result = run_cli("repair", root)
    assert result.returncode == 0, result.stderr
    assert "Could not recover" in result.stdout
    aside = [p for p in root.iterdir() if p.name.startswith("workbench.db.damaged-")]
    assert aside, "the damaged file is kept"
    with Project.open(root) as project:
        statuses = project.statuses()
        assert [n for n, s in statuses.items() if s is not Status.UNLABELLED] == [
            "img0.png", "img1.png", "img2.png"]  # every label survives: they are files
        if damage == "bogus status":  # everything else could still be read
            assert statuses["img1.png"] is Status.REVIEWED
            assert [r.run_id for r in project.db.list_runs()] == ["run-1"]
            assert [i.image for i in project.queue.items()] == ["img2.png"]
            assert "img0.png" in result.stdout and "'bogus'" in result.stdout
        else:
            assert "reviewed" not in {s.value for s in statuses.values()}
            assert "image statuses" in result.stdout
    again = run_cli("repair", root)
    assert again.returncode == 0 and "nothing to repair" in again.stdout


def test_newer_schema_is_refused_not_rewritten(tmp_path: Path) -> None:
    root = _project(tmp_path)
    db = root / "workbench.db"
    _set(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    for args in (("info", root), ("import", root, "--images", root / "images")):
        line = one_line_error(run_cli(*args))
        assert "schema 99" in line and "newer Workbench" in line
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "99"
    con.close()


def test_repair_on_a_full_disk_leaves_the_damaged_file_in_place(small_disk: SmallDisk) -> None:
    root = _project(small_disk.root)
    db = root / "workbench.db"
    _truncate(db)
    before = db.read_bytes()
    small_disk.fill()
    line = one_line_error(run_cli("repair", root, **small_disk.env()))
    assert "disk is full" in line
    small_disk.free()
    assert db.read_bytes() == before  # still there, for a repair once there is room
    assert not [p for p in root.iterdir() if "damaged-" in p.name]
    assert run_cli("repair", root).returncode == 0
