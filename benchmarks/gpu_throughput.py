"""Training throughput of our Learner on a GPU: mixed precision + channels-last vs plain fp32.

The prepared script for a CUDA machine (issue: U-Net resnet34 at 256 px, batch 16). Batches are
synthetic and already on the device, so this measures the model step, not the data pipeline
(``data_pipeline.py`` measures that). Both modes alternate for ``--rounds`` rounds; medians are
printed with the card's name. On a CPU (AMP off) it defaults to a tiny run, as a quick check.

    .venv/bin/python benchmarks/gpu_throughput.py [--arch resnet34] [--size 256] [--bs 16]
        [--steps 30] [--rounds 3] [--device auto]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from workbench.training.data import DataBunch
from workbench.training.device import configure_backend, resolve_device
from workbench.training.learner import Learner
from workbench.training.losses import loss_for_task
from workbench.training.models import build_model
from workbench.training.session import metrics_for_task

N_CLASSES = 2
GPU_DEFAULTS = {"arch": "resnet34", "size": 256, "bs": 16, "steps": 30, "rounds": 3}
CPU_DEFAULTS = {"arch": "resnet18", "size": 64, "bs": 4, "steps": 3, "rounds": 2}


def device_batches(n: int, bs: int, size: int, device: torch.device) -> list[tuple]:
    g = torch.Generator().manual_seed(0)
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    return [(torch.randn(bs, 3, size, size, generator=g).to(device, memory_format=fmt),
             torch.randint(0, N_CLASSES, (bs, size, size), generator=g).to(device))
            for _ in range(n)]


def make_learner(base: torch.nn.Module, batches: list[tuple], args: argparse.Namespace,
                 device: torch.device, precision: str) -> Learner:
    classes = [f"c{i}" for i in range(N_CLASSES)]
    data = DataBunch(batches, batches[:1], "segmentation", classes, [(0, 0, 0)] * N_CLASSES,
                     args.size, args.bs)
    # Plain lists as loaders: the batches are already on the device.
    data.__class__ = type("OnDeviceBunch", (DataBunch,), {"device": device})
    return Learner(copy.deepcopy(base), data, loss_for_task("segmentation"),
                   metrics_for_task("segmentation", classes), precision=precision)


def timed_fit(learn: Learner, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    learn.fit_one_cycle(1, 1e-3)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch")
    ap.add_argument("--size", type=int)
    ap.add_argument("--bs", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = resolve_device(args.device)
    # The GPU run of the issue by default; on a CPU a tiny one (`make bench` runs every script).
    defaults = GPU_DEFAULTS if device.type == "cuda" else CPU_DEFAULTS
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    configure_backend(device)  # cudnn.benchmark on CUDA, as in a real run
    torch.manual_seed(0)
    base, _ = build_model("segmentation", args.arch, N_CLASSES, pretrained=None)
    batches = device_batches(args.steps, args.bs, args.size, device)
    modes = {"amp": make_learner(base, batches, args, device, "auto"),
             "fp32": make_learner(base, batches, args, device, "fp32")}
    for learn in modes.values():
        learn.fit_one_cycle(1, 1e-3)  # warm-up: cudnn autotuning, allocator
    images = (args.steps + 1) * args.bs  # training steps + one validation batch
    rates: dict[str, list[float]] = {name: [] for name in modes}
    for r in range(args.rounds):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))
        for name in order:
            rates[name].append(images / timed_fit(modes[name], device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    amp_dtype = modes["amp"].amp_dtype
    print(f"{name}: U-Net {args.arch} {args.size}px bs {args.bs}, {args.steps} steps x "
          f"{args.rounds} rounds, torch {torch.__version__}")
    for mode, values in rates.items():
        label = f"{mode} ({amp_dtype})" if mode == "amp" else mode
        print(f"{label:>22}: {statistics.median(values):8.1f} images/s  "
              f"(rounds: {', '.join(f'{v:.1f}' for v in values)})")
    print(f"speed-up amp/fp32 = {statistics.median(rates['amp']) / statistics.median(rates['fp32']):.2f}")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
