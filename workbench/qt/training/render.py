"""Turn batches and predictions into captioned RGB tiles (runs on the training thread).

No Qt here: plain numpy/torch, so the GUI thread only has to wrap finished arrays in pixmaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from workbench.training.transforms import denormalize_batch

UNLABELLED = 255
OVERLAY_ALPHA = 0.45
Tile = tuple[np.ndarray, str]


def overlay(image: np.ndarray, mask: np.ndarray, colors: Sequence[tuple[int, int, int]],
            alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Blend class colours over ``image`` (HxWx3 uint8); class 0 and unlabelled stay clear."""
    out = image.astype(np.float32).copy()
    for idx, color in enumerate(colors):
        if idx == 0:
            continue  # background: keep the picture readable
        sel = mask == idx
        if sel.any():
            out[sel] = (1 - alpha) * out[sel] + alpha * np.asarray(color, np.float32)
    return out.clip(0, 255).astype(np.uint8)


def tag_text(vector: np.ndarray, classes: Sequence[str], threshold: float = 0.5) -> str:
    names = [c for c, v in zip(classes, vector, strict=False) if v >= threshold]
    return " ".join(names) if names else "(none)"


def class_shares(mask: np.ndarray, classes: Sequence[str]) -> str:
    """'nucleus 41%' for the non-background classes present; 'background only' if none."""
    total = max(1, mask.size)
    parts = [f"{name} {np.count_nonzero(mask == idx) / total:.0%}"
             for idx, name in enumerate(classes) if idx > 0 and np.any(mask == idx)]
    return ", ".join(parts) if parts else f"{classes[0] if classes else 'background'} only"


def batch_tiles(xb: torch.Tensor, yb: torch.Tensor, task: str, classes: Sequence[str],
                colors: Sequence[tuple[int, int, int]], limit: int = 8) -> list[Tile]:
    """Augmented training samples as the model sees them (de-normalised), with their labels."""
    images = denormalize_batch(xb[:limit].detach().float().cpu()).permute(0, 2, 3, 1).numpy()
    targets = yb[:limit].detach().cpu().numpy()
    tiles: list[Tile] = []
    for img, target in zip(images, targets, strict=True):
        if task == "segmentation":
            tiles.append((overlay(img, target, colors), class_shares(target, classes)))
        else:
            tiles.append((img, tag_text(target, classes)))
    return tiles


def prediction_tiles(images: Sequence[np.ndarray], targets: Sequence[Any],
                     preds: Sequence[Any], names: Sequence[str], task: str,
                     classes: Sequence[str], colors: Sequence[tuple[int, int, int]]
                     ) -> list[Tile]:
    """For each image: target then prediction (segmentation), or one tile with both tag lists."""
    tiles: list[Tile] = []
    for img, target, pred, name in zip(images, targets, preds, names, strict=True):
        if task == "segmentation":
            if target is None:  # label removed since the run started
                target = np.zeros(img.shape[:2], np.uint8)
            tiles.append((overlay(img, np.asarray(target), colors), f"{name}\ntarget"))
            tiles.append((overlay(img, np.asarray(pred), colors), f"{name}\nprediction"))
        else:
            target_vec = np.asarray([1.0 if c in target else 0.0 for c in classes])
            caption = (f"{name}\ntarget: {tag_text(target_vec, classes)}\n"
                       f"pred: {tag_text(np.asarray(pred), classes)}")
            tiles.append((img, caption))
    return tiles
