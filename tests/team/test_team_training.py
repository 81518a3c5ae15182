"""Training on a team project: reads the masks from the database, pins their versions."""

from __future__ import annotations

import numpy as np

from workbench import cli
from workbench.core.project import Project

from .conftest import shape_mask

FAST = ["--size", "32", "--bs", "4", "--arch", "resnet18", "--pretrained", "none"]


def test_train_pins_the_label_versions_it_read(team_project, monkeypatch, capsys,
                                              tmp_path) -> None:
    setup, root = team_project
    with Project.open(root, credentials=setup.admin) as lead:
        for i in range(8):
            lead.write_mask(f"img_{i:02d}.png", shape_mask(i))
        lead.write_mask("img_00.png", shape_mask(0) | shape_mask(3))  # version 2
    monkeypatch.setenv("PGUSER", setup.admin["user"])
    assert cli.main(["train", str(root), "--epochs", "1", "--lr", "1e-3", *FAST]) == 0
    capsys.readouterr()
    with Project.open(root, credentials=setup.user("alice")) as alice:
        [run] = alice.db.list_runs()
        assert run.status.value == "finished"
        pinned = alice.pinned_labels(run.run_id)
        assert pinned == {f"img_{i:02d}.png": 2 if i == 0 else 1 for i in range(8)}
        alice.claim("img_01.png")
        alice.write_mask("img_01.png", shape_mask(9))  # labelling goes on after the run
        assert alice.pinned_labels(run.run_id)["img_01.png"] == 1
        # the run's masks can be read again exactly as it trained on them
        files = alice.mask_files(["img_01.png"], pinned)
        from workbench.core import imageio

        np.testing.assert_array_equal(imageio.read_mask(files["img_01.png"]), shape_mask(1))
        assert alice.mask_files(["img_01.png"])["img_01.png"].name == "img_01.v2.png"
    # predict and runs work on the team project unchanged
    assert cli.main(["predict", str(root), "--images", "all"]) == 0
    out = capsys.readouterr().out
    assert f"predictions/{run.run_id}" in out
    assert len(list((root / "predictions" / run.run_id).glob("*.png"))) == 8
    assert cli.main(["runs", str(root), "--json"]) == 0
    import json

    [listed] = json.loads(capsys.readouterr().out)
    assert listed["run"] == run.run_id and listed["status"] == "finished"
    assert listed["label_versions"] == pinned  # the run record shows what it trained on
    # the correct-and-refit loop: a corrected mask comes back as a queue item, a refit
    # trains on it, and records the versions it read
    from PIL import Image

    fixes = tmp_path / "fixes"
    fixes.mkdir()
    Image.fromarray(shape_mask(5) | shape_mask(11)).save(fixes / "img_05.png")
    assert cli.main(["queue", str(root), "import", "--masks", str(fixes)]) == 0
    capsys.readouterr()
    code = cli.main(["refit", str(root), "--epochs", "1", "--lr", "1e-4", "--keep-worse"])
    assert code == 0, capsys.readouterr().err
    with Project.open(root, credentials=setup.user("bob")) as bob:
        refit = next(r for r in bob.db.list_runs() if r.parent == run.run_id)
        assert bob.pinned_labels(refit.run_id)["img_05.png"] == 2  # the corrected version
        assert bob.history("img_05.png")[-1].author == setup.admin["user"]
        assert [i.image for i in bob.queue.items()] == ["img_05.png"]
