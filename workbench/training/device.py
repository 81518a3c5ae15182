"""Choosing the compute device and describing what is available."""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

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
    """``[{"id": "cpu", "name": "CPU", "threads": n, "bf16_native": bool, "cuda_unavailable":
    reason?}, {"id": "cuda:0", "name": ..., "memory_gb": ...}, ...]``; the CPU entry carries
    the reason CUDA is unavailable when it is."""
    cpu: dict[str, object] = {"id": "cpu", "name": "CPU", "threads": torch.get_num_threads(),
                              "cores": os.cpu_count() or 1, "bf16_native": cpu_bf16_native()}
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


PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Precision:
    """What a run computes in: ``name`` ("fp32", "bf16" or "fp16"), the autocast dtype (None:
    plain fp32) and whether model and inputs use the channels-last memory format. The weights
    stay fp32 whatever the precision: autocast only lowers the arithmetic."""

    name: str
    dtype: torch.dtype | None
    channels_last: bool


def cpu_bf16_native() -> bool:
    """Whether this CPU runs bf16 convolutions and matmuls in hardware (AVX512-BF16 or
    AMX-BF16 on x86, the BF16 extension on Arm), as PyTorch's cpuinfo sees it. oneDNN also
    *emulates* bf16 on plain AVX-512, which is slower than fp32: that does not count."""
    if not torch.backends.mkldnn.is_available():
        return False
    get_caps = getattr(torch.cpu, "get_capabilities", None)
    if get_caps is not None:
        caps = get_caps()
        keys = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")
        return any(bool(caps.get(k, False)) for k in keys)
    # Older torch: the x86 probe only.
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(probe()) if probe is not None else False


def resolve_precision(device: torch.device, requested: str = "auto") -> Precision:
    """The precision a run on ``device`` uses for ``requested`` ("auto", "fp32" or "bf16").

    CUDA: "auto" is bf16 where the GPU supports it, else fp16 (with a gradient scaler); CUDA
    always uses channels-last. CPU: "auto" is bf16 with channels-last where the CPU runs bf16
    natively (:func:`cpu_bf16_native`), fp32 elsewhere; "bf16" forces it (emulated where not
    native: slower, for comparisons)."""
    requested = (requested or "auto").lower()
    if requested not in PRECISIONS:
        raise TrainingError(f"unknown precision {requested!r}; use one of {', '.join(PRECISIONS)}")
    if device.type == "cuda":
        if requested == "fp32":
            return Precision("fp32", None, True)
        if requested == "bf16" or torch.cuda.is_bf16_supported():
            return Precision("bf16", torch.bfloat16, True)
        return Precision("fp16", torch.float16, True)
    if requested == "bf16" or (requested == "auto" and cpu_bf16_native()):
        return Precision("bf16", torch.bfloat16, True)
    return Precision("fp32", None, False)


def autocast(device: torch.device, precision: Precision) -> AbstractContextManager[object]:
    """The autocast context for ``precision`` on ``device`` (nothing for fp32)."""
    if precision.dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=precision.dtype)
