"""The run model: statuses and their transitions, which run is the model, deleting runs."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.project import Project
from workbench.core.runs import (
    TRANSITIONS,
    NoModelError,
    RunStateError,
    RunStatus,
    choose_model,
    current_model,
    delete_run,
    disk_usage,
    predicted_tags,
    require_model,
    run_dir,
)


def _run(project: Project, run_id: str, status: RunStatus | None = RunStatus.FINISHED, *,
         created_at: float, model: bool = True, parent: str | None = None) -> None:
    """A run record (and a fake model file: core never reads it)."""
    project.db.add_run(run_id, {"arch": "resnet18"}, created_at=created_at, parent=parent)
    if model:
        run_dir(project.root, run_id).mkdir(parents=True)
        (run_dir(project.root, run_id) / "last.pt").write_bytes(b"x" * 1000)
    if status is not None and status is not RunStatus.RUNNING:
        project.db.update_run(run_id, status=status)


def test_every_status_change_outside_the_table_is_refused(seg_project: Project) -> None:
    db = seg_project.db
    for old in RunStatus:
        for new in RunStatus:
            legal = old == new or new in TRANSITIONS[old]
            run_id = f"{old}-{new}"
            db.add_run(run_id, {})
            db.update_run(run_id, status=old)  # every status is one step from running
            if legal:
                db.update_run(run_id, status=new)
                assert db.get_run(run_id).status is new
            else:
                with pytest.raises(RunStateError, match=f"is {old.value}; it cannot become"):
                    db.update_run(run_id, status=new)
                assert db.get_run(run_id).status is old


def test_a_finished_run_becomes_the_model_and_a_rejected_refit_does_not(
        seg_project: Project) -> None:
    assert current_model(seg_project) is None
    with pytest.raises(NoModelError, match="no trained model yet"):
        require_model(seg_project)
    _run(seg_project, "a", created_at=1.0)
    _run(seg_project, "cancelled", RunStatus.CANCELLED, created_at=2.0)
    assert current_model(seg_project).run_id == "a"  # a stopped run is not chosen by itself
    _run(seg_project, "refit", RunStatus.REJECTED, created_at=3.0, parent="a")
    assert current_model(seg_project).run_id == "a"
    _run(seg_project, "b", created_at=4.0)
    assert current_model(seg_project).run_id == "b"
    choose_model(seg_project, "cancelled")  # the user may pick any run with a model
    assert current_model(seg_project).run_id == "cancelled"
    _run(seg_project, "c", created_at=5.0)  # ...until a newer run finishes
    assert current_model(seg_project).run_id == "c"


def test_the_chosen_run_falls_back_when_its_model_file_is_gone(seg_project: Project) -> None:
    _run(seg_project, "old", created_at=1.0)
    _run(seg_project, "new", created_at=2.0)
    choose_model(seg_project, "old")
    (run_dir(seg_project.root, "old") / "last.pt").unlink()
    assert current_model(seg_project).run_id == "new"
    with pytest.raises(NoModelError, match="no model file"):
        require_model(seg_project, "old")
    with pytest.raises(NoModelError, match="has no run 'nope'"):
        require_model(seg_project, "nope")


def test_keeping_a_rejected_refit_finishes_it_and_uses_its_queue_items(
        seg_project: Project) -> None:
    _run(seg_project, "parent", created_at=1.0)
    item = seg_project.queue.add("img_00.png", reason="corrected")
    other = seg_project.queue.add("img_01.png", reason="corrected later")
    _run(seg_project, "refit", None, created_at=2.0, parent="parent")
    seg_project.db.update_run("refit", status=RunStatus.REJECTED,
                              guard={"accepted": False, "queue_ids": [item.id]})
    assert [i.id for i in seg_project.queue.pending()] == [item.id, other.id]
    run = choose_model(seg_project, "refit")
    assert run.status is RunStatus.FINISHED and run.guard["kept_anyway"] is True
    assert current_model(seg_project).run_id == "refit"
    assert [i.id for i in seg_project.queue.pending()] == [other.id]
    assert seg_project.queue.get(item.id).used_by == "refit"


def test_delete_refuses_the_model_and_running_runs_and_frees_the_files(
        seg_project: Project) -> None:
    _run(seg_project, "old", created_at=1.0)
    _run(seg_project, "new", created_at=2.0)
    _run(seg_project, "live", RunStatus.RUNNING, created_at=3.0)
    preds = seg_project.predictions_dir / "old"
    preds.mkdir(parents=True)
    (preds / "a.png").write_bytes(b"y" * 500)
    with pytest.raises(RunStateError, match="is the current model"):
        delete_run(seg_project, "new")
    with pytest.raises(RunStateError, match="is running"):
        delete_run(seg_project, "live")
    assert disk_usage(seg_project, "old") == 1500
    assert delete_run(seg_project, "old") == 1500
    assert seg_project.db.get_run("old") is None
    assert not run_dir(seg_project.root, "old").exists() and not preds.exists()
    assert [r.run_id for r in seg_project.db.list_runs()] == ["live", "new"]


def test_an_unknown_status_in_the_database_is_named(seg_project: Project) -> None:
    seg_project.db.add_run("r", {})
    with seg_project.db.write() as con:
        con.execute("UPDATE runs SET status = 'bogus' WHERE run_id = 'r'")
    with pytest.raises(RunStateError, match="run r has an unknown status 'bogus'"):
        seg_project.db.list_runs()


def test_the_decision_rule_predicts_a_tag_at_the_threshold() -> None:
    probs = np.array([0.19, 0.2, 0.21])
    assert predicted_tags(probs, 0.2).tolist() == [False, True, True]


def test_the_offered_prediction_is_the_current_models(seg_project: Project, tmp_path) -> None:
    """'From prediction', the prediction overlay and the tag probabilities read the current
    model's predictions, not whichever folder was written last."""
    import os

    from PIL import Image

    from workbench.core.annotation import newest_prediction
    from workbench.core.annotation.predictions import newest_tag_probabilities
    from workbench.core.runs import current_model_id

    name = seg_project.image_names()[0]
    stem = os.path.splitext(name)[0]
    _run(seg_project, "old", created_at=1.0)
    _run(seg_project, "new", created_at=2.0)
    for run_id, value, when in (("old", 1, 100.0), ("new", 2, 200.0)):
        folder = seg_project.root / "predictions" / run_id
        folder.mkdir(parents=True)
        Image.fromarray(np.full((8, 8), value, np.uint8)).save(folder / f"{stem}.png")
        (folder / "predictions.csv").write_text(f"image,a\n{stem},0.{value}\n")
        os.utime(folder, (when, when))  # "new" was written last
    root = seg_project.root
    assert newest_prediction(root, name).parent.name == "new"
    choose_model(seg_project, "old")
    assert current_model_id(seg_project) == "old"
    assert newest_prediction(root, name, current_model_id(seg_project)).parent.name == "old"
    assert newest_tag_probabilities(root, name, ["a"], "old") == ("old", {"a": 0.1})
    assert newest_tag_probabilities(root, name, ["a"]) == ("new", {"a": 0.2})
    other = seg_project.image_names()[1]  # the current model never predicted it: the newest
    folder = root / "predictions" / "new"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / f"{os.path.splitext(other)[0]}.png")
    assert newest_prediction(root, other, "old").parent.name == "new"
