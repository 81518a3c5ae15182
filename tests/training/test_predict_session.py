"""Prediction output, the multi-stage recipe, run history and report messages."""

import csv
import sys

import numpy as np
import pytest
from PIL import Image

from workbench.core.imageio import read_mask
from workbench.core.runs import NoModelError, RunStatus
from workbench.training.config import TrainConfig
from workbench.training.predict import predict_project
from workbench.training.reports import FitEnded, FitStarted, Notice, ReportCallback
from workbench.training.session import (
    Stage,
    build_learner,
    describe_devices,
    run_stages,
    stages_from_config,
    train,
)


def test_predict_segmentation_masks_at_original_size(make_learner, seg_project, tmp_path) -> None:
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((75, 130, 3), np.uint8)).save(big)
    seg_project.add_images([big])
    learn = make_learner()
    learn.fit_one_cycle(1, 1e-3)
    out = predict_project(seg_project, images="unlabelled")
    assert out == seg_project.root / "predictions" / learn.run_id
    assert sorted(p.name for p in out.iterdir()) == ["big.png"]
    mask = read_mask(out / "big.png")
    assert mask.shape == (75, 130) and mask.max() <= 1
    masks = learn.predict(["img_00.png", "big.png"])
    assert masks[0].shape == (48, 48) and masks[1].shape == (75, 130)


def test_predict_multilabel_csv(make_learner, tag_project, tmp_path) -> None:
    learn = make_learner("multilabel")
    learn.fit_one_cycle(1, 1e-3)
    out = predict_project(tag_project, learn.run_id, images="valid", out_dir=tmp_path / "p")
    with open(out / "predictions.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["image_name", "red", "green", "blue"]
    assert len(rows) - 1 == len(tag_project.split()[1])
    assert all(0 <= float(v) <= 1 for r in rows[1:] for v in r[1:])
    assert rows[1][0] == tag_project.split()[1][0].rsplit(".", 1)[0]


def test_predict_without_runs_is_a_clear_error(seg_project) -> None:
    with pytest.raises(NoModelError, match="no trained model"):
        predict_project(seg_project)


def test_stages_from_config() -> None:
    cfg = TrainConfig(epochs=3, freeze_epochs=1, resize=[64, 128], lr=1e-3)
    st = stages_from_config(cfg, True)
    assert [(s.name, s.epochs, s.frozen, s.size) for s in st] == [
        ("frozen", 1, True, 64), ("unfrozen", 3, False, 64), ("128px", 3, False, 128)]
    assert st[0].lr == 1e-3 and st[1].lr == pytest.approx(2e-4) and st[1].spread == 100
    # Random init: nothing is ever frozen, the epochs stay.
    st = stages_from_config(cfg, False)
    assert [(s.name, s.epochs, s.frozen) for s in st] == [
        ("random init", 1, False), ("unfrozen", 3, False), ("128px", 3, False)]
    # No max LR: every stage takes the LR finder's value (no fixed fallback anywhere).
    auto = stages_from_config(TrainConfig(epochs=2, freeze_epochs=1, resize=[64, 96]), True)
    assert [s.lr for s in auto] == [None, None, None] and [s.lrs for s in auto] == [None] * 3
    assert [s.frozen for s in stages_from_config(TrainConfig(epochs=2), True)] == [True]
    assert [s.frozen for s in stages_from_config(TrainConfig(epochs=2), False)] == [False]
    assert [s.frozen for s in stages_from_config(TrainConfig(epochs=2, unfreeze=True), True)] == [
        False]


def test_run_stages_resizes_freezes_and_finds_lr(seg_project, config_factory) -> None:
    messages: list[object] = []
    # A short sweep keeps the test fast.
    learn = build_learner(seg_project, config_factory(lr_find_iters=16),
                          [ReportCallback(messages.append)])
    seen = []
    original = learn.fit_one_cycle

    def spy(epochs, lr_max, **kw):
        seen.append((learn.frozen, learn.data.size, lr_max))
        original(epochs, lr_max, **kw)

    learn.fit_one_cycle = spy
    run_stages(learn, [Stage("head", 1, lr=1e-3, frozen=True),
                       Stage("all", 1, lrs=(1e-5, 1e-3), size=40),
                       Stage("auto", 1, size=40, spread=100)])
    assert [s[:2] for s in seen] == [(True, 32), (False, 40), (False, 40)]
    assert seen[1][2] == pytest.approx([1e-5, 1e-4, 1e-3])
    # From the LR finder, spread down to a hundredth for the first layer group.
    finder = seen[2][2]
    assert len(finder) == 3 and finder[-1] > 0
    assert finder[-1] / finder[0] == pytest.approx(100)
    starts = [m for m in messages if isinstance(m, FitStarted)]
    assert [m.stage for m in starts] == ["head", "all", "auto"]
    assert all(m.run_id == learn.run_id for m in starts)
    assert len(learn.recorder.epochs) == 3


def test_run_history_in_project_db(seg_project, config_factory) -> None:
    learn = train(seg_project, config_factory(epochs=2))
    run = seg_project.db.get_run(learn.run_id)
    assert run.status is RunStatus.FINISHED and run.epochs == 2
    assert run.metric_name == "dice_mean"
    assert run.best_metric == pytest.approx(learn.recorder.best_metric)
    assert run.config["arch"] == "resnet18"
    assert len(run.history["epochs"]) == 2
    assert run.threshold is None  # segmentation runs choose no tag threshold
    assert (seg_project.root / "models" / learn.run_id / "last.pt").is_file()


def test_report_messages_are_plain_and_ordered(make_learner) -> None:
    messages: list[object] = []
    learn = make_learner(callbacks=[ReportCallback(messages.append)])
    learn.fit_one_cycle(1, 1e-3)
    # Setup notices (e.g. "training on the CPU") come before the fit's messages, once.
    notices = [m for m in messages if isinstance(m, Notice)]
    assert notices == learn.notices and messages[:len(notices)] == notices
    messages = messages[len(notices):]
    kinds = [type(m).__name__ for m in messages]
    assert kinds[0] == "FitStarted" and kinds[-2:] == ["EpochEnd", "FitEnded"]
    start, end = messages[0], messages[-1]
    assert start.total_iters == start.epochs * start.batches_per_epoch == kinds.count("BatchEnd")
    assert "dice_mean" in start.metric_names
    assert isinstance(end, FitEnded) and not end.cancelled and end.best_metric is not None


def test_describe_devices_lists_cpu_with_a_reason() -> None:
    devices = describe_devices()
    assert devices[0]["id"] == "cpu"
    import torch

    if not torch.cuda.is_available():
        assert "cuda_unavailable" in devices[0]


def test_training_never_imports_qt() -> None:
    import subprocess

    code = ("import sys, workbench.training.session, workbench.training.export, "
            "workbench.training.visualize, workbench.cli.train_cmds; "
            "bad = [m for m in ('PySide6', 'pyqtgraph', 'shiboken6') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
