"""Runs whose process dies: kill -9 leaves a run that the next open marks interrupted (its
half-written checkpoint swept away), which can be used or resumed; SIGTERM is a Stop."""

from __future__ import annotations

import signal
from pathlib import Path

from workbench.core.project import Project
from workbench.core.runs import RunStatus, current_model, require_model
from workbench.training import checkpoints

from .helpers import run_cli, seg_project

TRAIN = ["--size", "32", "--bs", "4", "--arch", "resnet18", "--pretrained", "none",
         "--lr", "1e-3", "--device", "cpu"]


def _only_run(root: Path, readonly: bool = False):
    with Project.open(root, readonly=readonly) as project:
        runs = project.db.list_runs()
        assert len(runs) == 1, runs
        return runs[0]


def test_a_killed_run_is_interrupted_on_the_next_open_and_resumes(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=12, labelled=12)
    # kill -9 while the second epoch's checkpoint is half way to disk: a temp file is left
    killed = run_cli("train", root, "--epochs", "3", *TRAIN,
                     WORKBENCH_FAULT="atomic.before_rename=kill@2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    run = _only_run(root, readonly=True)  # a reader changes nothing
    assert run.status is RunStatus.RUNNING
    folder = root / "models" / run.run_id
    assert [p for p in folder.iterdir() if p.name.endswith(".tmp")], "the kill left a temp file"

    with Project.open(root) as project:  # the writer's open: the process is gone
        run = project.db.get_run(run.run_id)
        assert run.status is RunStatus.INTERRUPTED
        assert "killed or crashed" in run.error and "pid" in run.error
        assert [p.name for p in folder.iterdir()] == [checkpoints.LAST]  # temp swept
        assert current_model(project) is None  # not chosen by itself...
        assert require_model(project, run.run_id).run_id == run.run_id  # ...but usable
    assert len(checkpoints.load(folder / checkpoints.LAST)["history"]["epochs"]) == 1

    resumed = run_cli("train", root, "--epochs", "3", "--resume", run.run_id, *TRAIN)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run = _only_run(root)
    assert run.status is RunStatus.FINISHED and run.epochs == 3


def test_sigterm_stops_a_run_like_stop(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=12, labelled=12)
    stopped = run_cli("train", root, "--epochs", "3", *TRAIN,
                      WORKBENCH_FAULT="train.epoch_saved=term@1")
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr and "stopped (SIGTERM)" in stopped.stderr
    run = _only_run(root)
    assert run.status is RunStatus.CANCELLED and run.epochs == 1
    resumed = run_cli("train", root, "--epochs", "3", "--resume", run.run_id, *TRAIN)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _only_run(root).status is RunStatus.FINISHED


def test_a_killed_refit_leaves_the_parent_as_the_model_and_the_queue_pending(
        tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=12, labelled=12)
    assert run_cli("train", root, "--epochs", "1", *TRAIN).returncode == 0
    parent = _only_run(root).run_id
    assert run_cli("queue", root, "add", "img0.png").returncode == 0
    killed = run_cli("refit", root, "--epochs", "2", "--lr", "1e-4", "--device", "cpu",
                     WORKBENCH_FAULT="train.epoch_saved=kill@1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with Project.open(root) as project:
        refit = next(r for r in project.db.list_runs() if r.run_id != parent)
        assert refit.status is RunStatus.INTERRUPTED and refit.parent == parent
        assert current_model(project).run_id == parent
        assert [i.image for i in project.queue.pending()] == ["img0.png"]
