"""Export a trained run to TorchScript or ONNX for use outside Workbench.

The exported graph takes float32 RGB images scaled to [0, 1], shape (N, 3, size, size), and
applies the ImageNet normalisation itself, so callers need no Workbench code. It returns
logits: (N, classes, size, size) for segmentation (argmax over dim 1), (N, tags) for
multilabel (apply a sigmoid).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from workbench.training import checkpoints
from workbench.training.errors import TrainingError
from workbench.training.predict import latest_run, load_model, run_dir
from workbench.training.transforms import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
FORMATS = ("onnx", "torchscript")


class NormalizedModel(nn.Module):
    """The model with ImageNet normalisation in front: input is RGB in [0, 1]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


def export_checkpoint(ckpt: dict[str, Any], fmt: str, out: Path) -> Path:
    """Write ``ckpt``'s model as ``fmt`` to ``out``; returns ``out``."""
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
    log.info("Exported %s model (%s, %dpx) to %s", ckpt["task"], ckpt["arch"], size, out)
    return out


def _export_onnx(model: nn.Module, example: torch.Tensor, out: Path) -> None:
    # The TorchScript-based exporter is fast and handles this static graph; the dynamo
    # exporter needs onnxscript and takes much longer for the same result.
    torch.onnx.export(
        model, (example,), str(out), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )


def export_model(project: Project, run_id: str | None, fmt: str, out: Path | str) -> Path:
    """Export run ``run_id`` (latest when None) of ``project``."""
    run_id = run_id or latest_run(project)
    ckpt = checkpoints.load(run_dir(project, run_id) / checkpoints.LAST)
    return export_checkpoint(ckpt, fmt, Path(out))
