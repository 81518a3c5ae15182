"""Project format round trip, masks, tags, statuses, split, info, read-only opens."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.errors import (
    ImageReadError,
    LabelError,
    MaskError,
    ProjectError,
    ReadOnlyError,
)
from workbench.core.project import UNLABELLED_VALUE, Project, SplitRule, Status, Task
from workbench.core.runs import RunStateError, RunStatus


def _img(folder: Path, name: str, size: tuple[int, int] = (32, 24)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.new("RGB", size, (10, 20, 30)).save(path)
    return path


def test_create_writes_documented_layout(tmp_path: Path) -> None:
    root = tmp_path / "p"
    with Project.create(root, name="cells", task="segmentation", classes=["bg", "cell"],
                        colors=[(0, 0, 0), (255, 0, 0)],
                        split=SplitRule(kind="random", valid_pct=0.3, seed=7)) as project:
        assert project.task is Task.SEGMENTATION
        assert (root / "images").is_dir() and (root / "masks").is_dir()
        assert (root / "workbench.db").exists() and (root / ".workbench.lock").exists()
        assert project.predictions_dir == root / "predictions"
    manifest = json.loads((root / "workbench.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["task"] == "segmentation"
    assert manifest["classes"] == [{"name": "bg", "color": "#000000"},
                                   {"name": "cell", "color": "#ff0000"}]
    assert manifest["split"]["valid_pct"] == 0.3 and manifest["split"]["seed"] == 7
    assert not (root / ".workbench.lock").exists()
    with Project.open(root) as again:
        assert again.name == "cells" and again.classes == ["bg", "cell"]
        assert again.colors == [(0, 0, 0), (255, 0, 0)]
        assert again.split_rule == SplitRule(kind="random", valid_pct=0.3, seed=7)


def test_create_validates(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="Duplicate"):
        Project.create(tmp_path / "a", name="a", task="segmentation", classes=["x", "x"])
    with pytest.raises(LabelError, match="spaces"):
        Project.create(tmp_path / "b", name="b", task="multilabel", classes=["ankle boot"])
    with pytest.raises(LabelError, match="at least one class"):
        Project.create(tmp_path / "c", name="c", task="segmentation", classes=[])
    with pytest.raises(ValueError):
        Project.create(tmp_path / "d", name="d", task="detection", classes=["x"])
    Project.create(tmp_path / "e", name="e", task="multilabel", classes=["t"]).close()
    with pytest.raises(ProjectError, match="already contains a project"):
        Project.create(tmp_path / "e", name="e", task="multilabel", classes=["t"])


def test_open_rejects_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProjectError, match="is not a folder"):
        Project.open(tmp_path / "file")
    with pytest.raises(ProjectError, match="workbench.json is missing"):
        Project.open(tmp_path)
    (tmp_path / "workbench.json").write_text("{broken")
    with pytest.raises(ProjectError, match="workbench.json is damaged"):
        Project.open(tmp_path)
    (tmp_path / "workbench.json").write_text(json.dumps({"format_version": 99, "task": "x"}))
    with pytest.raises(ProjectError, match="newer Workbench"):
        Project.open(tmp_path)
    (tmp_path / "workbench.json").write_text(json.dumps({"name": "n"}))
    with pytest.raises(ProjectError, match="invalid field"):
        Project.open(tmp_path)
    assert not (tmp_path / ".workbench.lock").exists()


def test_mask_write_read_and_status(seg_project: Project) -> None:
    name = "img_03.png"
    assert seg_project.status(name) is Status.LABELLED
    mask = np.zeros((48, 48), np.uint8)
    mask[:10] = UNLABELLED_VALUE
    mask[20:30, 20:30] = 1
    seg_project.write_mask(name, mask)
    np.testing.assert_array_equal(seg_project.read_mask(name), mask)
    assert seg_project.mask_path(name) == seg_project.root / "masks" / "img_03.png"
    seg_project.set_status(name, Status.REVIEWED)
    seg_project.write_mask(name, mask)  # editing a reviewed image keeps it reviewed
    assert seg_project.status(name) is Status.REVIEWED
    seg_project.write_mask(name, np.full((48, 48), UNLABELLED_VALUE, np.uint8))  # erased all
    assert not seg_project.mask_path(name).exists()
    assert seg_project.status(name) is Status.UNLABELLED
    seg_project.write_mask(name, mask)
    assert seg_project.status(name) is Status.LABELLED
    seg_project.clear_label(name)
    assert seg_project.read_mask(name) is None
    assert seg_project.status(name) is Status.UNLABELLED
    assert name not in seg_project.labelled_names()
    with pytest.raises(LabelError, match="no mask yet"):
        seg_project.set_status(name, Status.LABELLED)


def test_mask_of_wrong_size_or_values_is_refused(seg_project: Project) -> None:
    name = "img_00.png"
    before = seg_project.mask_path(name).read_bytes()
    with pytest.raises(MaskError, match=r"is 40x48 but image img_00.png is 48x48"):
        seg_project.write_mask(name, np.zeros((48, 40), np.uint8))
    bad = np.zeros((48, 48), np.uint8)
    bad[0, 0], bad[1, 1] = 2, 7
    with pytest.raises(MaskError, match=r"values 2, 7 outside the 2 classes"):
        seg_project.write_mask(name, bad)
    assert seg_project.mask_path(name).read_bytes() == before
    with pytest.raises(ImageReadError, match="not an image of project"):
        seg_project.write_mask("nope.png", np.zeros((48, 48), np.uint8))
    # A bad mask dropped into masks/ by another tool is reported on read, naming the file.
    Image.fromarray(np.full((48, 48), 9, np.uint8)).save(seg_project.mask_path("img_01.png"))
    with pytest.raises(MaskError, match=r"masks/img_01.png contains values 9"):
        seg_project.read_mask("img_01.png")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(seg_project.mask_path("img_02.png"))
    with pytest.raises(MaskError, match=r"masks/img_02.png is 5x5"):
        seg_project.read_mask("img_02.png")


def test_tags_round_trip_and_csv_format(tag_project: Project) -> None:
    assert tag_project.tags("tag_00.png") == ["red"]
    tag_project.set_tags("tag_00.png", ["blue", "red", "blue"])
    assert tag_project.tags("tag_00.png") == ["blue", "red"]
    lines = (tag_project.root / "labels.csv").read_text().splitlines()
    assert lines[0] == "image_name,tags"
    assert "tag_00,blue red" in lines
    with pytest.raises(LabelError, match="Unknown tag.*purple"):
        tag_project.set_tags("tag_01.png", ["purple"])
    tag_project.set_tags("tag_01.png", [])  # labelled: shows none of the tags
    assert tag_project.status("tag_01.png") is Status.LABELLED
    assert tag_project.all_tags()["tag_01.png"] == []
    tag_project.close()
    with Project.open(tag_project.root) as again:
        assert again.tags("tag_00.png") == ["blue", "red"]
        assert len(again.all_tags()) == 16


def test_set_status_labelled_for_multilabel_writes_empty_row(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", name="p", task="multilabel", classes=["a"]) as project:
        project.add_images([_img(tmp_path / "src", "x.png")])
        assert project.statuses() == {"x.png": Status.UNLABELLED}
        project.set_status("x.png", Status.REVIEWED)
        assert project.status("x.png") is Status.REVIEWED
        assert project.labels_csv.read_text().splitlines() == ["image_name,tags", "x,"]


def test_random_split_is_deterministic_and_stable(seg_project: Project) -> None:
    train, valid = seg_project.split()
    assert len(valid) == 3 and len(train) == 9
    assert not set(train) & set(valid)
    assert seg_project.split() == (train, valid)
    names = seg_project.labelled_names()
    # Adding names does not move existing ones from valid to train beyond the boundary.
    _, valid_more = seg_project.split(names + [f"new_{i}.png" for i in range(12)])
    assert len(valid_more) == 6
    seg_project.set_split_rule(SplitRule(kind="random", valid_pct=0.25, seed=2))
    assert seg_project.split() != (train, valid)


def test_list_split(seg_project: Project) -> None:
    seg_project.set_split_rule(SplitRule(kind="list", valid_names=["img_10.png", "img_11"]))
    train, valid = seg_project.split()
    assert valid == ["img_10.png", "img_11.png"] and len(train) == 10
    with Project.open(seg_project.root, readonly=True) as ro:
        assert ro.split_rule.kind == "list"


def test_info_counts(seg_project: Project) -> None:
    seg_project.clear_label("img_00.png")
    seg_project.set_status("img_01.png", Status.REVIEWED)
    info = seg_project.info()
    assert info["images"] == 12
    assert info["status"] == {"unlabelled": 1, "labelled": 10, "reviewed": 1}
    assert info["per_class"] == {"background": 11, "shape": 11}
    assert info["split"]["train"] + info["split"]["valid"] == 11
    assert info["pixels_per_class"]["background"] + info["pixels_per_class"]["shape"] == 11 * 48 * 48
    json.dumps(info)


def test_info_multilabel(tag_project: Project) -> None:
    info = tag_project.info()
    assert info["task"] == "multilabel" and info["labelled"] == 16
    # combos cycle over the 7 non-empty subsets of 3 tags; each tag is in 4 of them
    assert sum(info["per_class"].values()) == sum(len(t) for t in tag_project.all_tags().values())
    assert set(info["per_class"]) == {"red", "green", "blue"}


def test_readonly_open_refuses_writes(seg_project: Project) -> None:
    with Project.open(seg_project.root, readonly=True) as ro:
        assert ro.labelled_names() == seg_project.labelled_names()
        with pytest.raises(ReadOnlyError, match="read-only"):
            ro.write_mask("img_00.png", np.zeros((48, 48), np.uint8))
        with pytest.raises(ReadOnlyError):
            ro.set_status("img_00.png", Status.REVIEWED)
        with pytest.raises(ReadOnlyError):
            ro.db.add_run("r", {})


def test_reconcile_db_with_files(seg_project: Project) -> None:
    root = seg_project.root
    _img(root / "images", "late.png", (48, 48))
    Image.fromarray(np.ones((48, 48), np.uint8)).save(root / "masks" / "late.png")
    seg_project.set_status("img_05.png", Status.REVIEWED)
    seg_project.close()
    (root / "masks" / "img_05.png").unlink()  # label removed outside the app
    with Project.open(root) as project:
        assert project.status("late.png") is Status.LABELLED
        assert project.status("img_05.png") is Status.UNLABELLED
        rows = dict(sqlite3.connect(root / "workbench.db").execute(
            "SELECT name, status FROM image_status").fetchall())
        assert rows["late.png"] == "labelled" and "img_05.png" not in rows
    # The database never holds the only copy of a label: delete it and nothing is lost.
    for f in root.glob("workbench.db*"):
        f.unlink()
    with Project.open(root) as project:
        assert len(project.labelled_names()) == 12


def test_runs_and_queue(seg_project: Project) -> None:
    db = seg_project.db
    db.add_run("r1", {"arch": "resnet18"})
    db.add_run("r2", {"arch": "resnet34"})
    db.update_run("r1", status="finished", best_metric=0.8, metric_name="dice", epochs=3,
                  history={"loss": [1.0, 0.5]}, finished_at=123.0)
    runs = db.list_runs()
    assert [r.run_id for r in runs] == ["r2", "r1"]
    r1 = db.get_run("r1")
    assert r1 is not None and r1.config == {"arch": "resnet18"}
    assert r1.history == {"loss": [1.0, 0.5]} and r1.status is RunStatus.FINISHED
    assert db.get_run("zz") is None
    with pytest.raises(ValueError):
        db.update_run("r1", colour="red")
    with pytest.raises(RunStateError, match="unknown status 'exploded'"):
        db.update_run("r1", status="exploded")
    with pytest.raises(KeyError):
        db.update_run("zz", status="failed")
    entry = db.queue_add("img_00.png", "low confidence", 0.3)
    assert [q["name"] for q in db.queue_list()] == ["img_00.png"]
    db.queue_remove(entry)
    assert db.queue_list() == []
    assert seg_project.info()["runs"] == 2


def test_add_classes_keeps_indices(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", name="p", task="segmentation", classes=["bg"]) as project:
        project.add_classes(["road"])
        assert project.classes == ["bg", "road"] and len(project.colors) == 2
        project.set_colors([(1, 2, 3), (4, 5, 6)])
    with Project.open(tmp_path / "p") as again:
        assert again.colors == [(1, 2, 3), (4, 5, 6)]


def test_readonly_open_of_path_with_odd_characters(tmp_path: Path) -> None:
    root = tmp_path / "my #1 project?"
    with Project.create(root, name="odd", task="multilabel", classes=["a"]) as project:
        project.add_images([_img(tmp_path / "src", "x.png")])
        project.set_tags("x.png", ["a"])
        project.db.add_run("r", {})
    with Project.open(root, readonly=True) as ro:
        assert ro.tags("x.png") == ["a"] and [r.run_id for r in ro.db.list_runs()] == ["r"]


def test_damaged_labels_csv_fails_open_cleanly(tag_project: Project) -> None:
    root = tag_project.root
    tag_project.close()
    (root / "labels.csv").write_text("name;tags\nx;y\n")
    with pytest.raises(LabelError, match="labels.csv must start with the header"):
        Project.open(root)
    assert not (root / ".workbench.lock").exists()


def test_database_full_is_reported_and_keeps_old_rows(seg_project: Project) -> None:
    from workbench.core.errors import DiskFullError

    db = seg_project.db
    db.add_run("before", {"x": 1})
    pages = db.con.execute("PRAGMA page_count").fetchone()[0]
    db.con.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "disk is full"
    with pytest.raises(DiskFullError, match="workbench.db: the disk is full"):
        db.add_run("huge", {"blob": "x" * 200_000})
    assert [r.run_id for r in db.list_runs()] == ["before"]


def test_failed_tag_writes_change_neither_labels_csv_nor_memory(
        tag_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.core.errors import DiskFullError

    name = tag_project.image_names()[0]
    tags, before = tag_project.tags(name), tag_project.labels_csv.read_bytes()
    monkeypatch.setenv("WORKBENCH_FAULT", "write.*=enospc")  # every write: disk full
    with pytest.raises(DiskFullError):
        tag_project.set_many_tags({name: [], tag_project.image_names()[1]: ["red"]})
    with pytest.raises(DiskFullError):
        tag_project.clear_label(name)
    monkeypatch.delenv("WORKBENCH_FAULT")
    assert tag_project.tags(name) == tags and tag_project.labels_csv.read_bytes() == before
    assert tag_project.status(name) is Status.LABELLED


def test_in_progress_until_marked_done(seg_project):
    """The done step: an image started in the window stays "in progress" (N visits it) until
    it is marked Reviewed; clearing its label ends it too."""
    name, other = seg_project.image_names()[:2]
    assert seg_project.in_progress() == set()
    seg_project.set_in_progress(name)
    assert seg_project.in_progress() == {name}
    assert seg_project.status(name) is Status.LABELLED  # still trains, still counts
    seg_project.set_status(name, Status.REVIEWED)  # done
    assert seg_project.in_progress() == set()
    seg_project.set_in_progress(other)
    seg_project.clear_label(other)
    assert seg_project.in_progress() == set()
    seg_project.set_in_progress(other)  # marked, but with no label it is plain unlabelled
    assert seg_project.in_progress() == set()
