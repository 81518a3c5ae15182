"""Images/s of our training loader (decode + augment + collate + normalise) at 128 and 256 px
with 0, 1 and 2 worker processes, next to the model's own training step rate at that size.

If the loader is faster than the model, data never starves training.

    .venv/bin/python benchmarks/data_pipeline.py [--project PATH] [--arch resnet34] [--bs 8]
        [--batches 10] [--sizes 128,256] [--workers 0,1,2]

Without --project it builds the nuclei demo (60 grey 256x256 images, 40 of them labelled) in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from workbench.core.demo import create_demo
from workbench.core.project import Project
from workbench.training.data import data_spec
from workbench.training.losses import loss_for_task
from workbench.training.models import build_model


def loader_rate(spec, size: int, bs: int, workers: int, batches: int) -> float:
    spec.num_workers = workers
    data = spec.build(size, bs, torch.device("cpu"))
    it = iter(data.train_dl)
    next(it)  # worker start-up is paid once per training run, not per batch
    n, t0 = 0, time.perf_counter()
    while n < batches:
        try:
            x, _ = next(it)
        except StopIteration:
            it = iter(data.train_dl)
            continue
        n += 1
        images = x.shape[0]
    return batches * images / (time.perf_counter() - t0)


def model_rate(task: str, arch: str, n_out: int, size: int, bs: int, steps: int) -> float:
    model, _ = build_model(task, arch, n_out, pretrained=None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = loss_for_task(task)
    x = torch.randn(bs, 3, size, size)
    y = torch.randint(0, n_out, (bs, size, size)) if task == "segmentation" else torch.zeros(bs, n_out)
    model.train()
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()  # first step warms up allocators
        loss_fn(model(x), y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * bs / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path)
    ap.add_argument("--arch", default="resnet34")
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--model-steps", type=int, default=3)
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--workers", default="0,1,2")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    root = args.project or create_demo(Path(tmp.name) / "nuclei", "segmentation")
    with Project.open(root, readonly=True) as project:
        spec = data_spec(project)
        task, n_out = spec.task, len(spec.classes)
        print(f"{root}: {task}, {len(spec.train_names)} training images, bs {args.bs}, "
              f"{torch.get_num_threads()} torch threads")
        print(f"{'size':>5} {'workers':>8} {'loader img/s':>13} {'model img/s':>12} {'ratio':>7}")
        for size in [int(s) for s in args.sizes.split(",")]:
            model = model_rate(task, args.arch, n_out, size, args.bs, args.model_steps)
            for workers in [int(w) for w in args.workers.split(",")]:
                rate = loader_rate(spec, size, args.bs, workers, args.batches)
                print(f"{size:>5} {workers:>8} {rate:>13.1f} {model:>12.1f} {rate / model:>7.1f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
