"""Inference for any project images: index masks at the original size, or tag probabilities.

Images are resized to the training size for the network (the model saw that scale), and
segmentation logits are resized back to each image's own size before the argmax, so a mask
always matches its image pixel for pixel.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.core import runs
from workbench.core.atomic import atomic_write_text, replace_dir, staging_dir, translate_os_error
from workbench.core.faultpoints import fault_point
from workbench.core.imageio import load_image, write_mask
from workbench.training.data import task_name
from workbench.training.device import autocast, resolve_device, resolve_precision
from workbench.training.errors import TrainingError
from workbench.training.models import build_model
from workbench.training.runs import open_run
from workbench.training.transforms import normalize_batch

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
IMAGE_SETS = ("all", "unlabelled", "valid")


def _prepare(img: np.ndarray, size: int) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255)


def iter_logits(model: nn.Module, paths: Sequence[Path], size: int, device: torch.device,
                bs: int = 8, precision: str = "fp32",
                ) -> Iterator[tuple[list[np.ndarray], torch.Tensor]]:
    """Batches of (original RGB images, float32 logits at ``size``) with the model in eval
    mode and gradients off: the one inference loop behind prediction, top losses and ranking.
    ``precision`` as for training (``device.resolve_precision``); the logits are fp32."""
    prec = resolve_precision(device, precision)
    model.eval().to(device)
    if prec.channels_last:
        model.to(memory_format=torch.channels_last)
    for start in range(0, len(paths), bs):
        imgs = [load_image(p) for p in paths[start:start + bs]]
        x = normalize_batch(torch.cat([_prepare(i, size) for i in imgs]).to(device) / 1.0)
        if prec.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), autocast(device, prec):
            logits = model(x).float()
        yield imgs, logits


def full_size_logits(logits: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """One image's segmentation logits (C, h, w) resized to its own (H, W)."""
    return F.interpolate(logits[None], size=tuple(shape[:2]), mode="bilinear",
                         align_corners=False)[0]


def predict_paths(model: nn.Module, paths: Sequence[Path], task: str, size: int,
                  device: torch.device, bs: int = 8,
                  progress: Callable[[int, int], None] | None = None,
                  precision: str = "fp32") -> list[np.ndarray]:
    """Per image: uint8 HxW index mask (segmentation) or float32 tag probabilities."""
    task = task_name(task)
    out: list[np.ndarray] = []
    for imgs, logits in iter_logits(model, paths, size, device, bs, precision):
        if task == "multilabel":
            out.extend(torch.sigmoid(logits).cpu().numpy())
        else:
            for img, lg in zip(imgs, logits, strict=True):
                out.append(full_size_logits(lg, img.shape).argmax(0).to(torch.uint8).cpu().numpy())
        if progress is not None:
            progress(len(out), len(paths))
    return out


def run_dir(project: Project, run_id: str) -> Path:
    """``<project>/models/<run_id>/``: the run's checkpoint and its cached scores."""
    return runs.run_dir(project.root, run_id)


def load_model(ckpt: dict[str, Any]) -> nn.Module:
    model, _ = build_model(ckpt["task"], ckpt["arch"], len(ckpt["classes"]), pretrained=None)
    model.load_state_dict(ckpt["model"])
    return model.eval()


def select_images(project: Project, images: str | Sequence[str]) -> list[str]:
    if not isinstance(images, str):
        return list(images)
    if images == "all":
        return project.image_names()
    if images == "unlabelled":
        labelled = set(project.labelled_names())
        return [n for n in project.image_names() if n not in labelled]
    if images == "valid":
        return project.split()[1]
    raise TrainingError(f"unknown image set {images!r}; use one of {', '.join(IMAGE_SETS)}")


