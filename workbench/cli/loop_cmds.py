"""The corrections loop: ``interpret``, ``rank``, ``queue`` and ``refit`` (torch only when run)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from workbench.cli.train_cmds import (  # the --lr parser of `workbench train`
    _lr,
    add_precision_option,
)
from workbench.core.errors import ProjectError
from workbench.core.project import Project
from workbench.core.queue import describe_change
from workbench.core.runs import require_model

REJECTED_EXIT = 3  # `workbench refit` when the guard kept the previous model


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "interpret", help="top losses of a run on the validation images",
        description="Score every validation image with a run's model, highest loss first, "
                    "with Dice (segmentation) or missed/extra tags (multilabel) and the most "
                    "confused classes or tags. Writes the scored images' predictions.")
    p.add_argument("project", type=Path)
    p.add_argument("--run", help="run id (default: the current model)")
    p.add_argument("--top", type=int, default=10, help="images to print / render (10)")
    p.add_argument("--json", type=Path, metavar="OUT",
                   help="write {run, items (every image), most_confused} to OUT")
    p.add_argument("--grid", type=Path, metavar="OUT.png", help="render the top N as one PNG")
    p.add_argument("--device", default="auto")
    p.add_argument("--bs", type=int, default=8)
    p.set_defaults(func=cmd_interpret)

    p = subparsers.add_parser(
        "rank", help="rank unlabelled images by the model's uncertainty",
        description="Score every unlabelled image with a run's model (most uncertain first) "
                    "and store the scores, so the window's 'Most uncertain first' uses them.")
    p.add_argument("project", type=Path)
    p.add_argument("--run", help="run id (default: the current model)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write {run, items} to OUT")
    p.add_argument("--device", default="auto")
    p.add_argument("--bs", type=int, default=8)
    p.set_defaults(func=cmd_rank)

    _register_queue(subparsers)
    _register_refit(subparsers)


def _register_queue(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "queue", help="list, add, import, remove or clear corrections queue items",
        description="The corrections queue the next refit trains on.")
    p.add_argument("project", type=Path)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("list", help="list the queue (pending and used items)")
    a.add_argument("--json", action="store_true", help="print the items as JSON")
    a = actions.add_parser("add", help="queue images by name")
    a.add_argument("images", nargs="+", metavar="IMAGE")
    a.add_argument("--reason", default="added by hand")
    a.add_argument("--run", help="the run that got these images wrong")
    a = actions.add_parser("import", help="import production feedback as queue items")
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--masks", type=Path, metavar="DIR", help="corrected index masks")
    src.add_argument("--csv", type=Path, metavar="FILE", help="image_name,tags CSV")
    a.add_argument("--images", type=Path, metavar="DIR", help="images the project lacks")
    a.add_argument("--run", help="the run whose predictions were corrected")
    a = actions.add_parser("remove", help="remove items by id")
    a.add_argument("ids", nargs="+", type=int, metavar="ID")
    actions.add_parser("clear", help="remove every pending item (used ones stay)")
    p.set_defaults(func=cmd_queue)


def _register_refit(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "refit", help="fine-tune a run on the corrections queue",
        description="Fine-tune a run's model on the pending queue items (oversampled) mixed "
                    "with a replay sample of the other training images, one-cycle at a rate "
                    "measured on that mix; prints loss and metric before and after, on the "
                    "queue and validation. A refit that makes validation worse is rejected: "
                    f"the parent stays the current model, the exit status is {REJECTED_EXIT} "
                    "and the queue items stay pending (--keep-worse keeps it anyway).")
    p.add_argument("project", type=Path)
    p.add_argument("--run", help="parent run (default: the current model)")
    p.add_argument("--epochs", type=int, default=2, help="epochs (2)")
    p.add_argument("--lr", type=_lr, default=None,
                   help="head max LR (default: measured by a short sweep on the refit mix, "
                        "at most the parent's)")
    p.add_argument("--keep-worse", action="store_true",
                   help="keep the refit even when the guard would reject it")
    p.add_argument("--replay", type=float, default=0.5,
                   help="fraction of the other training images replayed per epoch (0.5)")
    p.add_argument("--bs", type=int, help="batch size (default: the parent's)")
    p.add_argument("--device", default="auto")
    add_precision_option(p)
    p.add_argument("--json", type=Path, metavar="OUT",
                   help="write {run, parent, items, before, after} to OUT")
    p.set_defaults(func=cmd_refit)


def _write_json(path: Path, data: Any) -> None:
    from workbench.core.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def cmd_interpret(args: argparse.Namespace) -> int:
    from workbench.training.interpret import interpret_run, render_grid

    with Project.open(args.project) as project:
        interp = interpret_run(project, args.run, device=args.device, batch_size=args.bs)
        if args.grid:
            render_grid(project, interp, args.top, args.grid)
    if args.json:
        _write_json(args.json, interp.to_json())
    seg = interp.task == "segmentation"
    print(f"run {interp.run}: {len(interp.items)} validation image(s), highest loss first")
    for item in interp.items[:args.top]:
        if seg:
            dice = "  n/a " if item.dice is None else f"{item.dice:6.3f}"
            print(f"  {item.loss:8.4f}  dice {dice}  {item.image}")
        else:
            wrong = [f"-{t}" for t in item.missed] + [f"+{t}" for t in item.extra]
            print(f"  {item.loss:8.4f}  {' '.join(wrong) or '(all right)':24}  {item.image}")
    if interp.most_confused:
        print("most confused:")
        for row in interp.most_confused[:5]:
            print(f"  {row['actual']} -> {row['predicted']}: {row['pixels']:,} px" if seg else
                  f"  {row['tag']}: missed {row['missed']}, extra {row['extra']}")
    if args.grid:
        print(f"grid written to {args.grid}")
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    from workbench.training.uncertainty import rank_unlabelled

    with Project.open(args.project) as project:
        run = require_model(project, args.run).run_id
        ranked = rank_unlabelled(project, run, device=args.device, batch_size=args.bs)
    if args.json:
        _write_json(args.json, {"run": run, "items": [
            {"image": n, "uncertainty": s} for n, s in ranked]})
    print(f"run {run}: {len(ranked)} unlabelled image(s), most uncertain first")
    for name, score in ranked[:20]:
        print(f"  {score:.4f}  {name}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    with Project.open(args.project, readonly=args.action == "list") as project:
        queue = project.queue
        if args.action == "list":
            return _print_queue(queue.items(), args.json)
        if args.action == "add":
            known = set(project.image_names())
            unknown = [n for n in args.images if n not in known]
            if unknown:
                raise ProjectError(f"{', '.join(unknown)}: not an image of {project.root}.")
            for name in args.images:
                item = queue.add(name, reason=args.reason, run_id=args.run)
                print(f"queued #{item.id} {name}")
            return 0
        if args.action == "import":
            return _import_feedback(project, args)
        if args.action == "remove":
            have = {i.id for i in queue.items()}
            missing = [str(i) for i in args.ids if i not in have]
            if missing:
                raise ProjectError(f"no queue item with id {', '.join(missing)}.")
            queue.remove(args.ids)
            print(f"removed {len(args.ids)} item(s)")
            return 0
        n = len(queue.pending())
        queue.clear()
        print(f"cleared {n} pending item(s)")
        return 0


def _print_queue(items: list[Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps([i.to_json() for i in items], indent=1))
        return 0
    if not items:
        print("the corrections queue is empty")
    for i in items:
        state = f"used by {i.used_by}" if i.used else "pending"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.added_at))
        print(f"#{i.id:<4} {i.image:24} {state:28} run {i.run_id or '-':18} {when}  "
              f"{describe_change(i.change) or i.reason}")
    return 0


def _import_feedback(project: Project, args: argparse.Namespace) -> int:
    from workbench.core.feedback import import_feedback

    report = import_feedback(project, masks_dir=args.masks, csv_path=args.csv,
                             images_dir=args.images, run_id=args.run)
    print(report.summary())
    return 0 if report.ok else 1


def _fmt(value: Any) -> str:
    if value is None:
        return "    n/a"
    return f"{value:7.4f}" if abs(value) < 1e4 else f"{value:7.2e}"  # a blown-up loss


def cmd_refit(args: argparse.Namespace) -> int:
    from workbench.training.progress import ConsoleProgress
    from workbench.training.refit import RefitSettings, refit
    from workbench.training.reports import ReportCallback

    settings = RefitSettings(epochs=args.epochs, lr=args.lr, replay=args.replay,
                             device=args.device, batch_size=args.bs, keep_worse=args.keep_worse,
                             precision=args.precision)
    with Project.open(args.project) as project:
        result = refit(project, args.run, settings, callbacks=[ReportCallback(ConsoleProgress())])
    if args.json:
        _write_json(args.json, result.to_json())
    _print_refit(result)
    return 0 if result.accepted else REJECTED_EXIT


def _print_refit(result: Any) -> None:
    metric = result.verdict.metric if result.verdict.metric != "loss" else None
    print(f"refit {result.run} of {result.parent} on {len(result.items)} queued image(s), "
          f"head LR {result.rate.lrs[-1]:.2e} ({result.rate.rule})")
    print(f"{'':8}{'loss before':>12}{'loss after':>12}"
          + (f"{metric + ' before':>18}{metric + ' after':>17}" if metric else ""))
    for part in ("queue", "valid"):
        b, a = result.before.get(part) or {}, result.after.get(part) or {}
        if not b:
            print(f"{part:8}{'(no image)':>12}")
            continue
        row = f"{part:8}{_fmt(b['loss']):>12}{_fmt(a['loss']):>12}"
        if metric:
            row += f"{_fmt(b.get(metric)):>18}{_fmt(a.get(metric)):>17}"
        print(row)
    secs = result.seconds
    print(f"time: refit {secs['refit']:.1f} s, evaluation {secs['evaluation']:.1f} s, "
          f"prediction {secs['prediction']:.1f} s")
    verdict = result.verdict
    if verdict.kept_anyway:
        print(f"kept although worse (--keep-worse): {'; '.join(verdict.reasons)}. "
              f"Run {result.run} is the current model.")
    elif result.accepted:
        note = f" ({verdict.reasons[0]})" if verdict.reasons else ""
        print(f"kept{note}: run {result.run} is the current model.")
    else:
        print(f"rejected: {'; '.join(verdict.reasons)}. Kept the previous model "
              f"{result.parent}; the queue items stay pending. Keep the refit anyway with "
              f"`workbench runs PROJECT use {result.run}`, or refit with --lr or more "
              "corrections.")
