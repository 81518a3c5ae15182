"""Throughput of our Learner (recorder, one-cycle scheduler, metrics on) vs a bare PyTorch loop.

Same model architecture and initial weights, same in-memory batches, same AdamW settings;
the two loops alternate several rounds and the median images/s of each is compared.

    .venv/bin/python benchmarks/train_overhead.py [--arch resnet18] [--size 64] [--bs 8]
        [--steps 20] [--rounds 3] [--task segmentation|multilabel]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from workbench.training.data import DataBunch
from workbench.training.learner import Learner
from workbench.training.losses import loss_for_task
from workbench.training.models import build_model
from workbench.training.session import metrics_for_task


def make_batches(task: str, n: int, bs: int, size: int, n_out: int) -> list[tuple]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        x = torch.randn(bs, 3, size, size, generator=g)
        if task == "segmentation":
            y = torch.randint(0, n_out, (bs, size, size), generator=g)
        else:
            y = (torch.rand(bs, n_out, generator=g) < 0.3).float()
        out.append((x, y))
    return out


def bare_loop(model, batches, valid, loss_fn, lr: float) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5,
                            weight_decay=0.01)
    t0 = time.perf_counter()
    model.train()
    for x, y in batches:
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad():
        for x, y in valid:
            loss_fn(model(x), y)
    return time.perf_counter() - t0


def learner_loop(learn: Learner) -> float:
    t0 = time.perf_counter()
    learn.fit_one_cycle(1, 1e-3)
    return time.perf_counter() - t0


def fastai_learner(base, batches, valid, loss_fn):
    """fastai's Learner (Recorder, ParamScheduler via fit_one_cycle) over the same batches."""
    from functools import partial

    import fastai.callback.schedule  # noqa: F401  (adds fit_one_cycle to Learner)
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner as FastaiLearner
    from fastai.optimizer import Adam

    class ListLoader(list):
        device = torch.device("cpu")

        def new(self, *args, **kwargs):
            return self

        def to(self, device):
            return self

    dls = DataLoaders(ListLoader(batches), ListLoader(valid))
    learn = FastaiLearner(dls, copy.deepcopy(base), loss_func=loss_fn,
                          opt_func=partial(Adam, eps=1e-5, wd=0.01))
    learn.remove_cb(learn.progress) if hasattr(learn, "progress") else None
    fastai_loop(learn)  # warm-up
    return learn


def fastai_loop(learn) -> float:
    t0 = time.perf_counter()
    with learn.no_logging():
        learn.fit_one_cycle(1, 1e-3)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="segmentation", choices=["segmentation", "multilabel"])
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fastai", action="store_true",
                    help="also time fastai's Learner on the same batches (needs fastai)")
    args = ap.parse_args()
    n_out = 2 if args.task == "segmentation" else 10
    classes = [f"c{i}" for i in range(n_out)]
    batches = make_batches(args.task, args.steps, args.bs, args.size, n_out)
    valid = batches[:1]
    torch.manual_seed(0)
    base, _ = build_model(args.task, args.arch, n_out, pretrained=None)
    loss_fn = loss_for_task(args.task)
    data = DataBunch(batches, valid, args.task, classes, [(0, 0, 0)] * n_out, args.size,
                     args.bs)
    data.__class__ = type("InMemoryBunch", (DataBunch,), {"device": torch.device("cpu")})
    learn = Learner(copy.deepcopy(base), data, loss_fn, metrics_for_task(args.task, classes))
    bare_model = copy.deepcopy(base)
    bare_loop(bare_model, batches[:2], valid, loss_fn, 1e-3)  # warm-up both
    learner_loop(learn)
    images = (args.steps + 1) * args.bs
    fast = fastai_learner(base, batches, valid, loss_fn) if args.fastai else None
    bare, ours, fai = [], [], []
    runs = [lambda: bare.append(images / bare_loop(bare_model, batches, valid, loss_fn, 1e-3)),
            lambda: ours.append(images / learner_loop(learn))]
    if fast is not None:
        runs.append(lambda: fai.append(images / fastai_loop(fast)))
    for r in range(args.rounds):
        # Rotate the order each round so neither loop always runs first (caches, clocks).
        for k in range(len(runs)):
            runs[(k + r) % len(runs)]()
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"{args.task} {args.arch} {args.size}px bs {args.bs}, {args.steps} steps x "
          f"{args.rounds} rounds, {torch.get_num_threads()} threads")
    print(f"bare loop : {b:8.1f} images/s  (rounds: {', '.join(f'{v:.1f}' for v in bare)})")
    print(f"Learner   : {o:8.1f} images/s  (rounds: {', '.join(f'{v:.1f}' for v in ours)})")
    print(f"ratio Learner/bare = {o / b:.3f} (medians), {max(ours) / max(bare):.3f} (best "
          "rounds: least disturbed by other load)")
    if fai:
        f = statistics.median(fai)
        print(f"fastai    : {f:8.1f} images/s  (rounds: {', '.join(f'{v:.1f}' for v in fai)})")
        print(f"ratio Learner/fastai = {o / f:.3f} (medians), {max(ours) / max(fai):.3f} (best)")


if __name__ == "__main__":
    main()
