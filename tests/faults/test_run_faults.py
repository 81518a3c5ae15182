"""Model outputs under faults: predictions appear complete or not at all, and a read-only
project is predicted with one clear line (not a traceback)."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.cli import main
from workbench.core.faultpoints import ENV
from workbench.core.project import Project
from workbench.training.config import TrainConfig
from workbench.training.session import train

from .helpers import kill_after_calls, read_only, seg_project, spawn

IMAGES = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A project with one tiny trained run (trained once per module); tests use copies."""
    root = seg_project(tmp_path_factory.mktemp("trained") / "p", n=IMAGES, labelled=IMAGES)
    with Project.open(root) as project:
        config = TrainConfig(arch="resnet18", size=32, bs=4, epochs=1, lr=1e-3, pretrained=None,
                             seed=0)
        run_id = train(project, config).run_id
    yield root, run_id


def _copy(trained: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    root, run_id = trained
    shutil.copytree(root, tmp_path / "p")
    return tmp_path / "p", run_id


_REFIT = """
import sys
from workbench.core.project import Project
from workbench.training.refit import RefitSettings, refit
with Project.open(sys.argv[1]) as project:
    for name in ("img0.png", "img1.png"):
        project.queue.add(name, reason="test")
    refit(project, sys.argv[2], RefitSettings(epochs=1, device="cpu"))
"""


def test_kill_during_the_refits_predictions_leaves_no_half_written_folder(
        trained: tuple[Path, str], tmp_path: Path) -> None:
    root, parent = _copy(trained, tmp_path)
    # kill -9 right after the third of the twelve prediction masks is written.
    child = spawn(kill_after_calls("workbench.training.predict", "write_mask", 3) + _REFIT,
                  root, parent)
    _, err = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, err
    with Project.open(root) as project:  # the next writable open cleans up
        runs = [r.run_id for r in project.db.list_runs() if r.run_id != parent]
        assert len(runs) == 1
        refit_run = runs[0]
        visible = project.predictions_dir / refit_run
        assert not visible.exists() or len(list(visible.glob("*.png"))) == IMAGES
        assert [p.name for p in project.predictions_dir.iterdir()
                if p.name.startswith(".")] == [], "a killed writer's staging folder is left"
        # The uncertainty scores are not claimed by the run that never finished scoring.
        assert project.db.uncertainty_run() != refit_run


def test_predict_on_a_read_only_project_is_one_line(trained: tuple[Path, str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root, run_id = _copy(trained, tmp_path)
    out = tmp_path / "elsewhere"
    elsewhere = ["predict", str(root), "--run", run_id, "--device", "cpu", "--out", str(out)]
    with read_only(root, monkeypatch) as injected:
        assert main(["predict", str(root), "--run", run_id, "--device", "cpu"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "read-only" in err[0] and "--out" in err[0], err
        if not injected:  # a real read-only project: its predictions can go elsewhere
            assert main(elsewhere) == 0
    if injected:  # injected EROFS fails every write, so only once it is lifted
        assert main(elsewhere) == 0
    assert len(list(out.glob("*.png"))) == IMAGES


_REWRITE = """
import sys
from pathlib import Path
import numpy as np
from workbench.training.predict import write_predictions
out = Path(sys.argv[1])
names = [f"img{i}.png" for i in range(4)]
for value in (0, 1):
    write_predictions(out, names, [np.full((32, 32), value, np.uint8)] * 4, "segmentation",
                      ["bg", "fg"])
    print("written", value, flush=True)
"""


def test_kill_between_the_two_renames_of_a_swap_puts_the_old_predictions_back(
        tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p")
    out = root / "predictions" / "run-a"
    # Named fault point, second swap: SIGKILL after the complete first folder was moved aside,
    # before the second one moved in.
    child = spawn(_REWRITE, out, **{ENV: "atomic.between_renames=kill@2"})
    stdout, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL and stdout.split() == ["written", "0"], err
    assert not out.exists()
    with Project.open(root):  # a writable open puts the complete first folder back
        assert sorted(p.name for p in out.iterdir()) == [f"img{i}.png" for i in range(4)]
        assert all((np.asarray(Image.open(p)) == 0).all() for p in out.iterdir())
        assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
