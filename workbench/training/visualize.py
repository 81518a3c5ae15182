"""Render training samples and predictions as captioned RGB cells (Pillow and numpy only).

``show_batch`` lays the cells out in one grid array/PNG; the training panel shows the same
cells (``batch_cells``, ``prediction_cells``) as a gallery. Segmentation masks are blended over
the image in the class colours (unlabelled pixels left as they are); multilabel tags are
written under each image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from workbench.core.runs import DEFAULT_THRESHOLD, predicted_tags
from workbench.training.data import DataBunch
from workbench.training.transforms import denormalize_batch

OVERLAY_ALPHA = 0.45
CAPTION_HEIGHT = 14
Colors = Sequence[tuple[int, int, int]]
Cell = tuple[np.ndarray, str]  # (HxWx3 uint8 RGB, caption)


def overlay_mask(img: np.ndarray, mask: np.ndarray, colors: Colors,
                 alpha: float = OVERLAY_ALPHA, *, clear_background: bool = False) -> np.ndarray:
    """Blend class colours into ``img`` where ``mask`` holds a class (255 = leave alone).

    ``clear_background`` also leaves class 0 alone, so small objects stay readable.
    """
    out = img.astype(np.float32)
    palette = np.asarray(colors, np.float32)
    labelled = mask < len(colors)
    if clear_background:
        labelled &= mask != 0
    out[labelled] = (1 - alpha) * out[labelled] + alpha * palette[mask[labelled]]
    return out.round().astype(np.uint8)


TARGET_THRESHOLD = 0.5  # target vectors hold 0 or 1


def tag_text(vector: Sequence[float] | np.ndarray, classes: Sequence[str],
             threshold: float) -> str:
    """The tags decided at ``threshold`` (core.runs.predicted_tags), or '(no tags)'."""
    chosen = predicted_tags(np.asarray(vector, np.float64), threshold)
    names = [c for c, keep in zip(classes, chosen, strict=False) if keep]
    return " ".join(names) or "(no tags)"


def class_shares(mask: np.ndarray, classes: Sequence[str]) -> str:
    """'nucleus 41%' for the non-background classes present; 'background only' if none."""
    total = max(1, mask.size)
    parts = [f"{name} {np.count_nonzero(mask == idx) / total:.0%}"
             for idx, name in enumerate(classes) if idx > 0 and np.any(mask == idx)]
    return ", ".join(parts) if parts else f"{classes[0] if classes else 'background'} only"


def sample_cell(img: np.ndarray, target: np.ndarray, task: str, classes: Sequence[str],
                colors: Colors, *, clear_background: bool = False) -> Cell:
    """One training sample: mask overlay with class shares, or the image with its tags."""
    if task == "segmentation":
        overlaid = overlay_mask(img, target, colors, clear_background=clear_background)
        return overlaid, class_shares(target, classes)
    return img, tag_text(target, classes, TARGET_THRESHOLD)


def batch_cells(data: DataBunch, limit: int = 8) -> list[Cell]:
    """One training-loader batch as the model sees it (de-normalised), class 0 left clear."""
    xb, yb = data.one_batch()
    images = denormalize_batch(xb[:limit].detach().float().cpu()).permute(0, 2, 3, 1).numpy()
    targets = yb[:limit].detach().cpu().numpy()
    return [sample_cell(img, target, data.task, data.classes, data.colors, clear_background=True)
            for img, target in zip(images, targets, strict=True)]


def prediction_cells(images: Sequence[np.ndarray], targets: Sequence[Any], preds: Sequence[Any],
                     names: Sequence[str], task: str, classes: Sequence[str],
                     colors: Colors, threshold: float = DEFAULT_THRESHOLD) -> list[Cell]:
    """For each image: target then prediction (segmentation), or one cell with both tag lists.

    ``targets`` holds masks (None: label removed since the run started) or tag-name lists;
    ``preds`` holds index masks or per-class scores, decided at the run's ``threshold``.
    """
    cells: list[Cell] = []
    for img, target, pred, name in zip(images, targets, preds, names, strict=True):
        if task == "segmentation":
            if target is None:
                target = np.zeros(img.shape[:2], np.uint8)
            for mask, kind in ((target, "target"), (pred, "prediction")):
                overlaid = overlay_mask(img, np.asarray(mask), colors, clear_background=True)
                cells.append((overlaid, f"{name}\n{kind}"))
        else:
            target_vec = [1.0 if c in target else 0.0 for c in classes]
            caption = (f"{name}\ntarget: {tag_text(target_vec, classes, TARGET_THRESHOLD)}\n"
                       f"pred: {tag_text(np.asarray(pred), classes, threshold)}")
            cells.append((img, caption))
    return cells


def show_batch(data: DataBunch, n: int = 8, ncols: int = 4, path: Path | str | None = None,
               valid: bool = False) -> np.ndarray:
    """Render ``n`` samples (augmented unless ``valid``) in a grid; save to ``path`` if given."""
    ds = (data.valid_dl if valid else data.train_dl).dataset
    n = min(n, len(ds))
    if n == 0:
        raise ValueError("the dataset is empty; nothing to show")
    cells = []
    for i in range(n):
        x, y = ds[i]
        img = x.permute(1, 2, 0).numpy().astype(np.uint8)
        target = y.to(torch.uint8).numpy() if data.task == "segmentation" else y.numpy()
        cells.append(sample_cell(img, target, data.task, data.classes, data.colors))
    grid = _grid(cells, ncols, caption=data.task != "segmentation")
    if path is not None:
        Image.fromarray(grid).save(path)
    return grid


def _grid(cells: list[Cell], ncols: int, caption: bool, pad: int = 4) -> np.ndarray:
    h, w = cells[0][0].shape[:2]
    lines = max(text.count("\n") + 1 for _, text in cells) if caption else 0
    cell_h = h + CAPTION_HEIGHT * lines
    ncols = max(1, min(ncols, len(cells)))
    nrows = -(-len(cells) // ncols)
    canvas = Image.new("RGB", (ncols * (w + pad) + pad, nrows * (cell_h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (img, text) in enumerate(cells):
        x0 = pad + (k % ncols) * (w + pad)
        y0 = pad + (k // ncols) * (cell_h + pad)
        canvas.paste(Image.fromarray(img), (x0, y0))
        if caption and text:
            draw.multiline_text((x0 + 1, y0 + h + 1), text, fill=(0, 0, 0), spacing=3)
    return np.asarray(canvas)


def grid_image(cells: list[Cell], ncols: int = 4) -> np.ndarray:
    """Equal-sized captioned cells in a grid (captions may have several lines)."""
    if not cells:
        raise ValueError("no cells to render")
    return _grid(cells, ncols, caption=True)
