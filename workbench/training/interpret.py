"""Top losses: score every validation image with a run's model, highest loss first.

fast.ai's ``ClassificationInterpretation`` idea for both tasks: per-image loss (the training
loss, per image), Dice for segmentation, the tags missed / added wrongly for multilabel, and the
*most confused* summary. Scoring is batched on the run's device through the same inference loop
as prediction (``predict.iter_logits``); the scored images' predictions are written where
``predict_project`` writes them, so "From prediction" in the annotation panel finds them.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from workbench.core.atomic import atomic_write_text
from workbench.core.imageio import image_size
from workbench.core.manifest import ERROR_COLOR
from workbench.core.runs import DEFAULT_THRESHOLD, predicted_tags
from workbench.training.data import task_name
from workbench.training.device import resolve_device
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.losses import SegmentationLoss
from workbench.training.metrics import (
    IGNORE_INDEX,
    confusion_matrix,
    dice_per_class,
)
from workbench.training.predict import (
    full_size_logits,
    iter_logits,
    run_dir,
    write_predictions,
)
from workbench.training.runs import open_run
from workbench.training.visualize import Cell, grid_image, overlay_mask

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
CACHE_NAME = "interpretation.json"
ERROR_ALPHA = 0.65
Progress = Callable[[int, int], None]


@dataclass
class ScoredImage:
    image: str
    loss: float
    dice: float | None = None            # segmentation: mean Dice over classes present
    missed: list[str] = field(default_factory=list)   # multilabel, at the run's threshold
    extra: list[str] = field(default_factory=list)
    probs: dict[str, float] | None = None              # multilabel: tag -> probability

    def to_json(self) -> dict[str, Any]:
        if self.probs is None:
            return {"image": self.image, "loss": self.loss, "dice": _finite(self.dice)}
        return {"image": self.image, "loss": self.loss, "missed": list(self.missed),
                "extra": list(self.extra), "probs": dict(self.probs)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ScoredImage:
        return cls(image=d["image"], loss=float(d["loss"]), dice=d.get("dice"),
                   missed=list(d.get("missed", [])), extra=list(d.get("extra", [])),
                   probs=d.get("probs"))


@dataclass
class Interpretation:
    run: str
    task: str                            # "segmentation" | "multilabel"
    classes: list[str]
    items: list[ScoredImage]             # every validation image, highest loss first
    most_confused: list[dict[str, Any]]  # seg: {actual, predicted, pixels}; ml: {tag, missed, extra}
    threshold: float | None = None       # multilabel decision threshold used

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        items = self.items if top is None else self.items[:top]
        return {"run": self.run, "items": [i.to_json() for i in items],
                "most_confused": [dict(m) for m in self.most_confused]}

    def cache_json(self) -> dict[str, Any]:
        return {**self.to_json(), "task": self.task, "classes": self.classes,
                "threshold": self.threshold}


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def image_dice(label: np.ndarray, pred: np.ndarray, n_classes: int) -> float | None:
    """Mean Dice over the classes present in the label or the prediction (255 ignored);
    None when the image has no labelled pixel."""
    cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(label), n_classes).numpy()
    if cm.sum() == 0:
        return None
    dice = dice_per_class(cm)
    return float(np.nanmean(dice)) if np.isfinite(dice).any() else None


def _score_segmentation(model: nn.Module, paths: Sequence[Path], labels: Sequence[np.ndarray],
                        size: int, device: torch.device, bs: int, n_classes: int,
                        tick: Callable[[int], None],
                        ) -> tuple[list[tuple[float, float | None]], list[np.ndarray], np.ndarray]:
    """(per-image (loss, dice), predicted masks, summed confusion matrix)."""
    loss_fn = SegmentationLoss()
    scores: list[tuple[float, float | None]] = []
    preds: list[np.ndarray] = []
    cm = np.zeros((n_classes, n_classes), np.int64)
    for imgs, logits in iter_logits(model, paths, size, device, bs):
        for img, lg in zip(imgs, logits, strict=True):
            label = labels[len(preds)]
            full = full_size_logits(lg, img.shape)
            target = torch.from_numpy(label.astype(np.int64)).to(full.device)
            loss = float(loss_fn(full[None], target[None]))
            pred = full.argmax(0).to(torch.uint8).cpu().numpy()
            cm += confusion_matrix(torch.from_numpy(pred), torch.from_numpy(label),
                                   n_classes).numpy()
            scores.append((loss, image_dice(label, pred, n_classes)))
            preds.append(pred)
        tick(len(preds))
    return scores, preds, cm


def _score_multilabel(model: nn.Module, paths: Sequence[Path], targets: np.ndarray, size: int,
                      device: torch.device, bs: int,
                      tick: Callable[[int], None]) -> tuple[list[float], np.ndarray]:
    losses: list[float] = []
    probs: list[np.ndarray] = []
    for _, logits in iter_logits(model, paths, size, device, bs):
        y = torch.from_numpy(targets[len(losses):len(losses) + len(logits)]).to(logits.device)
        per = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(1)
        losses.extend(float(v) for v in per.cpu())
        probs.extend(torch.sigmoid(logits).cpu().numpy())
        tick(len(losses))
    return losses, np.asarray(probs, np.float32).reshape(len(losses), targets.shape[1])


def most_confused_pairs(cm: np.ndarray, classes: Sequence[str],
                        limit: int = 10) -> list[dict[str, Any]]:
    """Off-diagonal cells of a pixel confusion matrix, most pixels first."""
    cells = [(int(cm[t, p]), t, p) for t in range(len(classes)) for p in range(len(classes))
             if t != p and cm[t, p]]
    cells.sort(key=lambda c: -c[0])
    return [{"actual": classes[t], "predicted": classes[p], "pixels": n}
            for n, t, p in cells[:limit]]


def score_images(model: nn.Module, project: Project, names: Sequence[str], *, task: str,
                 classes: Sequence[str], size: int, device: torch.device, bs: int = 8,
                 threshold: float = DEFAULT_THRESHOLD, run: str = "",
                 progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 ) -> tuple[Interpretation, list[np.ndarray]]:
    """Score ``names`` against their current labels with ``model``; returns the
    interpretation (highest loss first) and the predictions in ``names`` order."""
    task = task_name(task)
    paths = [Path(project.image_path(n)) for n in names]

    def tick(done: int) -> None:
        if progress is not None:
            progress(done, len(names))
        if should_stop is not None and should_stop() and done < len(names):
            raise TrainingCancelled("scoring the validation images was stopped")

    if task == "segmentation":
        labels = [_label_mask(project, n) for n in names]
        scores, preds, cm = _score_segmentation(model, paths, labels, size, device, bs,
                                                len(classes), tick)
        items = [ScoredImage(n, loss, dice=dice) for n, (loss, dice) in zip(names, scores)]
        confused = most_confused_pairs(cm, classes)
        thr = None
    else:
        index = {c: i for i, c in enumerate(classes)}
        targets = np.zeros((len(names), len(classes)), np.float32)
        for row, n in enumerate(names):
            for t in project.tags(n):
                if t in index:
                    targets[row, index[t]] = 1.0
        losses, probs = _score_multilabel(model, paths, targets, size, device, bs, tick)
        items = [_tag_item(n, loss, p, t, classes, threshold)
                 for n, loss, p, t in zip(names, losses, probs, targets)]
        confused = _most_confused_tags(items, classes)
        preds, thr = list(probs), threshold
    order = sorted(range(len(items)), key=lambda i: -items[i].loss)
    interp = Interpretation(run, task, list(classes), [items[i] for i in order], confused, thr)
    return interp, preds


def _label_mask(project: Project, name: str) -> np.ndarray:
    mask = project.read_mask(name)
    if mask is None:
        w, h = image_size(project.image_path(name))
        mask = np.full((h, w), IGNORE_INDEX, np.uint8)
    return mask


def _tag_item(name: str, loss: float, probs: np.ndarray, target: np.ndarray,
              classes: Sequence[str], threshold: float) -> ScoredImage:
    predicted = predicted_tags(probs, threshold)
    truth = target > 0.5
    return ScoredImage(
        name, loss,
        missed=[c for c, p, t in zip(classes, predicted, truth) if t and not p],
        extra=[c for c, p, t in zip(classes, predicted, truth) if p and not t],
        probs={c: round(float(p), 6) for c, p in zip(classes, probs)},
    )


def _most_confused_tags(items: Sequence[ScoredImage],
                        classes: Sequence[str]) -> list[dict[str, Any]]:
    counts = [(c, sum(c in i.missed for i in items), sum(c in i.extra for i in items))
              for c in classes]
    counts = sorted((row for row in counts if row[1] + row[2]), key=lambda r: -(r[1] + r[2]))
    return [{"tag": c, "missed": missed, "extra": extra} for c, missed, extra in counts]


def interpret_run(project: Project, run_id: str | None = None, *, device: str = "auto",
                  batch_size: int = 8, progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None) -> Interpretation:
    """Top losses of run ``run_id`` (None: the current model) over every validation image;
    caches the result in the run folder and writes the predictions."""
    opened = open_run(project, run_id)
    ckpt, run_id = opened.ckpt, opened.run_id
    names = project.split()[1]
    if not names:
        raise TrainingError(f"{project.root} has no labelled validation image to score")
    interp, preds = score_images(
        opened.model(), project, names, task=opened.task, classes=opened.classes,
        size=opened.size, device=resolve_device(device), bs=batch_size,
        threshold=opened.threshold, run=run_id, progress=progress, should_stop=should_stop)
    if not project.readonly:
        write_predictions(Path(project.predictions_dir) / run_id, names, preds, ckpt["task"],
                          ckpt["classes"])
    cache = run_dir(project, run_id) / CACHE_NAME
    try:
        atomic_write_text(cache, json.dumps(interp.cache_json(), indent=1))
    except OSError as exc:  # a read-only project can still be interpreted
        log.warning("could not cache the interpretation in %s: %s", cache, exc)
    return interp


def load_interpretation(project: Project, run_id: str) -> Interpretation | None:
    """The cached result of :func:`interpret_run` for ``run_id``, or None."""
    path = run_dir(project, run_id) / CACHE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Interpretation(
            run=data["run"], task=data["task"], classes=list(data["classes"]),
            items=[ScoredImage.from_json(d) for d in data["items"]],
            most_confused=list(data["most_confused"]), threshold=data.get("threshold"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable interpretation cache %s: %s", path, exc)
        return None


def error_overlay(image: np.ndarray, label: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """RGB uint8: pixels where ``prediction`` differs from ``label`` (255 ignored) in red."""
    rgb = np.asarray(image, np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    wrong = (np.asarray(prediction) != np.asarray(label)) & (np.asarray(label) != IGNORE_INDEX)
    out = rgb.astype(np.float32)
    out[wrong] = (1 - ERROR_ALPHA) * out[wrong] + ERROR_ALPHA * np.asarray(ERROR_COLOR, np.float32)
    return out.round().astype(np.uint8)


def _thumb(arr: np.ndarray, side: int, nearest: bool = False) -> np.ndarray:
    img = Image.fromarray(arr)
    scale = side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    img = img.resize(size, Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR)
    canvas = Image.new(img.mode, (side, side), 0)
    canvas.paste(img, ((side - size[0]) // 2, (side - size[1]) // 2))
    return np.asarray(canvas)


def item_cells(project: Project, interp: Interpretation, item: ScoredImage,
               side: int = 160) -> list[Cell]:
    """Segmentation: label | prediction | errors; multilabel: the image with its wrong tags.
    The prediction is read from where :func:`interpret_run` wrote it."""
    from workbench.core.imageio import load_image, read_mask

    img = _thumb(load_image(project.image_path(item.image)), side)
    head = f"{item.image}\nloss {item.loss:.3f}"
    if interp.task != "segmentation":
        wrong = [f"missed {t} ({(item.probs or {}).get(t, 0):.2f})" for t in item.missed]
        wrong += [f"extra {t} ({(item.probs or {}).get(t, 0):.2f})" for t in item.extra]
        return [(img, "\n".join([head, *wrong]) if wrong else head + "\nall tags right")]
    colors = project.colors
    label = _thumb(_label_mask(project, item.image), side, nearest=True)
    pred_path = Path(project.predictions_dir) / interp.run / f"{Path(item.image).stem}.png"
    pred = _thumb(read_mask(pred_path), side, nearest=True)
    dice = "n/a" if item.dice is None else f"{item.dice:.3f}"
    return [(overlay_mask(img, label, colors, clear_background=True), f"{head}\nlabel"),
            (overlay_mask(img, pred, colors, clear_background=True), f"dice {dice}\nprediction"),
            (error_overlay(img, label, pred), "errors (red)")]


def render_grid(project: Project, interp: Interpretation, top: int, path: Path | str) -> Path:
    """The ``top`` highest-loss images as one PNG (one row per image for segmentation)."""
    items = interp.items[:max(1, top)]
    cells = [c for item in items for c in item_cells(project, interp, item)]
    ncols = 3 if interp.task == "segmentation" else 4
    path = Path(path)
    Image.fromarray(grid_image(cells, ncols)).save(path)
    return path
