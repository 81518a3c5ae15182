"""Training commands: ``lr-find``, ``train``, ``predict`` (torch is imported only when run)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from workbench.cli.ddp_cmds import (
    add_launcher_options,
    inside_torchrun,
    predict_rank,
    spawn_torchrun,
    train_rank,
    wants_torchrun,
)
from workbench.core.procs import Terminated
from workbench.training.config import LR_FIND_ITERS, LR_FIND_START

log = logging.getLogger(__name__)
ARCH_CHOICES = ("resnet18", "resnet34", "resnet50")
PRECISION_CHOICES = ("auto", "fp32", "bf16")
PRECISION_HELP = ("auto (default): bf16 with channels-last where the CPU runs bf16 natively, "
                  "the GPU's mixed precision on CUDA, fp32 elsewhere; fp32; bf16")


def add_precision_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                   help=PRECISION_HELP)


def _lr_pair(text: str) -> float | tuple[float, float]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI learning rates, got {text!r}") from None
    if len(values) == 1:
        return values[0]  # head gets it, earlier groups a tenth
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected LO,HI learning rates, got {text!r}")
    return (values[0], values[1])


def _lr(text: str) -> float | None:
    if text == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--lr takes a number or 'auto', got {text!r}") from None


def _sizes(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 128,256, got {text!r}") from None


def _count(minimum: int) -> Any:
    """argparse type: an integer >= ``minimum`` with a message saying why."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            what = "nothing would be trained" if minimum > 0 else "it cannot be negative"
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}: {what}")
        return value
    return parse


