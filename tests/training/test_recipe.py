"""The one recipe planner (GUI and CLI), engine notices and refusing an empty plan."""

from __future__ import annotations

import io

import pytest
import torch

from workbench.cli import main
from workbench.core.project import Project
from workbench.training import checkpoints
from workbench.training.config import TrainConfig
from workbench.training.errors import TrainingError
from workbench.training.progress import ConsoleProgress, JsonlLogger
from workbench.training.recipe import needs_lr, plan_stages, with_found_lr
from workbench.training.reports import Notice
from workbench.training.session import train


def test_random_init_is_never_frozen() -> None:
    for cfg in (TrainConfig(epochs=2), TrainConfig(epochs=2, freeze_epochs=1),
                TrainConfig(epochs=1, freeze_epochs=2, resize=[64, 128], lr=1e-3)):
        assert not any(s.frozen for s in plan_stages(cfg, pretrained_loaded=False))
    assert [s.frozen for s in plan_stages(TrainConfig(epochs=2, freeze_epochs=1), True)] == [
        True, False]


def test_rates_follow_max_lr_or_the_lr_finder() -> None:
    given = plan_stages(TrainConfig(epochs=2, freeze_epochs=1, lr=1e-3), True)
    assert given[0].lr == 1e-3 and given[0].spread is None
    assert given[1].lr == pytest.approx(2e-4) and given[1].spread == 100  # slice(lr/500, lr/5)
    explicit = plan_stages(TrainConfig(epochs=2, freeze_epochs=1, lrs=(1e-6, 1e-4)), True)
    assert explicit[1].lrs == (1e-6, 1e-4)
    one = plan_stages(TrainConfig(epochs=2, lr=3e-3, unfreeze=True), True)
    assert [(s.frozen, s.lr, s.spread) for s in one] == [(False, 3e-3, None)]


@pytest.mark.parametrize("loaded", [True, False])
def test_one_found_rate_plans_the_run_as_a_typed_max_lr_would(loaded: bool) -> None:
    # The LR finder runs once, for stage 1; the later stages get what the same max LR typed
    # into the field would give them: a fifth of it for the head, spread down a hundredth.
    settings = {"epochs": 2, "freeze_epochs": 1, "resize": [64, 96]}
    auto = plan_stages(TrainConfig(**settings), loaded)
    assert [needs_lr(s) for s in auto] == [True, True, True]
    found = with_found_lr(auto, 0, 3e-3)
    typed = plan_stages(TrainConfig(lr=3e-3, **settings), loaded)
    assert [(s.spread, s.frozen, s.size) for s in found] == [
        (s.spread, s.frozen, s.size) for s in typed]
    assert [s.lr for s in found] == pytest.approx([s.lr for s in typed])
    assert found[1].lr == pytest.approx(6e-4) and not any(needs_lr(s) for s in found)
    # Asked to sweep before each stage: only the swept stage gets the rate.
    each = with_found_lr(auto, 0, 3e-3, each_stage=True)
    assert each[0].lr == 3e-3 and [needs_lr(s) for s in each] == [False, True, True]
    # Stage 2 alone swept on the unfrozen model: its valley is the head's rate, and a stage
    # after it (the larger size) keeps it, as it would with max LR = 5 x valley.
    alone = plan_stages(TrainConfig(only_stage=None, epochs=2, resize=[64, 96]), loaded)
    later = with_found_lr(alone, 0, 1e-3)
    assert later[0].lr == 1e-3 and later[1].lr == pytest.approx(1e-3 / 5)
    explicit = plan_stages(TrainConfig(lrs=(1e-6, 1e-4), **settings), loaded)
    assert with_found_lr(explicit, 0, 2e-3)[1].lrs == (1e-6, 1e-4)  # explicit rates stay


def test_only_stage_and_resize_epochs() -> None:
    cfg = TrainConfig(epochs=2, freeze_epochs=3, resize=[64, 96, 128], resize_epochs=1)
    plan = plan_stages(cfg, True)
    assert [(s.name, s.epochs, s.size) for s in plan] == [
        ("frozen", 3, 64), ("unfrozen", 2, 64), ("96px", 1, 96), ("128px", 1, 128)]
    cfg.only_stage = "resize"
    assert [s.size for s in plan_stages(cfg, True)] == [96, 128]
    cfg.only_stage = "bogus"
    with pytest.raises(ValueError, match="bogus"):
        plan_stages(cfg, True)


def test_notices_reach_the_console_and_jsonl() -> None:
    out, log = io.StringIO(), io.StringIO()
    notice = Notice("few_iterations", "warning", "Trained 1 iteration in all: label more")
    ConsoleProgress(out)(notice)
    ConsoleProgress(out)(Notice("device", "info", "Training on the CPU: no GPU."))
    JsonlLogger(log)(notice)
    assert out.getvalue().splitlines() == [
        "warning: Trained 1 iteration in all: label more", "note: Training on the CPU: no GPU."]
    assert '"type": "notice"' in log.getvalue() and '"kind": "few_iterations"' in log.getvalue()


def test_epochs_zero_is_refused_and_records_nothing(seg_project, capsys) -> None:
    with pytest.raises(TrainingError, match="Nothing to train"):
        train(seg_project, TrainConfig(epochs=0, pretrained=None))
    assert seg_project.db.list_runs() == []
    root = seg_project.root
    seg_project.close()
    with pytest.raises(SystemExit) as exc:
        main(["train", str(root), "--epochs", "0"])
    assert exc.value.code == 2
    assert "--epochs: must be at least 1, got 0: nothing would be trained" in (
        capsys.readouterr().err)
    with Project.open(root, readonly=True) as project:
        assert project.db.list_runs() == []


def test_random_init_run_says_what_the_engine_chose(seg_project, tmp_path, monkeypatch,
                                                   capsys) -> None:
    """4 images' worth of the issue's run: no ImageNet weights (empty hub cache), a batch
    larger than the training set, two iterations. The CLI prints each adjustment, nothing is
    frozen, and the checkpoint says so."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty-hub"))
    saved: list[tuple[str, bool]] = []  # (stage, frozen) of every checkpoint written
    original = checkpoints.save

    def spy(learn, path, **kwargs):
        if kwargs.get("optimizer", True):  # an epoch's checkpoint, not the finished run's
            saved.append((learn.state.stage, learn.state.schedule["frozen"]))
        return original(learn, path, **kwargs)

    monkeypatch.setattr(checkpoints, "save", spy)
    root = seg_project.root
    seg_project.close()
    rc = main(["train", str(root), "--freeze-epochs", "1", "--epochs", "1", "--bs", "64",
               "--size", "32", "--arch", "resnet18", "--lr", "1e-3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "warning: No ImageNet weights for resnet18 were found" in out
    assert "workbench weights download resnet18" in out
    assert "warning: Batch size 64 was cut to 9: there are only 9 training images." in out
    assert "warning: Trained 2 iterations in all: label more images or lower the batch size" in out
    if not torch.cuda.is_available():
        assert "note: Training on the CPU:" in out
    assert saved == [("random init", False), ("unfrozen", False)]
    with Project.open(root, readonly=True) as project:
        run = project.db.list_runs()[0]
        ckpt = checkpoints.load(root / "models" / run.run_id / checkpoints.LAST)
    assert ckpt["schedule"]["frozen"] is False and ckpt["config"]["pretrained"] == "auto"
    assert ckpt["config"]["extra"]["pretrained_file"] is None
