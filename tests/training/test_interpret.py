"""Top losses: ranking by a loss known in closed form, Dice, wrong tags, cache, grid, overlay."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from workbench.training.interpret import (
    error_overlay,
    interpret_run,
    load_interpretation,
    render_grid,
    score_images,
)
from workbench.training.predict import run_dir
from workbench.training.session import train


class ConstantLogits(nn.Module):
    """Every pixel (or image) gets the same logits, so each image's loss has a closed form."""

    def __init__(self, logits: list[float], spatial: bool) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits))
        self.spatial = spatial

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if self.spatial:
            return self.logits.view(1, -1, 1, 1).expand(n, -1, *x.shape[2:]).clone()
        return self.logits.expand(n, -1).clone()


def test_segmentation_ranked_by_known_loss_and_dice(seg_project) -> None:
    names = seg_project.split()[1]
    b = 2.0  # logit of "shape" over "background" everywhere: every pixel predicted as shape
    interp, preds = score_images(
        ConstantLogits([0.0, b], spatial=True), seg_project, names, task="segmentation",
        classes=seg_project.classes, size=32, device=torch.device("cpu"), bs=2)
    p1 = 1 / (1 + math.exp(-b))
    expected = {}
    for n in names:
        mask = seg_project.read_mask(n)
        n1, total = int((mask == 1).sum()), mask.size
        loss = ((total - n1) * -math.log(1 - p1) + n1 * -math.log(p1)) / total
        dice = (0.0 + 2 * n1 / (n1 + total)) / 2  # background Dice 0, shape 2TP/(2TP+FP)
        expected[n] = (loss, dice)
    ranked = sorted(names, key=lambda n: -expected[n][0])
    assert [i.image for i in interp.items] == ranked
    for item in interp.items:
        assert item.loss == pytest.approx(expected[item.image][0], rel=1e-4)
        assert item.dice == pytest.approx(expected[item.image][1], rel=1e-6)
    assert all((p == 1).all() for p in preds)
    # Every background pixel was called "shape": that is the one confused pair.
    n0 = sum(int((seg_project.read_mask(n) == 0).sum()) for n in names)
    assert interp.most_confused == [{"actual": "background", "predicted": "shape", "pixels": n0}]
    js = interp.to_json(top=2)
    assert set(js) == {"run", "items", "most_confused"} and len(js["items"]) == 2
    assert set(js["items"][0]) == {"image", "loss", "dice"}


def test_multilabel_missed_extra_and_loss(tag_project) -> None:
    names = tag_project.split()[1]
    logits = [3.0, -3.0, 0.0]  # red 0.95, green 0.05, blue 0.5: red and blue called at 0.2
    interp, _ = score_images(
        ConstantLogits(logits, spatial=False), tag_project, names, task="multilabel",
        classes=tag_project.classes, size=32, device=torch.device("cpu"), threshold=0.2)
    probs = 1 / (1 + np.exp(-np.asarray(logits)))
    for item in interp.items:
        truth = np.array([t in tag_project.tags(item.image) for t in tag_project.classes], float)
        loss = float(np.mean(-(truth * np.log(probs) + (1 - truth) * np.log(1 - probs))))
        assert item.loss == pytest.approx(loss, rel=1e-5)
        assert item.missed == (["green"] if truth[1] else [])
        assert item.extra == [t for t, k in (("red", 0), ("blue", 2)) if not truth[k]]
        assert item.probs["blue"] == pytest.approx(0.5)
    losses = [i.loss for i in interp.items]
    assert losses == sorted(losses, reverse=True)
    green_truth = sum("green" in tag_project.tags(n) for n in names)
    green = next(r for r in interp.most_confused if r["tag"] == "green")
    assert green == {"tag": "green", "missed": green_truth, "extra": 0}
    assert set(interp.to_json()["items"][0]) == {"image", "loss", "missed", "extra", "probs"}


def test_interpret_run_caches_writes_predictions_and_grid(seg_project, config_factory,
                                                          tmp_path) -> None:
    learner = train(seg_project, config_factory(epochs=1))
    progress: list[tuple[int, int]] = []
    interp = interpret_run(seg_project, batch_size=2, progress=lambda d, t: progress.append((d, t)))
    valid = seg_project.split()[1]
    assert interp.run == learner.run_id and sorted(i.image for i in interp.items) == sorted(valid)
    assert progress[-1] == (len(valid), len(valid))
    for name in valid:  # where predict_project writes, so "From prediction" finds them
        assert (seg_project.predictions_dir / learner.run_id / name).is_file()
    cached = load_interpretation(seg_project, learner.run_id)
    assert cached is not None and cached.to_json() == interp.to_json()
    assert (run_dir(seg_project, learner.run_id) / "interpretation.json").is_file()
    assert load_interpretation(seg_project, "no-such-run") is None
    png = render_grid(seg_project, interp, 2, tmp_path / "grid.png")
    with Image.open(png) as im:
        assert im.width > 3 * 160 and im.height > 2 * 160  # 2 rows of label|prediction|errors


def test_interpret_stops_when_asked(seg_project, config_factory) -> None:
    from workbench.training.errors import TrainingCancelled

    train(seg_project, config_factory(epochs=1))
    with pytest.raises(TrainingCancelled):
        interpret_run(seg_project, batch_size=1, should_stop=lambda: True)


def test_error_overlay_marks_only_wrong_labelled_pixels() -> None:
    img = np.full((4, 4, 3), 100, np.uint8)
    label = np.array([[0, 1, 255, 1]] * 4, np.uint8)
    pred = np.array([[0, 0, 0, 1]] * 4, np.uint8)
    out = error_overlay(img, label, pred)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert (out[:, 0] == 100).all() and (out[:, 3] == 100).all()
    assert (out[:, 2] == 100).all()  # unlabelled (255) is never an error
    assert (out[:, 1, 0] > 150).all() and (out[:, 1, 1] < 100).all()
