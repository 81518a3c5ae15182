"""How fast the corrections loop turns: from "a correction was saved" to "new predictions for
every image are on disk", on the nuclei demo, CPU, with a 2-epoch refit.

    .venv/bin/python benchmarks/refit_latency.py            # --threads 2 --epochs 2 --size 64

Builds the demo in a temporary folder (or --dir), trains a 6-epoch parent run first (not timed),
corrects one validation image's mask and saves it (queued with its diff, as the window does),
then times ``refit`` and prints the split: refit (training), evaluation (queue and validation,
before and after), prediction (every image, plus the uncertainty ranking). Goal: <= 60 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.cli import main as cli
from workbench.core.project import Project
from workbench.core.queue import mask_change
from workbench.training.config import TrainConfig
from workbench.training.refit import RefitSettings, refit
from workbench.training.session import train

GOAL_S = 60.0


def correct_and_save(project: Project, name: str) -> None:
    """A person's correction: paint a 24x24 nucleus block, save, queue it with its diff."""
    old = project.read_mask(name)
    new = old.copy()
    h, w = new.shape
    new[h // 2 - 12:h // 2 + 12, w // 2 - 12:w // 2 + 12] = 1
    project.write_mask(name, new)
    project.queue.add(name, reason="corrected", change=mask_change(old, new, project.classes))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, help="demo folder (default: a new temporary folder)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    ap.add_argument("--epochs", type=int, default=2, help="refit epochs (2)")
    # A parent of 2 epochs (8 steps) is barely trained: its BatchNorm statistics are far off,
    # its eval-mode loss on the queued image is ~50 and a refit's before/after means nothing.
    ap.add_argument("--parent-epochs", type=int, default=6, help="parent run epochs (6)")
    ap.add_argument("--size", type=int, default=64, help="training size of the parent (64)")
    ap.add_argument("--arch", default="resnet18")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="refit-latency-")) / "nuclei"
    if cli(["demo", "--no-gui", "--dir", str(folder)]) != 0:
        return 1
    with Project.open(folder) as project:
        t0 = time.perf_counter()
        parent = train(project, TrainConfig(arch=args.arch, size=args.size, bs=8, lr=1e-2,
                                            epochs=args.parent_epochs, pretrained=None,
                                            device="cpu")).run_id
        print(f"parent run {parent}: {args.arch} {args.size}px, {args.parent_epochs} epochs in "
              f"{time.perf_counter() - t0:.1f} s (not timed)")
        name = project.split()[1][0]
        correct_and_save(project, name)
        start = time.perf_counter()  # "an image was corrected and saved"
        result = refit(project, parent, RefitSettings(epochs=args.epochs, device="cpu"))
        total = time.perf_counter() - start
        preds = project.predictions_dir / result.run
        n_images = len(project.image_names())
        done = len(list(preds.glob("*.png")))
    if done != n_images:
        print(f"only {done} of {n_images} predictions written")
        return 1
    s = result.seconds
    other = total - sum(s.values())
    print(f"refit run {result.run}: {len(result.items)} queued image ({name}), "
          f"{args.epochs} epochs, {n_images} predictions on disk")
    print(f"saved -> predictions on disk: {total:.1f} s (goal <= {GOAL_S:.0f} s, "
          f"ratio {total / GOAL_S:.2f})")
    for part in ("refit", "evaluation", "prediction"):
        print(f"  {part:11} {s[part]:6.1f} s  ({s[part] / total:4.0%})")
    print(f"  {'setup':11} {other:6.1f} s  (loading the parent, building loaders)")
    for part in ("queue", "valid"):
        b, a = result.before[part], result.after[part]
        label = "queued image" if part == "queue" else "validation"
        print(f"{label} loss {b['loss']:.3f} -> {a['loss']:.3f}, dice_mean "
              f"{b.get('dice_mean', float('nan')):.3f} -> {a.get('dice_mean', float('nan')):.3f}")
    load = os.getloadavg()
    print(f"{args.threads} torch threads on {os.cpu_count()} CPUs; load average "
          f"{load[0]:.1f} (other work on this machine slows every number above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
