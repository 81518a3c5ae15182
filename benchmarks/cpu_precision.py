"""Training speed on the CPU in fp32 and in ``auto`` precision, and whether it learns as well.

Speed: our Learner trains a U-Net (resnet18 and resnet34 encoders, 128 and 256 px, batch 8) on
batches already in memory, fp32 and ``auto`` alternating round by round (order flipped every
round) from the same initial weights; images/s is the median over rounds. ``auto`` is bf16
autocast with channels-last where this CPU runs bf16 natively (AVX512-BF16 / AMX), else fp32,
so on a CPU without it both rows are fp32 and the ratio is about 1.

Learning: the nuclei demo trained with the same recipe and seed at each precision (window
defaults: resnet18, 128 px, batch 8, 3 + 2 epochs, a fixed max LR so the LR finder does not
differ between them); the validation Dice after the last epoch, per seed and on average.

    .venv/bin/python benchmarks/cpu_precision.py [--steps 6] [--rounds 3] [--seeds 2]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from workbench.training.data import DataBunch
from workbench.training.device import cpu_bf16_native, resolve_precision
from workbench.training.learner import Learner
from workbench.training.losses import loss_for_task
from workbench.training.models import build_model
from workbench.training.session import metrics_for_task

N_CLASSES = 2


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="resnet18,resnet34")
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6, help="timed training steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=2, help="demo trainings per precision")
    ap.add_argument("--lr", type=float, default=3e-3, help="max LR of the demo trainings")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    ap.add_argument("--skip-dice", action="store_true")
    return ap.parse_args()


def learner_on(batches: list[tuple], size: int, bs: int, base: torch.nn.Module,
               precision: str) -> Learner:
    classes = [f"c{i}" for i in range(N_CLASSES)]
    data = DataBunch(batches, batches[:1], "segmentation", classes, [(0, 0, 0)] * N_CLASSES,
                     size, bs)
    data.__class__ = type("InMemoryBunch", (DataBunch,), {"device": torch.device("cpu")})
    return Learner(copy.deepcopy(base), data, loss_for_task("segmentation"),
                   metrics_for_task("segmentation", classes), precision=precision)


def images_per_second(arch: str, size: int, args: argparse.Namespace) -> dict[str, list[float]]:
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(args.bs, 3, size, size, generator=g),
                torch.randint(0, N_CLASSES, (args.bs, size, size), generator=g))
               for _ in range(args.steps)]
    torch.manual_seed(0)
    base, _ = build_model("segmentation", arch, N_CLASSES, pretrained=None)
    learners = {p: learner_on(batches, size, args.bs, base, p) for p in ("fp32", "auto")}
    for learn in learners.values():  # warm-up: kernels chosen, memory allocated
        learn.data.train_dl = batches[:2]
        learn.fit_one_cycle(1, 1e-3)
        learn.data.train_dl = batches
    rates: dict[str, list[float]] = {p: [] for p in learners}
    images = (args.steps + 1) * args.bs  # the training steps + one validation batch
    for r in range(args.rounds):
        for name in (list(learners) if r % 2 == 0 else list(reversed(learners))):
            t0 = time.perf_counter()
            learners[name].fit_one_cycle(1, 1e-3)
            rates[name].append(images / (time.perf_counter() - t0))
    return rates


def demo_dice(precision: str, seed: int, root: Path, lr: float) -> float:
    from workbench.core.demo import create_demo
    from workbench.core.project import Project
    from workbench.training.config import TrainConfig
    from workbench.training.session import train

    with Project.open(create_demo(root / f"{precision}-{seed}", "segmentation")) as project:
        config = TrainConfig(arch="resnet18", size=128, bs=8, freeze_epochs=3, epochs=2,
                             lr=lr, seed=seed, precision=precision)
        learner = train(project, config)
        return float(learner.recorder.epochs[-1]["dice_mean"])


def main() -> int:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    auto = resolve_precision(torch.device("cpu"), "auto")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} "
          f"CPUs; bf16 native: {cpu_bf16_native()}, so auto = {auto.name}"
          f"{' + channels-last' if auto.channels_last else ''}")
    print(f"U-Net, batch {args.bs}, {args.steps} steps x {args.rounds} rounds (median images/s)")
    print(f"{'arch':10}{'size':>6}{'fp32':>10}{'auto':>10}{'auto/fp32':>11}")
    for arch in args.archs.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            rates = images_per_second(arch, size, args)
            fp32, fast = statistics.median(rates["fp32"]), statistics.median(rates["auto"])
            print(f"{arch:10}{size:6}{fp32:10.1f}{fast:10.1f}{fast / fp32:10.2f}x", flush=True)
    if not args.skip_dice:
        root = Path(tempfile.mkdtemp(prefix="wb-prec-"))
        dice = {p: [demo_dice(p, s, root, args.lr) for s in range(args.seeds)]
                for p in ("fp32", "auto")}
        print(f"\nnuclei demo, resnet18 128 px, 3 + 2 epochs at max LR {args.lr:g}: valid Dice")
        for p, values in dice.items():
            print(f"{p:6} {statistics.mean(values):.3f}  (seeds: "
                  f"{', '.join(f'{v:.3f}' for v in values)})")
        diff = statistics.mean(dice["auto"]) - statistics.mean(dice["fp32"])
        print(f"auto - fp32: {diff:+.3f} (goal: within 0.01)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