def predict_project(project: Project, run_id: str | None = None,
                    images: str | Sequence[str] = "all", out_dir: Path | None = None,
                    device: str = "auto", bs: int = 8,
                    progress: Callable[[int, int], None] | None = None, *,
                    shard: tuple[int, int] = (0, 1),
                    gather: Callable[[Any], list[Any]] | None = None,
                    precision: str = "auto") -> Path:
    """Predict ``images`` with run ``run_id`` (None: the current model); write ``<stem>.png``
    masks or ``predictions.csv`` into ``out_dir`` (default ``<project>/predictions/<run_id>/``),
    in ``precision`` ("auto": bf16 where the device runs it natively; the weights are fp32).

    Several processes (``shard=(rank, world)``): each predicts images rank, rank+world, ... and
    writes its own masks; the tag rows are gathered (``gather``: an all-gather) and rank 0
    writes the one CSV in the single-process order, so the files are the same."""
    opened = open_run(project, run_id)
    ckpt, run_id = opened.ckpt, opened.run_id
    all_names = select_images(project, images)
    rank, world = shard
    names = all_names[rank::world]
    out = Path(out_dir) if out_dir else Path(project.root) / "predictions" / run_id
    paths = [Path(project.image_path(n)) for n in names]
    results = predict_paths(load_model(ckpt), paths, ckpt["task"], int(ckpt["size"]),
                            resolve_device(device), bs, progress, precision)
    if task_name(ckpt["task"]) != "segmentation" and world > 1:
        if gather is None:
            raise ValueError("a sharded multilabel prediction needs gather")
        parts = gather(results)  # rank r's rows are all_names[r::world]
        results = [parts[i % world][i // world] for i in range(len(all_names))]
        names = all_names
    if task_name(ckpt["task"]) == "segmentation" or rank == 0:  # one CSV, by rank 0
        # A folder of the user's (--out) is written into, never swapped; ranks that share a
        # segmentation folder write file by file, not one staged folder each.
        shared = world > 1 and task_name(ckpt["task"]) == "segmentation"
        write_predictions(out, names, results, ckpt["task"], ckpt["classes"],
                          staged=out_dir is None and not shared)
    log.info("Wrote predictions for %d image(s) to %s", len(names), out)
    return out


def write_predictions(out: Path, names: Sequence[str], results: Sequence[np.ndarray], task: str,
                      classes: Sequence[str], *, staged: bool = True) -> None:
    """``<stem>.png`` masks, or rows of ``predictions.csv`` (merged with the rows already
    there, so predicting a subset keeps the other images' predictions).

    The new folder is built beside ``out`` (the files kept from the old one are hard links)
    and swapped in when complete, so a killed process leaves the previous predictions, never a
    half-written folder. ``staged=False`` writes file by file into ``out`` (several processes
    sharing one folder)."""
    target = out
    if target.is_dir() and any(f.is_dir() for f in target.iterdir()):
        staged = False  # not a predictions folder of ours: never swap away its subfolders
    if staged:
        out = staging_dir(target)
    try:
        _write_prediction_files(out, target, names, results, task, classes, link_old=staged)
        if staged:
            replace_dir(out, target)
    finally:
        if staged and out.exists():
            shutil.rmtree(out, ignore_errors=True)


def _write_prediction_files(out: Path, old: Path, names: Sequence[str],
                            results: Sequence[np.ndarray], task: str, classes: Sequence[str],
                            *, link_old: bool) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise translate_os_error(exc, out, "create") from exc
    seg = task_name(task) == "segmentation"
    new = {f"{Path(n).stem}.png" for n in names} if seg else {"predictions.csv"}
    if link_old and old.is_dir():
        for f in old.iterdir():
            if f.is_file() and f.name not in new:
                _link_or_copy(f, out / f.name)
    if seg:
        for name, mask in zip(names, results, strict=True):
            write_mask(out / f"{Path(name).stem}.png", mask)
            fault_point("predict.wrote")
        return
    rows = read_prediction_csv(old / "predictions.csv", classes)
    for name, probs in zip(names, results, strict=True):
        rows[Path(name).stem] = [float(p) for p in probs]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image_name", *classes])
    for stem, values in rows.items():
        writer.writerow([stem, *(f"{p:.6f}" for p in values)])
    atomic_write_text(out / "predictions.csv", buf.getvalue())
    fault_point("predict.wrote")


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        try:
            shutil.copy2(src, dest)
        except OSError as exc:
            raise translate_os_error(exc, dest) from exc


def read_prediction_csv(path: Path, classes: Sequence[str]) -> dict[str, list[float]]:
    """stem -> probabilities from a ``predictions.csv``; empty when missing or for other tags."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0] != ["image_name", *classes]:
        return {}
    return {r[0]: [float(v) for v in r[1:]] for r in rows[1:] if len(r) == len(classes) + 1}
