"""``show_batch``: a grid of augmented training samples as an RGB array or PNG (Pillow only).

Segmentation masks are blended over the image in the class colours (unlabelled pixels left
as they are); multilabel tags are written under each image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from workbench.training.data import DataBunch

OVERLAY_ALPHA = 0.45
CAPTION_HEIGHT = 14


def overlay_mask(img: np.ndarray, mask: np.ndarray, colors: list[tuple[int, int, int]],
                 alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Blend class colours into ``img`` where ``mask`` holds a class (255 = leave alone)."""
    out = img.astype(np.float32)
    palette = np.asarray(colors, np.float32)
    labelled = mask < len(colors)
    out[labelled] = (1 - alpha) * out[labelled] + alpha * palette[mask[labelled]]
    return out.round().astype(np.uint8)


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
        if data.task == "segmentation":
            cells.append((overlay_mask(img, y.to(torch.uint8).numpy(), data.colors), None))
        else:
            tags = [c for c, v in zip(data.classes, y.tolist(), strict=True) if v > 0.5]
            cells.append((img, " ".join(tags) or "(no tags)"))
    grid = _grid(cells, ncols, caption=data.task != "segmentation")
    if path is not None:
        Image.fromarray(grid).save(path)
    return grid


def _grid(cells: list[tuple[np.ndarray, str | None]], ncols: int, caption: bool,
          pad: int = 4) -> np.ndarray:
    h, w = cells[0][0].shape[:2]
    cell_h = h + (CAPTION_HEIGHT if caption else 0)
    ncols = max(1, min(ncols, len(cells)))
    nrows = -(-len(cells) // ncols)
    canvas = Image.new("RGB", (ncols * (w + pad) + pad, nrows * (cell_h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (img, text) in enumerate(cells):
        x0 = pad + (k % ncols) * (w + pad)
        y0 = pad + (k // ncols) * (cell_h + pad)
        canvas.paste(Image.fromarray(img), (x0, y0))
        if caption and text:
            draw.text((x0 + 1, y0 + h + 1), text, fill=(0, 0, 0))
    return np.asarray(canvas)
