"""``workbench runs``: the run history, which run is the model, and deleting runs (no torch)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from workbench.core.project import Project
from workbench.core.runs import Run, choose_model, current_model, delete_run, disk_usage


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "runs", help="list runs, choose the model, delete runs",
        description="The project's training runs, newest first: status, parent, metric and "
                    "size on disk; '*' marks the current model (the run predict, interpret, "
                    "rank, refit and export use when no --run is given).")
    p.add_argument("project", type=Path)
    p.add_argument("--json", action="store_true", help="print the runs as JSON")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    a = actions.add_parser("use", help="make a run the current model (keeps a rejected refit)")
    a.add_argument("run", metavar="ID")
    a = actions.add_parser("delete", help="delete a run and its files (not the current model)")
    a.add_argument("runs", nargs="+", metavar="ID")
    p.set_defaults(func=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    if args.action == "use":
        with Project.open(args.project) as project:
            run = choose_model(project, args.run)
        print(f"run {run.run_id} is the current model")
        return 0
    if args.action == "delete":
        with Project.open(args.project) as project:
            for run_id in args.runs:
                freed = delete_run(project, run_id)
                print(f"deleted run {run_id} ({_size(freed)} freed)")
        return 0
    with Project.open(args.project, readonly=True) as project:
        runs = project.db.list_runs()
        current = current_model(project)
        sizes = {r.run_id: disk_usage(project, r.run_id) for r in runs}
        # Team projects: the label version of each image a run trained on (none locally).
        pins = {r.run_id: project.pinned_labels(r.run_id) for r in runs} if project.is_team \
            else {}
    current_id = current.run_id if current else None
    if args.json:
        print(json.dumps([{**r.to_json(), "current": r.run_id == current_id,
                           "bytes": sizes[r.run_id],
                           **({"label_versions": pins[r.run_id]} if r.run_id in pins else {})}
                          for r in runs], indent=1))
        return 0
    if not runs:
        print(f"{args.project}: no runs yet")
        return 0
    print(f"  {'run':20} {'status':11} {'parent':20} {'metric':18} {'size':>8}  started")
    for r in runs:
        mark = "*" if r.run_id == current_id else " "
        print(f"{mark} {r.run_id:20} {r.status.value:11} {r.parent or '-':20} "
              f"{_metric(r):18} {_size(sizes[r.run_id]):>8}  "
              f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(r.created_at))}")
    if current_id is None:
        print("no current model yet: train one")
    return 0


def _metric(run: Run) -> str:
    if run.best_metric is None:
        return "-"
    return f"{run.metric_name or 'metric'} {run.best_metric:.4f}"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
