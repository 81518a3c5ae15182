"""`workbench interpret`, `rank`, `queue` and `refit` end to end, with their JSON shapes."""

from __future__ import annotations

import json

from PIL import Image

from workbench.cli import main
from workbench.core.project import Project

FAST = ["--size", "32", "--bs", "4", "--arch", "resnet18", "--pretrained", "none"]


def test_loop_commands_segmentation(seg_project, tmp_path, capsys) -> None:
    root = seg_project.root
    unlabelled = seg_project.split()[0][0]
    seg_project.clear_label(unlabelled)
    valid = seg_project.split()[1]
    seg_project.close()
    assert main(["train", str(root), "--epochs", "1", "--lr", "3e-3", *FAST]) == 0

    out, grid = tmp_path / "top.json", tmp_path / "grid.png"
    assert main(["interpret", str(root), "--top", "2", "--json", str(out),
                 "--grid", str(grid)]) == 0
    top = json.loads(out.read_text())
    assert set(top) == {"run", "items", "most_confused"}
    assert sorted(i["image"] for i in top["items"]) == sorted(valid)
    assert all(set(i) == {"image", "loss", "dice"} for i in top["items"])
    losses = [i["loss"] for i in top["items"]]
    assert losses == sorted(losses, reverse=True)
    with Image.open(grid) as im:
        assert im.width > 300 and im.height > 300
    assert "highest loss first" in capsys.readouterr().out

    ranked = tmp_path / "rank.json"
    assert main(["rank", str(root), "--json", str(ranked)]) == 0
    data = json.loads(ranked.read_text())
    assert data == {"run": top["run"], "items": [
        {"image": unlabelled, "uncertainty": data["items"][0]["uncertainty"]}]}

    assert main(["queue", str(root), "add", *valid[:2], "--reason", "wrong", "--run",
                 top["run"]]) == 0
    assert main(["queue", str(root), "add", "nosuch.png"]) == 1
    capsys.readouterr()
    assert main(["queue", str(root), "list", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert [(i["image"], i["reason"], i["run"], i["used_by"]) for i in items] == [
        (n, "wrong", top["run"], None) for n in valid[:2]]

    refit_json = tmp_path / "refit.json"
    assert main(["refit", str(root), "--epochs", "1", "--keep-worse",
                 "--json", str(refit_json)]) == 0
    printed = capsys.readouterr().out
    assert "loss before" in printed and "dice_mean after" in printed
    assert "is the current model" in printed
    res = json.loads(refit_json.read_text())
    assert set(res) == {"run", "parent", "items", "before", "after", "accepted", "guard", "lr"}
    assert res["accepted"] and res["lr"]["rule"] == "measured (edge)"
    assert res["parent"] == top["run"] and res["items"] == valid[:2]
    for when in ("before", "after"):
        assert set(res[when]) == {"queue", "valid"}
        assert {"loss", "dice_mean"} <= set(res[when]["queue"])
    assert main(["queue", str(root), "list", "--json"]) == 0
    assert {i["used_by"] for i in json.loads(capsys.readouterr().out)} == {res["run"]}
    with Project.open(root, readonly=True) as project:
        assert project.db.get_run(res["run"]).parent == top["run"]

    assert main(["queue", str(root), "add", valid[0]]) == 0
    assert main(["queue", str(root), "remove", "999"]) == 1
    assert main(["queue", str(root), "clear"]) == 0
    with Project.open(root, readonly=True) as project:
        assert project.queue.pending() == []


def test_queue_import_csv_exit_code(tag_project, tmp_path, capsys) -> None:
    root = tag_project.root
    tag_project.close()
    good = tmp_path / "good.csv"
    good.write_text("image_name,tags\ntag_00,red\n")
    assert main(["queue", str(root), "import", "--csv", str(good)]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("image_name,tags\ntag_01,green\nghost,red\n")
    assert main(["queue", str(root), "import", "--csv", str(bad), "--run", "r7"]) == 1
    out = capsys.readouterr().out
    assert f"{bad}, line 3" in out and "ghost" in out
    with Project.open(root, readonly=True) as project:
        items = project.queue.pending()
        assert [i.image for i in items] == ["tag_00.png", "tag_01.png"]
        assert items[1].run_id == "r7" and project.tags("tag_01.png") == ["green"]
    assert main(["queue", str(root), "import", "--masks", str(tmp_path)]) == 1
    assert "multilabel project" in capsys.readouterr().err


def test_rejected_refit_exit_code_then_runs_use_and_delete(seg_project, capsys,
                                                          monkeypatch) -> None:
    from workbench.training import refit_policy

    monkeypatch.setattr(refit_policy, "METRIC_TOLERANCE", -1.0)  # every refit is rejected
    root = seg_project.root
    valid = seg_project.split()[1]
    seg_project.close()
    assert main(["train", str(root), "--epochs", "2", "--lr", "3e-3", *FAST]) == 0
    with Project.open(root, readonly=True) as project:
        parent = project.db.list_runs()[0].run_id
    assert main(["queue", str(root), "add", valid[0]]) == 0
    capsys.readouterr()
    assert main(["refit", str(root), "--epochs", "2"]) == 3
    printed = capsys.readouterr().out
    assert "rejected: " in printed and "validation dice_mean fell by" in printed
    assert f"Kept the previous model {parent}" in printed
    capsys.readouterr()
    assert main(["runs", str(root), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["status"], r["current"]) for r in runs] == [("rejected", False),
                                                           ("finished", True)]
    refit_run = runs[0]["run"]
    assert runs[0]["parent"] == parent and runs[0]["bytes"] > 0
    assert main(["runs", str(root)]) == 0
    table = capsys.readouterr().out
    assert f"* {parent}" in table and "rejected" in table
    assert main(["runs", str(root), "delete", parent]) == 1  # the current model
    assert "is the current model" in capsys.readouterr().err
    assert main(["runs", str(root), "use", refit_run]) == 0  # keep the worse refit after all
    with Project.open(root, readonly=True) as project:
        assert project.queue.pending() == []
        assert project.db.get_run(refit_run).status.value == "finished"
    assert main(["runs", str(root), "delete", parent]) == 0
    assert "freed" in capsys.readouterr().out
    assert not (root / "models" / parent).exists()
    with Project.open(root, readonly=True) as project:
        assert [r.run_id for r in project.db.list_runs()] == [refit_run]
