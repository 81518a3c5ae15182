"""One decision threshold per multi-label run: the validation captions, the tag panel's
"Use predicted tags" and F2 agree on which tags are predicted at the run's stored threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.app import create_main_window
from workbench.core.runs import predicted_tags
from workbench.training import checkpoints
from workbench.training.config import TrainConfig
from workbench.training.device import resolve_device
from workbench.training.metrics import MultilabelMetrics, fbeta_per_sample
from workbench.training.predict import predict_paths, predict_project
from workbench.training.runs import open_run
from workbench.training.session import train
from workbench.training.visualize import prediction_cells

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _caption_tags(caption: str) -> list[str]:
    pred = caption.split("pred: ", 1)[1]
    return [] if pred == "(no tags)" else pred.split()


def test_captions_tag_predictions_and_f2_agree_at_the_stored_threshold(qtbot, tag_project):
    learner = train(tag_project, TrainConfig(arch="resnet18", size=32, bs=4, epochs=3, lr=3e-3,
                                             pretrained=None, device="cpu", seed=0))
    run = tag_project.db.get_run(learner.run_id)
    threshold = learner.recorder.epochs[-1]["best_thresh"]
    assert run.threshold == pytest.approx(threshold)  # chosen on validation, stored
    ckpt = checkpoints.load(run.model_path(tag_project.root))
    assert ckpt["threshold"] == pytest.approx(threshold) and ckpt["optimizer"] is None
    opened = open_run(tag_project)
    assert opened.run_id == run.run_id and opened.threshold == pytest.approx(threshold)

    valid = tag_project.split()[1]
    classes = tag_project.classes
    probs = np.stack(predict_paths(opened.model(), [tag_project.image_path(n) for n in valid],
                                   opened.task, opened.size, resolve_device("cpu")))
    decided = [[c for c, on in zip(classes, row, strict=True) if on]
               for row in predicted_tags(probs, opened.threshold)]
    # The probabilities sit on both sides of the threshold, or the test would prove nothing.
    assert 0 < predicted_tags(probs, opened.threshold).sum() < probs.size

    cells = prediction_cells([np.zeros((4, 4, 3), np.uint8)] * len(valid),
                             [tag_project.tags(n) for n in valid], list(probs), valid,
                             "multilabel", classes, [], opened.threshold)
    assert [_caption_tags(caption) for _, caption in cells] == decided

    predict_project(tag_project, run.run_id, valid, device="cpu")
    window = create_main_window(tag_project)
    qtbot.addWidget(window)
    tags = window.loop.tag_predictions
    for name, expected in zip(valid, decided, strict=True):
        tags.refresh(name)
        assert tags.run_id == run.run_id and tags.threshold() == pytest.approx(threshold)
        assert tags.predicted() == expected, name
        assert f"≥ {threshold:.2f}" in tags.button.toolTip()

    targets = np.array([[c in tag_project.tags(n) for c in classes] for n in valid], np.float32)
    metric = MultilabelMetrics(classes, thresh=opened.threshold)
    metric.reset()
    metric.accumulate(torch.logit(torch.from_numpy(probs).double().clamp(1e-7, 1 - 1e-7)),
                      torch.from_numpy(targets))
    by_hand = fbeta_per_sample(
        np.array([[c in d for c in classes] for d in decided], np.float32), targets, 0.5).mean()
    assert metric.value()["f2"] == pytest.approx(by_hand, abs=1e-6)
