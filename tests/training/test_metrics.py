"""Our metrics against scikit-learn on random inputs."""

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, fbeta_score, jaccard_score

from workbench.training.metrics import (
    MultilabelMetrics,
    SegmentationMetrics,
    accuracy_thresh,
    best_threshold,
    fbeta_samples,
)


def test_segmentation_metrics_match_sklearn_ignoring_255() -> None:
    rng = np.random.default_rng(0)
    classes = ["bg", "a", "b"]
    logits = torch.from_numpy(rng.normal(size=(6, 3, 17, 19))).float()
    targ = torch.from_numpy(rng.integers(0, 3, (6, 17, 19)))
    targ[torch.from_numpy(rng.random((6, 17, 19)) < 0.2)] = 255
    m = SegmentationMetrics(classes)
    m.reset()
    for i in range(0, 6, 2):  # accumulate over batches
        m.accumulate(logits[i:i + 2], targ[i:i + 2])
    v = m.value()
    pred = logits.argmax(1).numpy().ravel()
    t = targ.numpy().ravel()
    keep = t != 255
    pred, t = pred[keep], t[keep]
    dice = f1_score(t, pred, average=None, labels=[0, 1, 2])
    iou = jaccard_score(t, pred, average=None, labels=[0, 1, 2])
    assert v["pixel_acc"] == pytest.approx(accuracy_score(t, pred))
    for k, c in enumerate(classes):
        assert v[f"dice_{c}"] == pytest.approx(dice[k])
        assert v[f"iou_{c}"] == pytest.approx(iou[k])
    assert v["dice_mean"] == pytest.approx(dice.mean())
    assert v["iou_mean"] == pytest.approx(iou.mean())


def test_absent_class_is_nan_and_left_out_of_the_mean() -> None:
    m = SegmentationMetrics(["bg", "fg", "never"])
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1, 0, 0] = 5  # predict fg at one pixel, bg elsewhere
    targ = torch.tensor([[[1, 0], [0, 0]]])
    m.accumulate(logits, targ)
    v = m.value()
    assert np.isnan(v["dice_never"])
    assert v["dice_mean"] == pytest.approx(1.0)


@pytest.mark.parametrize("thresh", [0.2, 0.5])
def test_multilabel_metrics_match_sklearn(thresh: float) -> None:
    rng = np.random.default_rng(1)
    probs = rng.random((50, 7))
    targ = (rng.random((50, 7)) < 0.3).astype(np.float32)
    targ[targ.sum(1) == 0, 0] = 1  # every sample has a tag
    pred = probs > thresh
    assert fbeta_samples(probs, targ, thresh, 2.0) == pytest.approx(
        fbeta_score(targ, pred, beta=2, average="samples", zero_division=0))
    assert accuracy_thresh(probs, targ, thresh) == pytest.approx(
        accuracy_score(targ.ravel(), pred.ravel()))


def test_threshold_sweep_finds_the_best_threshold() -> None:
    rng = np.random.default_rng(2)
    probs = rng.random((40, 5))
    targ = (rng.random((40, 5)) < 0.4).astype(np.float32)
    thr, best = best_threshold(probs, targ)
    scores = {t: fbeta_score(targ, probs > t, beta=2, average="samples", zero_division=0)
              for t in np.round(np.arange(0.05, 1.0, 0.05), 2)}
    assert best == pytest.approx(max(scores.values()))
    assert scores[round(thr, 2)] == pytest.approx(best)


def test_multilabel_metric_object_uses_logits() -> None:
    rng = np.random.default_rng(3)
    logits = torch.from_numpy(rng.normal(size=(20, 4))).float()
    targ = torch.from_numpy((rng.random((20, 4)) < 0.5).astype(np.float32))
    m = MultilabelMetrics(["a", "b", "c", "d"])
    m.accumulate(logits[:10], targ[:10])
    m.accumulate(logits[10:], targ[10:])
    v = m.value()
    probs = torch.sigmoid(logits).numpy()
    assert v["f2"] == pytest.approx(fbeta_samples(probs, targ.numpy(), 0.2))
    assert v["accuracy_thresh"] == pytest.approx(accuracy_thresh(probs, targ.numpy(), 0.2))
    assert set(v) == {"f2", "accuracy_thresh", "best_thresh", "f2_best"}
