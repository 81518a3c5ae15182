"""Choosing the compute device and describing what is available."""

from __future__ import annotations

import logging
import os

import torch

from workbench.training.errors import TrainingError

log = logging.getLogger(__name__)


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used, in words a user can act on; None when it can."""
    if torch.version.cuda is None:
        return "this PyTorch build has no CUDA support (install a CUDA build of torch)"
    if not torch.cuda.is_available():
        return (f"PyTorch is built for CUDA {torch.version.cuda} but finds no usable NVIDIA "
                "GPU or driver")
    return None


def describe_devices() -> list[dict[str, object]]:
    """``[{"id": "cpu", "name": "CPU", "threads": n, "cuda_unavailable": reason?}, {"id":
    "cuda:0", "name": ..., "memory_gb": ...}, ...]``; the CPU entry carries the reason CUDA is
    unavailable when it is."""
    cpu: dict[str, object] = {"id": "cpu", "name": "CPU", "threads": torch.get_num_threads(),
                              "cores": os.cpu_count() or 1}
    reason = cuda_unavailable_reason()
    if reason:
        cpu["cuda_unavailable"] = reason
    out = [cpu]
    if reason is None:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out.append({"id": f"cuda:{i}", "name": props.name,
                        "memory_gb": round(props.total_memory / 2**30, 1)})
    return out


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> first CUDA GPU when usable, else CPU; "cpu", "cuda", "cuda:N" as given."""
    if name in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise TrainingError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from exc
    if dev.type == "cuda":
        reason = cuda_unavailable_reason()
        if reason:
            raise TrainingError(f"cannot use {name}: {reason}; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise TrainingError(f"no GPU {name}; found {torch.cuda.device_count()}")
    elif dev.type != "cpu":
        raise TrainingError(f"device {name!r} is not supported; use auto, cpu or cuda[:N]")
    return dev


def configure_backend(device: torch.device) -> None:
    """Let cuDNN pick the fastest convolution algorithms (fixed input sizes in training)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
