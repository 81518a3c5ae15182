"""Distributed ``train`` and ``predict``: start torchrun, and the work of each of its processes.

``workbench train PROJECT --nproc-per-node N`` re-runs the same command line under torchrun on
``workbench.training.launch``; inside torchrun (``RANK`` is set) the command runs as one rank.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _nproc(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nproc-per-node takes a number or 'auto', got "
                                         f"{text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--nproc-per-node must be at least 1, got {n}")
    return n


def add_launcher_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("several processes, GPUs or machines (torchrun + DDP)")
    g.add_argument("--nproc-per-node", type=_nproc, metavar="N|auto",
                   help="processes on this machine (auto: one per visible GPU); starts torchrun")
    g.add_argument("--nnodes", type=int, default=1, help="machines taking part (1)")
    g.add_argument("--node-rank", type=int, default=0, help="this machine's index (0)")
    g.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                   help="where the machines meet (c10d rendezvous); the same on every machine")
    g.add_argument("--rdzv-id", default="workbench", help="job id shared by the machines")


def inside_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def wants_torchrun(args: argparse.Namespace) -> bool:
    return getattr(args, "nproc_per_node", None) is not None and not inside_torchrun()


def _resolve_nproc(value: int | str) -> int:
    if value != "auto":
        return int(value)
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n == 0:
        raise SystemExit("workbench: error: --nproc-per-node auto uses every visible GPU and "
                         "none is visible; give a number to run that many CPU processes")
    return n


def spawn_torchrun(args: argparse.Namespace, command: str) -> int:
    """Run this command line under torchrun and return its exit code."""
    from workbench.training.torchrun import LaunchPlan, strip_launcher_options, torchrun_command

    raw = list(args.raw_argv)
    entry = strip_launcher_options(raw[raw.index(command) + 1:])
    if command == "predict":
        entry = ["predict", *entry]
    try:
        plan = LaunchPlan(_resolve_nproc(args.nproc_per_node), args.nnodes, args.node_rank,
                          args.rdzv_endpoint, args.rdzv_id)
    except ValueError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 2
    cmd = torchrun_command(plan, entry)
    log.info("Starting %d process(es) on this machine, %d in all: %s", plan.nproc_per_node,
             plan.world_size, " ".join(cmd))
    before = _run_ids(args.project) if command == "train" else None
    proc = subprocess.Popen(cmd)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to torchrun too; let it stop them
        return proc.wait()
    if code != 0 and before is not None:
        _record_failure(args.project, before, getattr(args, "resume", None), code)
    return code


def _run_ids(root: Path) -> set[str] | None:
    """The project's runs before a launch (None: it cannot be read here; the ranks say why)."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.project import Project

    try:
        with Project.open(root, readonly=True) as project:
            return {r.run_id for r in project.db.list_runs()}
    except WorkbenchError:
        return None


def _record_failure(root: Path, before: set[str], resumed: str | None, code: int) -> None:
    """The launch's run (new, or the one resumed) failed: see record_launch_failure."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.project import Project
    from workbench.training.torchrun import record_launch_failure

    message = (f"a process of the distributed run failed (torchrun exited with {code}); "
               "its error is in the launch's output")
    try:
        with Project.open(root) as project:
            ours = [r.run_id for r in project.db.list_runs()
                    if r.run_id not in before or r.run_id == resumed]
            for run_id in record_launch_failure(project.db, ours, message):
                print(f"workbench: run {run_id} recorded as failed", file=sys.stderr)
    except WorkbenchError as exc:  # e.g. the window holds the project: its record stays
        log.warning("could not record the failed run: %s", exc)


def train_rank(args: argparse.Namespace) -> int:
    """One rank of a distributed training run (args.device already set by the launcher)."""
    from workbench.cli.train_cmds import _config
    from workbench.training import distributed
    from workbench.training.ddp import DistributedCallback
    from workbench.training.progress import ConsoleProgress, JsonlLogger
    from workbench.training.reports import ReportCallback
    from workbench.training.session import resume_run, train

    main = distributed.is_main()
    cbs: list[Any] = [DistributedCallback(sync_bn=args.sync_bn)]
    jsonl = None
    if main:
        cbs.append(ReportCallback(ConsoleProgress()))
        if args.log_jsonl:
            jsonl = open(args.log_jsonl, "w", encoding="utf-8")  # noqa: SIM115
            cbs.append(ReportCallback(JsonlLogger(jsonl)))
    try:
        with _open_project(args.project, main, args.parent_holds_lock) as project:
            if args.resume:
                learner = resume_run(project, args.resume, cbs)
            else:
                config = _config(args)
                config.extra["ddp"] = {"world_size": distributed.world_size(),
                                       "global_bs": config.bs * distributed.world_size(),
                                       "sync_bn": bool(args.sync_bn)}
                learner = train(project, config, cbs)
    finally:
        if jsonl is not None:
            jsonl.close()
    if main:
        best, metric = learner.recorder.best_metric, learner.recorder.main_metric
        print(f"run {learner.run_id} finished on {distributed.world_size()} processes; "
              f"checkpoint {learner.checkpoint_dir}"
              + (f"; best {metric} {best:.4f}" if best is not None else ""))
    return 0


def _open_project(root: Path, main: bool, parent_holds_lock: bool) -> Any:
    """Rank 0 writes the run record; the other ranks only read. When the window that
    started the run holds the project's lock, rank 0 opens it read-only and writes the run
    record through its own database connection (SQLite serialises the writers)."""
    from workbench.core.db import ProjectDB
    from workbench.core.project import DB_NAME, Project

    if not main or not parent_holds_lock:
        return Project.open(root, readonly=not main)
    project = Project.open(root, readonly=True)
    if project.is_team:  # no folder lock to share: rank 0 writes like any other client
        project.close()
        return Project.open(root)
    project.db.close()
    project.db = ProjectDB(Path(project.root) / DB_NAME)
    return project


def predict_rank(args: argparse.Namespace) -> int:
    """One rank of a distributed prediction: every rank predicts its share of the images."""
    from workbench.core.project import Project
    from workbench.training import distributed
    from workbench.training.predict import predict_project

    with Project.open(args.project, readonly=True) as project:
        out = predict_project(project, args.run, args.images, args.out, args.device, args.bs,
                              precision=args.precision,
                              shard=(distributed.rank(), distributed.world_size()),
                              gather=distributed.all_gather_object)
    if distributed.is_main():
        print(f"predictions written to {Path(out)} by {distributed.world_size()} processes")
    return 0
