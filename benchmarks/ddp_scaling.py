"""DDP scaling: training images/s with 1, 2, ..., N processes and the scaling efficiency.

Each point starts torchrun with N processes (one GPU each with NCCL, or CPU processes with
gloo); every process trains U-Net (``--arch``) with DistributedDataParallel on synthetic batches
already on its device, so this measures the step and the gradient all-reduce, not the data
pipeline. efficiency(N) = images/s(N) / (N x images/s(1)); the goal on GPUs is >= 0.9 per added
GPU for resnet34 at 256 px. On a CPU the default is a tiny run that only shows it works.

    .venv/bin/python benchmarks/ddp_scaling.py [--max-procs N] [--arch resnet34] [--size 256]
        [--bs 16] [--steps 30] [--warmup 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GPU_DEFAULTS = {"arch": "resnet34", "size": 256, "bs": 16, "steps": 30, "warmup": 5}
CPU_DEFAULTS = {"arch": "resnet18", "size": 64, "bs": 4, "steps": 8, "warmup": 2}
N_CLASSES = 2


def worker(args: argparse.Namespace) -> None:
    """One process of one measurement (started by torchrun)."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    from workbench.training import distributed
    from workbench.training.losses import loss_for_task
    from workbench.training.models import build_model

    env = distributed.DistEnv.from_environ()
    assert env is not None, "run by torchrun"
    device = distributed.init_process_group(env, "auto")
    torch.manual_seed(env.rank)
    model, _ = build_model("segmentation", args.arch, N_CLASSES, pretrained=None)
    model = model.to(device)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                  else None)
    opt = torch.optim.AdamW(ddp.parameters(), lr=1e-4)
    loss_func = loss_for_task("segmentation")
    x = torch.randn(args.bs, 3, args.size, args.size, device=device)
    y = torch.randint(0, N_CLASSES, (args.bs, args.size, args.size), device=device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None

    def step() -> None:
        if amp is not None:
            with amp:
                loss = loss_func(ddp(x).float(), y)
        else:
            loss = loss_func(ddp(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    torch.distributed.barrier()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    torch.distributed.barrier()
    seconds = time.perf_counter() - t0
    if env.rank == 0:
        ips = env.world_size * args.bs * args.steps / seconds
        print("RESULT " + json.dumps({"procs": env.world_size, "images_per_s": ips,
                                      "device": str(device.type)}), flush=True)
    distributed.destroy_process_group()


def measure(n: int, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={n}", __file__, "--worker", "--arch", args.arch,
           "--size", str(args.size), "--bs", str(args.bs), "--steps", str(args.steps),
           "--warmup", str(args.warmup)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if args.cpu:  # one thread per process at every N (torchrun sets it only for N > 1)
        env.setdefault("OMP_NUM_THREADS", "1")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise SystemExit(f"{n} process(es) failed:\n{res.stderr[-3000:]}")


def main() -> None:
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    defaults = GPU_DEFAULTS if gpus else CPU_DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--max-procs", type=int, default=gpus or 2)
    p.add_argument("--arch", default=defaults["arch"])
    p.add_argument("--size", type=int, default=defaults["size"])
    p.add_argument("--bs", type=int, default=defaults["bs"], help="per process")
    p.add_argument("--steps", type=int, default=defaults["steps"])
    p.add_argument("--warmup", type=int, default=defaults["warmup"])
    args = p.parse_args()
    args.cpu = not gpus
    if args.worker:
        worker(args)
        return
    kind = f"{gpus} GPU(s): {torch.cuda.get_device_name(0)}" if gpus else "CPU (gloo)"
    print(f"DDP scaling on {kind}; U-Net {args.arch} {args.size}px, batch {args.bs} per process")
    print(f"{'procs':>5} {'images/s':>10} {'speed-up':>9} {'efficiency':>10}")
    base = None
    for n in range(1, args.max_procs + 1):
        ips = measure(n, args)["images_per_s"]
        base = base or ips
        print(f"{n:>5} {ips:>10.1f} {ips / base:>9.2f} {ips / (n * base):>10.2f}", flush=True)


if __name__ == "__main__":
    main()
