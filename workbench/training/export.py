"""Export a trained run to TorchScript or ONNX for use outside Workbench.

The exported graph takes float32 RGB images scaled to [0, 1], shape (N, 3, size, size), and
applies the ImageNet normalisation itself, so callers need no Workbench code. It returns
logits: (N, classes, size, size) for segmentation (argmax over dim 1), (N, tags) for
multilabel (apply a sigmoid).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from workbench.core.atomic import atomic_write_text
from workbench.core.runs import DEFAULT_THRESHOLD
from workbench.training.data import task_name
from workbench.training.errors import TrainingError
from workbench.training.predict import load_model
from workbench.training.runs import open_run
from workbench.training.transforms import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
FORMATS = ("onnx", "torchscript")


class NormalizedModel(nn.Module):
    """The model with ImageNet normalisation in front: input is RGB in [0, 1]."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


def export_checkpoint(ckpt: dict[str, Any], fmt: str, out: Path,
                      threshold: float | None = None) -> Path:
    """Write ``ckpt``'s model as ``fmt`` to ``out`` and what a caller needs to use it (task,
    classes, size, the multi-label decision rule) to ``out`` + ``.json``; returns ``out``."""
    if fmt not in FORMATS:
        raise TrainingError(f"unknown export format {fmt!r}; use onnx or torchscript")
    wrapped = NormalizedModel(load_model(ckpt)).eval()
    size = int(ckpt["size"])
    example = torch.rand(1, 3, size, size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # Both exporters warn about deprecations of their own internals; not actionable here.
        warnings.simplefilter("ignore")
        if fmt == "torchscript":
            traced = torch.jit.trace(wrapped, example)
            torch.jit.save(traced, str(out))
        else:
            _export_onnx(wrapped, example, out)
    atomic_write_text(Path(f"{out}.json"), json.dumps(
        model_card(ckpt, fmt, threshold), indent=1) + "\n")
    log.info("Exported %s model (%s, %dpx) to %s", ckpt["task"], ckpt["arch"], size, out)
    return out


def model_card(ckpt: dict[str, Any], fmt: str, threshold: float | None) -> dict[str, Any]:
    """The exported model's metadata: how to feed it and how to read its output."""
    task = task_name(ckpt["task"])
    card: dict[str, Any] = {
        "run": ckpt.get("run_id"), "format": fmt, "task": task, "arch": ckpt.get("arch"),
        "classes": list(ckpt["classes"]), "size": int(ckpt["size"]),
        "input": "float32 RGB in [0, 1], shape (N, 3, size, size)"}
    if task == "segmentation":
        card["output"] = "logits (N, classes, size, size); class = argmax over dim 1"
    else:
        thr = threshold if threshold is not None else ckpt.get("threshold")
        card["threshold"] = float(thr if thr is not None else DEFAULT_THRESHOLD)
        card["output"] = ("logits (N, tags); a tag is predicted when sigmoid(logit) >= "
                          "threshold")
    return card


def _export_onnx(model: nn.Module, example: torch.Tensor, out: Path) -> None:
    # The TorchScript-based exporter is fast and handles this static graph; the dynamo
    # exporter needs onnxscript and takes much longer for the same result.
    torch.onnx.export(
        model, (example,), str(out), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )


def export_model(project: Project, run_id: str | None, fmt: str, out: Path | str) -> Path:
    """Export run ``run_id`` (None: the current model) of ``project``."""
    opened = open_run(project, run_id)
    return export_checkpoint(opened.ckpt, fmt, Path(out), threshold=opened.threshold)
