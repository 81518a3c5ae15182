"""Validation metrics, accumulated over the whole validation set then computed once.

Segmentation metrics come from one confusion matrix (pixels labelled 255 are ignored), so the
per-class Dice/IoU are exact over the set rather than an average of per-batch values. Multilabel
metrics keep every probability (the validation set is small) so a threshold sweep is possible.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from workbench.core.runs import DEFAULT_THRESHOLD, predicted_tags

IGNORE_INDEX = 255
DEFAULT_THRESH = DEFAULT_THRESHOLD  # the decision threshold before a run has chosen its own
SWEEP_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def confusion_matrix(
    pred: torch.Tensor, targ: torch.Tensor, n_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """``cm[t, p]`` = number of pixels of true class t predicted as p (int64, on pred's device)."""
    pred = pred.reshape(-1).long()
    targ = targ.reshape(-1).long()
    keep = targ != ignore_index
    pred, targ = pred[keep], targ[keep]
    counts = torch.bincount(targ * n_classes + pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def dice_per_class(cm: np.ndarray) -> np.ndarray:
    """2TP / (2TP + FP + FN) per class; NaN for a class absent from both truth and prediction."""
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    return _safe_ratio(2 * tp, 2 * tp + fp + fn)


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """TP / (TP + FP + FN) per class (Jaccard); NaN when the class appears nowhere."""
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    return _safe_ratio(tp, tp + fp + fn)


def pixel_accuracy(cm: np.ndarray) -> float:
    total = cm.sum()
    return float(np.trace(cm) / total) if total else math.nan


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


def fbeta_per_sample(
    probs: np.ndarray, targ: np.ndarray, thresh: float | np.ndarray, beta: float = 2.0
) -> np.ndarray:
    """F-beta of each sample (row). ``thresh`` may be an array of T thresholds -> shape (T, N).

    A sample with no true positive scores 0 (as scikit-learn with ``zero_division=0``).
    """
    thr = np.asarray(thresh, dtype=np.float64)
    pred = predicted_tags(probs[None, ...], thr.reshape(-1, 1, 1))
    t = targ.astype(bool)[None, ...]
    tp = (pred & t).sum(-1).astype(np.float64)
    fp = (pred & ~t).sum(-1)
    fn = (~pred & t).sum(-1)
    b2 = beta * beta
    den = (1 + b2) * tp + b2 * fn + fp
    out = np.zeros_like(tp)
    np.divide((1 + b2) * tp, den, out=out, where=den > 0)
    return out if thr.ndim else out[0]


def fbeta_samples(
    probs: np.ndarray, targ: np.ndarray, thresh: float = DEFAULT_THRESH, beta: float = 2.0
) -> float:
    """F-beta averaged over samples (the Planet competition's score with beta 2)."""
    return float(fbeta_per_sample(probs, targ, thresh, beta).mean())


def accuracy_thresh(probs: np.ndarray, targ: np.ndarray, thresh: float = DEFAULT_THRESH) -> float:
    """Fraction of (sample, tag) cells where the decision (``prob >= thresh``) equals the truth."""
    return float((predicted_tags(probs, thresh) == targ.astype(bool)).mean())


def best_threshold(
    probs: np.ndarray,
    targ: np.ndarray,
    beta: float = 2.0,
    thresholds: Sequence[float] = SWEEP_THRESHOLDS,
) -> tuple[float, float]:
    """(threshold, F-beta) maximising sample-averaged F-beta; ties go to the lowest threshold."""
    scores = fbeta_per_sample(probs, targ, np.asarray(thresholds), beta).mean(axis=1)
    i = int(np.argmax(scores))
    return float(thresholds[i]), float(scores[i])


class Metric(ABC):
    """Accumulates over validation batches; ``value()`` gives named floats for the epoch row."""

    names: list[str]

    @abstractmethod
    def reset(self) -> None:
        """Forget everything accumulated (called before each validation pass)."""

    @abstractmethod
    def accumulate(self, pred: torch.Tensor, targ: torch.Tensor) -> None:
        """Add one batch of model outputs (logits) and targets."""

    @abstractmethod
    def value(self) -> dict[str, float]:
        """Named values over everything accumulated since ``reset``."""

    @property
    def main(self) -> str:
        """Name of the value used to pick the best epoch (higher is better)."""
        return self.names[0]

    @abstractmethod
    def gather(self, all_gather: Callable[[Any], list[Any]]) -> None:
        """Replace what this process accumulated by what every process accumulated
        (distributed validation: each rank saw a shard). ``all_gather(obj)`` returns every
        rank's ``obj``; all ranks must call this together."""


class SegmentationMetrics(Metric):
    """Pixel accuracy, mean and per-class Dice and IoU from logits (B, C, H, W)."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)
        n = len(self.classes)
        self.names = ["dice_mean", "iou_mean", "pixel_acc"]
        self.names += [f"dice_{c}" for c in self.classes] + [f"iou_{c}" for c in self.classes]
        self._cm = np.zeros((n, n), dtype=np.int64)
        self._pending: list[torch.Tensor] = []

    def reset(self) -> None:
        self._cm[:] = 0
        self._pending = []

    def accumulate(self, pred: torch.Tensor, targ: torch.Tensor) -> None:
        # Stay on the device; one transfer per epoch instead of one sync per batch.
        self._pending.append(confusion_matrix(pred.argmax(1), targ, len(self.classes)))

    def confusion(self) -> np.ndarray:
        if self._pending:
            self._cm += torch.stack(self._pending).sum(0).cpu().numpy()
            self._pending = []
        return self._cm.copy()

    def gather(self, all_gather: Callable[[Any], list[Any]]) -> None:
        self._cm = np.sum(all_gather(self.confusion()), axis=0).astype(np.int64)

    def value(self) -> dict[str, float]:
        cm = self.confusion()
        dice, iou = dice_per_class(cm), iou_per_class(cm)
        out = {"dice_mean": _nanmean(dice), "iou_mean": _nanmean(iou), "pixel_acc": pixel_accuracy(cm)}
        out.update({f"dice_{c}": float(v) for c, v in zip(self.classes, dice, strict=True)})
        out.update({f"iou_{c}": float(v) for c, v in zip(self.classes, iou, strict=True)})
        return out


class MultilabelMetrics(Metric):
    """F2 (samples), accuracy_thresh at ``thresh`` and the best threshold on this set."""

    def __init__(self, classes: Sequence[str], thresh: float = DEFAULT_THRESH, beta: float = 2.0):
        self.classes = list(classes)
        self.thresh = thresh
        self.beta = beta
        tag = f"f{beta:g}"
        self.names = [tag, "accuracy_thresh", "best_thresh", f"{tag}_best"]
        self._probs: list[torch.Tensor] = []
        self._targs: list[torch.Tensor] = []

    def reset(self) -> None:
        self._probs, self._targs = [], []

    def accumulate(self, pred: torch.Tensor, targ: torch.Tensor) -> None:
        self._probs.append(torch.sigmoid(pred.float()).detach())
        self._targs.append(targ.detach())

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        probs = torch.cat(self._probs).cpu().numpy()
        targs = torch.cat(self._targs).cpu().numpy()
        return probs, targs

    def gather(self, all_gather: Callable[[Any], list[Any]]) -> None:
        parts = all_gather(self.arrays() if self._probs else None)
        parts = [p for p in parts if p is not None]
        self._probs = [torch.from_numpy(p) for p, _ in parts]
        self._targs = [torch.from_numpy(t) for _, t in parts]

    def value(self) -> dict[str, float]:
        if not self._probs:
            return dict.fromkeys(self.names, math.nan)
        probs, targs = self.arrays()
        thr, best = best_threshold(probs, targs, self.beta)
        return {
            self.names[0]: fbeta_samples(probs, targs, self.thresh, self.beta),
            "accuracy_thresh": accuracy_thresh(probs, targs, self.thresh),
            "best_thresh": thr,
            self.names[3]: best,
        }