def _pretrained(text: str) -> str | None:
    return None if text.lower() in ("none", "no", "off") else text


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", type=Path, help="project folder")
    p.add_argument("--size", type=int, default=128, help="training image size in px (128)")
    p.add_argument("--bs", type=int, default=8, help="batch size (8)")
    p.add_argument("--arch", choices=ARCH_CHOICES, default="resnet34", help="encoder (resnet34)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (auto)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes (0)")
    p.add_argument("--top-down", action="store_true",
                   help="top-down imagery: add vertical flips and 90-degree rotations")
    p.add_argument("--pretrained", type=_pretrained, default="auto",
                   help="auto (torch hub cache), none (random init) or a .pth file")
    add_precision_option(p)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("lr-find", help="run the learning-rate finder",
                              description="Sweep the learning rate and print suggestions.")
    _common(p)
    p.add_argument("--num-it", type=_count(2), default=LR_FIND_ITERS,
                   help=f"sweep length in batches ({LR_FIND_ITERS}; it stops sooner when the "
                   "loss diverges)")
    p.add_argument("--start-lr", type=float, default=LR_FIND_START,
                   help=f"first learning rate of the sweep ({LR_FIND_START:g})")
    p.add_argument("--end-lr", type=float, default=10.0)
    p.add_argument("--json", type=Path, metavar="OUT",
                   help="write {lrs, losses, suggestions} with the full series to OUT")
    p.set_defaults(func=cmd_lr_find)

    p = subparsers.add_parser("train", help="train a model on the labelled images",
                              description="Train with the one-cycle policy (fast.ai recipe).")
    _common(p)
    p.add_argument("--epochs", type=_count(1), required=True,
                   help="epochs of the main stage (unfrozen after --freeze-epochs)")
    p.add_argument("--lr", type=_lr, default=None, help="max learning rate, or 'auto' (default)")
    p.add_argument("--lrs", type=_lr_pair, help="discriminative rates: LO,HI spread over layer groups, or X (head X, rest X/10)")
    p.add_argument("--freeze-epochs", type=_count(0), default=0,
                   help="epochs training only the decoder/head first (0)")
    p.add_argument("--unfreeze", action="store_true",
                   help="train the whole network even with pretrained weights")
    p.add_argument("--resize", type=_sizes, help="progressive resizing, e.g. 128,256")
    p.add_argument("--resize-epochs", type=_count(1), metavar="N",
                   help="epochs at each size after the first (default: --epochs)")
    p.add_argument("--wd", type=float, default=0.01, help="weight decay (0.01)")
    p.add_argument("--pct-start", type=float, default=0.25, help="warm-up fraction (0.25)")
    p.add_argument("--lr-find-iters", type=_count(2), default=LR_FIND_ITERS, metavar="N",
                   help=f"with --lr auto: LR sweep length in batches ({LR_FIND_ITERS})")
    p.add_argument("--lr-find-each-stage", action="store_true",
                   help="with --lr auto: sweep before every stage instead of deriving the "
                   "later stages' rates from the first sweep")
    p.add_argument("--log-jsonl", type=Path, metavar="FILE",
                   help="write one JSON object per batch and per epoch to FILE")
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run")
    p.add_argument("--sync-bn", action="store_true",
                   help="with several GPUs: BatchNorm statistics over the global batch")
    # The window starts DDP runs while it holds the project's write lock.
    p.add_argument("--parent-holds-lock", action="store_true", help=argparse.SUPPRESS)
    # The panel's "run one stage" choice (TrainConfig.only_stage), forwarded to DDP children.
    p.add_argument("--only-stage", help=argparse.SUPPRESS)
    add_launcher_options(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("predict", help="predict masks or tags with a trained run",
                              description="Write <stem>.png masks or predictions.csv.")
    p.add_argument("project", type=Path)
    p.add_argument("--run", help="run id (default: the newest run with a checkpoint)")
    p.add_argument("--images", choices=("all", "unlabelled", "valid"), default="all")
    p.add_argument("--out", type=Path, help="output folder (default <project>/predictions/<run>)")
    p.add_argument("--device", default="auto")
    p.add_argument("--bs", type=int, default=8)
    add_precision_option(p)
    add_launcher_options(p)
    p.set_defaults(func=cmd_predict)


def _config(args: argparse.Namespace) -> Any:
    from workbench.training.config import TrainConfig

    return TrainConfig(
        arch=args.arch, size=args.size, bs=args.bs, epochs=getattr(args, "epochs", 1),
        lr=getattr(args, "lr", None), wd=getattr(args, "wd", 0.01),
        pct_start=getattr(args, "pct_start", 0.25), top_down=args.top_down, device=args.device,
        freeze_epochs=getattr(args, "freeze_epochs", 0), unfreeze=getattr(args, "unfreeze", False),
        lrs=getattr(args, "lrs", None), resize=getattr(args, "resize", None),
        resize_epochs=getattr(args, "resize_epochs", None),
        only_stage=getattr(args, "only_stage", None), seed=args.seed,
        num_workers=args.workers, pretrained=args.pretrained, precision=args.precision,
        lr_find_iters=getattr(args, "lr_find_iters", LR_FIND_ITERS),
        lr_find_each_stage=getattr(args, "lr_find_each_stage", False),
    )


def cmd_lr_find(args: argparse.Namespace) -> int:
    from workbench.core.project import Project
    from workbench.training.lr_cache import find_lr
    from workbench.training.progress import ConsoleProgress
    from workbench.training.reports import ReportCallback
    from workbench.training.session import build_learner

    with Project.open(args.project) as project:
        learner = build_learner(project, _config(args), [ReportCallback(ConsoleProgress())])
        # Always a new sweep (it is what was asked for), remembered for `train --lr auto`.
        res = find_lr(learner, args.num_it, reuse=False, start_lr=args.start_lr,
                      end_lr=args.end_lr)
    if args.json:
        args.json.write_text(json.dumps(
            {"lrs": res.lrs, "losses": [v if math.isfinite(v) else None for v in res.losses],
             "suggestions": res.suggestions}, indent=1))
    for name, value in res.suggestions.items():
        print(f"{name:>8}: {value:.3e}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if wants_torchrun(args):
        return spawn_torchrun(args, "train")
    if inside_torchrun():
        from workbench.training.launch import run_distributed

        return run_distributed(args, train_rank)
    from workbench.core.project import Project
    from workbench.training.progress import ConsoleProgress, JsonlLogger
    from workbench.training.reports import ReportCallback
    from workbench.training.session import resume_run, train

    jsonl = open(args.log_jsonl, "w", encoding="utf-8") if args.log_jsonl else None  # noqa: SIM115
    try:
        cbs = [ReportCallback(ConsoleProgress())]
        if jsonl is not None:
            cbs.append(ReportCallback(JsonlLogger(jsonl)))
        with Project.open(args.project) as project:
            try:
                if args.resume:
                    learner = resume_run(project, args.resume, cbs)
                else:
                    learner = train(project, _config(args), cbs)
            except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (procs.Terminated)
                how = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
                print(f"\n{how}; the run is recorded as cancelled and keeps its last completed "
                      "epoch's checkpoint (resume it with --resume)", file=sys.stderr)
                return 143 if isinstance(exc, Terminated) else 130
    finally:
        if jsonl is not None:
            jsonl.close()
    best = learner.recorder.best_metric
    metric = learner.recorder.main_metric
    print(f"run {learner.run_id} finished; checkpoint {learner.checkpoint_dir}"
          + (f"; best {metric} {best:.4f}" if best is not None else ""))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if wants_torchrun(args):
        return spawn_torchrun(args, "predict")
    if inside_torchrun():
        from workbench.training.launch import run_distributed

        return run_distributed(args, predict_rank)
    from workbench.core.errors import ReadOnlyError
    from workbench.core.project import Project
    from workbench.training.predict import predict_project

    with Project.open(args.project, readonly=True) as project:
        try:
            out = predict_project(project, args.run, args.images, args.out, args.device,
                                  args.bs, precision=args.precision)
        except ReadOnlyError as exc:
            raise ReadOnlyError(f"{exc} Or write the predictions elsewhere: --out DIR.") from exc
    print(f"predictions written to {out}")
    return 0
