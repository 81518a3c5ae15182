"""Loss functions for the two tasks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.training.metrics import IGNORE_INDEX


class SegmentationLoss(nn.Module):
    """Pixel cross-entropy ignoring unlabelled (255) pixels.

    Unlike ``nn.CrossEntropyLoss(ignore_index=255)`` a batch with no labelled pixel gives 0,
    not NaN (0/0), so partly labelled projects never trip the NaN guard.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum")
        n = (target != IGNORE_INDEX).sum().clamp(min=1)
        return total / n


def loss_for_task(task: str) -> nn.Module:
    return SegmentationLoss() if task == "segmentation" else nn.BCEWithLogitsLoss()
