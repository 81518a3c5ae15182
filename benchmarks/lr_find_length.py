"""How short can the LR sweep be and still find the same valley?

Runs the LR finder on the demo projects (nuclei segmentation, fashion-tags multilabel) with the
window's default model settings, for several sweep lengths and LR ranges and several seeds, in
one process. Each sweep runs to its end (no divergence stop) and keeps its raw losses; the
finder's smoothing and divergence stop are then applied afterwards (exactly: stopping only cuts
the curve short), with the smoothing factor of the old 100-batch sweep and with one scaled to
the sweep's length. Prints every valley next to the 100-batch sweep of the same seed (the old
default, fastai's) and the distance in decades (|log10(valley / reference)|).

    .venv/bin/python benchmarks/lr_find_length.py [--sweeps 100:1e-7,30:1e-7,30:1e-5,20:1e-5]
                                                  [--seeds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", default="100:1e-7,30:1e-7,30:1e-5,20:1e-5",
                    help="LENGTH:START_LR,... (end lr 10); the first one is the reference")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--projects", default="segmentation,multilabel")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    ap.add_argument("--save", type=Path, help="write every raw curve to this JSON file")
    return ap.parse_args()


def finder_view(lrs: list[float], raw: list[float], beta: float) -> dict[str, float]:
    """What the LR finder reports for this raw curve with smoothing ``beta``: smooth, stop
    where it would have stopped, suggest."""
    from workbench.training.callbacks import SmoothLoss
    from workbench.training.lr_find import STOP_FACTOR, suggest

    smooth, best, out = SmoothLoss(beta), math.inf, []
    for value in raw:
        s = smooth.update(value) if math.isfinite(value) else math.nan
        out.append(s)
        if not math.isfinite(s):
            break
        best = min(best, s)
        if s > STOP_FACTOR * best:
            break
    result = suggest(lrs[:len(out)], out)
    result["batches"] = len(out)
    return result


def main() -> int:
    args = parse_args()
    import torch

    from workbench.core.demo import create_demo
    from workbench.core.project import Project
    from workbench.training.config import TrainConfig
    from workbench.training.lr_find import smoothing_for
    from workbench.training.session import build_learner

    if args.threads:
        torch.set_num_threads(args.threads)
    sweeps = [(int(n), float(lr)) for n, lr in (s.split(":") for s in args.sweeps.split(","))]
    tmp = Path(tempfile.mkdtemp(prefix="wb-lrlen-"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.arch} "
          f"{args.size}px bs {args.bs}, precision {args.precision}; reference "
          f"{sweeps[0][0]} batches from {sweeps[0][1]:g}; end lr 10", flush=True)
    curves: list[dict[str, object]] = []
    gaps: dict[str, list[float]] = {}
    for task in args.projects.split(","):
        project = Project.open(create_demo(tmp / task, task))
        for seed in range(args.seeds):
            ref: float | None = None
            for n, start in sweeps:
                config = TrainConfig(arch=args.arch, size=args.size, bs=args.bs, seed=seed,
                                     precision=args.precision)
                learner = build_learner(project, config)
                t0 = time.perf_counter()
                res = learner.lr_find(start_lr=start, num_it=n, stop_div=False)
                secs = time.perf_counter() - t0
                curves.append({"task": task, "seed": seed, "n": n, "start": start,
                               "lrs": res.lrs, "raw": res.raw_losses, "seconds": secs})
                for label, beta in (("beta .98", 0.98), ("scaled", smoothing_for(n, start))):
                    view = finder_view(res.lrs, res.raw_losses, beta)
                    if ref is None:
                        ref = view["valley"]
                    gap = abs(math.log10(view["valley"] / ref))
                    key = f"{task:12} {n:3} from {start:g} {label}"
                    gaps.setdefault(key, []).append(gap)
                    print(f"{task:12} seed {seed} {n:3} from {start:g} {label:8}: stops after "
                          f"{view['batches']:3} ({secs / len(res.lrs):.2f} s/batch)  valley "
                          f"{view['valley']:.2e}  |log10(valley/ref)| {gap:.2f}", flush=True)
        project.close()
    if args.save:
        args.save.write_text(json.dumps(curves))
    print("\nsummary: distance from the reference valley of the same seed, in decades")
    for key, values in gaps.items():
        print(f"{key}: median {statistics.median(values):.2f}, max {max(values):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
