"""Uncertainty of unlabelled images (active learning): label the most useful images first.

Segmentation: the mean per-pixel entropy of the softmax, divided by log(C) so it lies in
[0, 1] for any number of classes. Entropy rather than 1 − margin because it looks at the whole
class distribution (with three or more classes a pixel torn between many classes counts as
more uncertain than one torn between two), and for two classes it orders pixels exactly as the
margin does. It is averaged at the network's resolution: upsampling the logits first would cost
O(H·W) per image and change the mean only at object borders.

Multilabel: how close each tag's probability p is to the decision threshold t, as ``p / t``
below the threshold and ``(1 − p) / (1 − t)`` above it (1 at the threshold, 0 at a sure 0 or
1, linear in between on each side, so the low threshold 0.2 does not make every absent tag look
half-decided), and the image's score
is its least decided tag (the maximum): one coin-flip tag makes an image worth labelling even
when the other nine are obvious, which a mean over tags would hide.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from workbench.core.runs import DEFAULT_THRESHOLD
from workbench.training.data import task_name
from workbench.training.device import resolve_device
from workbench.training.errors import TrainingCancelled
from workbench.training.predict import iter_logits, select_images
from workbench.training.runs import open_run

if TYPE_CHECKING:
    from workbench.core.project import Project


def segmentation_uncertainty(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) logits -> (B,) mean per-pixel softmax entropy / log(C), in [0, 1]."""
    logp = torch.log_softmax(logits.float(), dim=1)
    entropy = -(logp.exp() * logp).sum(1)
    return entropy.flatten(1).mean(1) / math.log(max(2, logits.shape[1]))


def multilabel_uncertainty(probs: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> torch.Tensor:
    """(B, T) tag probabilities -> (B,) closeness of the least decided tag to the threshold."""
    p = probs.float()
    closeness = torch.where(p < threshold, p / threshold, (1 - p) / (1 - threshold))
    return closeness.clamp(0, 1).max(1).values


def uncertainty_scores(model: nn.Module, paths: Sequence[Path], task: str, size: int,
                       device: torch.device, bs: int = 8, threshold: float = DEFAULT_THRESHOLD,
                       progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> list[float]:
    """One score per path, higher = less sure."""
    task = task_name(task)
    scores: list[float] = []
    for _, logits in iter_logits(model, paths, size, device, bs):
        if task == "segmentation":
            batch = segmentation_uncertainty(logits)
        else:
            batch = multilabel_uncertainty(torch.sigmoid(logits), threshold)
        scores.extend(float(v) for v in batch.cpu())
        if progress is not None:
            progress(len(scores), len(paths))
        if should_stop is not None and should_stop() and len(scores) < len(paths):
            raise TrainingCancelled("ranking the unlabelled images was stopped")
    return scores


def rank_unlabelled(project: Project, run_id: str | None = None, *, device: str = "auto",
                    batch_size: int = 8, progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> list[tuple[str, float]]:
    """Score every unlabelled image with run ``run_id`` (None: the current model),
    most uncertain first, and store the scores with ``project.db.set_uncertainty`` (replacing
    older ones, also when there is nothing to score) unless the project is read-only."""
    opened = open_run(project, run_id)
    run_id = opened.run_id
    names = select_images(project, "unlabelled")
    scores = uncertainty_scores(
        opened.model(), [Path(project.image_path(n)) for n in names], opened.task,
        opened.size, resolve_device(device), batch_size, opened.threshold, progress,
        should_stop)
    ranked = sorted(zip(names, scores, strict=True), key=lambda kv: (-kv[1], kv[0]))
    if not project.readonly:
        project.db.set_uncertainty(run_id, dict(ranked))
    return ranked
