"""torch.distributed plumbing: the process group from torchrun's environment, rank helpers and
the few collectives the engine needs.

Every helper works without a process group too (one process: rank 0 of 1), so the engine calls
them unconditionally. Collectives run on CPU tensors with gloo and on the rank's GPU with NCCL.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from workbench.training.errors import TrainingError

log = logging.getLogger(__name__)

# Seconds a collective may wait for a peer before failing (a dead or stuck rank). Long enough
# for a slow validation pass or checkpoint on rank 0, short enough that nobody waits forever.
DEFAULT_TIMEOUT_S = 300.0
TIMEOUT_ENV = "WORKBENCH_DDP_TIMEOUT"


@dataclass(frozen=True)
class DistEnv:
    """What torchrun tells each process (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...)."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> DistEnv | None:
        env = os.environ if environ is None else environ
        if "RANK" not in env or "WORLD_SIZE" not in env:
            return None
        try:
            return cls(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)),
                       int(env.get("LOCAL_WORLD_SIZE", env["WORLD_SIZE"])))
        except ValueError as exc:
            raise TrainingError(f"bad torchrun environment (RANK/WORLD_SIZE): {exc}") from exc


def timeout_seconds() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise TrainingError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds") from None


def init_process_group(env: DistEnv, device: str = "auto") -> torch.device:
    """Join the group torchrun set up: NCCL with one GPU per process (``cuda:LOCAL_RANK``)
    when GPUs are usable and not refused with ``device="cpu"``, else gloo on the CPU.
    Returns this process's device."""
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        n_gpu = torch.cuda.device_count()
        if env.local_rank >= n_gpu:
            raise TrainingError(f"process {env.local_rank} of this machine has no GPU "
                                f"({n_gpu} visible); use --nproc-per-node {n_gpu} or fewer")
        dev = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    backend = "nccl" if use_cuda else "gloo"
    timeout = datetime.timedelta(seconds=timeout_seconds())
    kwargs: dict[str, Any] = {"backend": backend, "timeout": timeout}
    if use_cuda:
        kwargs["device_id"] = dev
    dist.init_process_group(**kwargs)
    log.info("Rank %d/%d (local %d) joined the %s group on %s, timeout %.0fs",
             env.rank, env.world_size, env.local_rank, backend, dev, timeout.total_seconds())
    return dev


def destroy_process_group() -> None:
    if active():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Only rank 0 writes checkpoints, the run record, logs and progress."""
    return rank() == 0


def _device() -> torch.device:
    if active() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank (the same value everywhere)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Element-wise sum over ranks (returns a new tensor on ``t``'s device)."""
    if not active():
        return t.clone()
    buf = t.detach().to(_device(), copy=True)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(t.device)


def global_loss(loss: torch.Tensor) -> tuple[float, str]:
    """The mean training loss over ranks (the loss of the global batch, what DDP's averaged
    gradient descends) and, when some rank's loss is not finite, where: ``"on rank 1"``. One
    tiny all-gather per step, so every rank takes the same decision and none is left waiting."""
    value = float(loss.detach())
    if not active():
        return value, ""
    values = [float(v) for v in all_reduce_sum(_one_hot(value)).tolist()]
    bad = [r for r, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        return values[bad[0]], f"on rank {bad[0]} "
    return sum(values) / len(values), ""


def _one_hot(value: float) -> torch.Tensor:
    """This rank's value in its slot, zeros elsewhere: a sum over ranks gathers them all."""
    t = torch.zeros(world_size(), dtype=torch.float64)
    t[rank()] = value
    return t


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def broadcast_buffers(model: nn.Module) -> None:
    """Rank 0's BatchNorm statistics on every rank, so evaluation uses the checkpoint's."""
    if not active():
        return
    for buf in unwrap(model).buffers():
        dist.broadcast(buf.data, src=0)
