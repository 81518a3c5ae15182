"""torchrun + DDP on CPU with gloo: a 2-process run, 2 x bs4 against 1 x bs8, a killed rank,
NaN on one rank, 2 simulated machines, and a sharded predict (each test starts real processes)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.cli import main
from workbench.core.project import Project
from workbench.core.runs import Run
from workbench.training import checkpoints
from workbench.training.data import data_spec
from workbench.training.ddp_child import descendants, failure_message, message_from_record
from workbench.training.metrics import MultilabelMetrics, SegmentationMetrics
from workbench.training.predict import load_model, run_dir
from workbench.training.progress import JsonlLogger
from workbench.training.reports import BatchEnd, EpochEnd, FitEnded, FitStarted
from workbench.training.torchrun import (
    LaunchPlan,
    record_launch_failure,
    strip_launcher_options,
    torchrun_command,
)

REPO = Path(__file__).resolve().parents[2]
LOSS_TOL = 0.05  # relative, per batch (measured: under 1%)
# fp32: these tests compare runs and evaluations to 1e-6, which bf16's rounding (auto precision
# on a CPU with native bf16) would not survive; precision has its own tests.
FAST = ["--size", "64", "--arch", "resnet18", "--pretrained", "none", "--lr", "1e-3",
        "--precision", "fp32"]


def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        out.pop(key, None)
    out.update(extra)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workbench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, env=env(), cwd=REPO, timeout=timeout, check=False)


def start_rank(rank: int, world: int, port: int, argv: list[str], script: str | None = None,
               **extra: str) -> subprocess.Popen[str]:
    """One rank started by hand (no torchrun agent): what a peer sees when another dies."""
    rank_env = env(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                   LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), **extra)
    cmd = ([sys.executable, "-c", script, *argv] if script
           else [sys.executable, "-m", "workbench.training.launch", *argv])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=rank_env, cwd=REPO)


def jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def only_run(root: Path) -> tuple[str, Run]:
    with Project.open(root, readonly=True) as project:
        runs = project.db.list_runs()
    assert len(runs) == 1, runs
    return runs[0].run_id, runs[0]


def single_process_eval(root: Path, run_id: str) -> dict[str, float]:
    """Validation metrics of a run's checkpoint computed in this one process."""
    with Project.open(root, readonly=True) as project:
        ckpt = checkpoints.load(run_dir(project, run_id) / checkpoints.LAST)
        spec = data_spec(project, seed=0)
    data = spec.build(int(ckpt["size"]), 8, torch.device("cpu"))
    model = load_model(ckpt)
    metric = SegmentationMetrics(ckpt["classes"])
    with torch.no_grad():
        for xb, yb in data.valid_dl:
            metric.accumulate(model(xb), yb)
    return metric.value()


def close(a: float, b: float, tol: float = 1e-6) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= tol


def _train_args(root: Path, log: Path, *extra: str) -> list[str]:
    return ["train", str(root), "--epochs", "1", *FAST, "--log-jsonl", str(log), *extra]


# --------------------------------------------------------------------------- pure parts
def test_torchrun_command_and_forwarded_arguments() -> None:
    plan = LaunchPlan(2)
    cmd = torchrun_command(plan, ["P", "--epochs", "1"], python="py")
    assert cmd[:3] == ["py", "-m", "torch.distributed.run"]
    assert "--standalone" in cmd and "--nproc-per-node=2" in cmd
    assert cmd[-6:] == ["-m", "workbench.training.launch", "--", "P", "--epochs", "1"]
    multi = torchrun_command(LaunchPlan(1, 2, 1, "10.0.0.1:29400"), ["P"])
    assert "--rdzv-backend=c10d" in multi and "--rdzv-endpoint=10.0.0.1:29400" in multi
    assert "--node-rank=1" in multi and "--standalone" not in multi
    with pytest.raises(ValueError, match="rdzv-endpoint"):
        LaunchPlan(1, nnodes=2)
    argv = ["P", "--nproc-per-node", "2", "--bs=4", "--nnodes=2", "--rdzv-endpoint", "h:1"]
    assert strip_launcher_options(argv) == ["P", "--bs=4"]


def test_torchrun_passes_every_option_through_unchanged() -> None:
    """torchrun's own parser must hand each process exactly our arguments: without the "--"
    it took `--run ID` for an abbreviation of its `--run-path` and refused the command."""
    from torch.distributed.run import get_args_parser

    entries = (["predict", "P", "--run", "20261130-005702", "--out", "o", "--images", "valid"],
               ["P", "--epochs", "2", "--bs", "4", "--lr", "1e-3", "--log-jsonl", "l",
                "--resume", "r", "--size", "64", "--seed", "3", "--device", "cpu"])
    for entry in entries:
        for plan in (LaunchPlan(2), LaunchPlan(1, 2, 1, "10.0.0.1:29400")):
            args = get_args_parser().parse_args(torchrun_command(plan, entry)[3:])
            assert args.module and args.training_script == "workbench.training.launch"
            forwarded = args.training_script_args
            if forwarded[:1] == ["--"]:  # as launch.main drops it
                forwarded = forwarded[1:]
            assert forwarded == entry


def test_a_failed_launch_turns_its_cancelled_runs_into_failed_ones(tmp_path) -> None:
    from workbench.core.db import ProjectDB

    db = ProjectDB(tmp_path / "project.db")
    for run_id, status in (("a", "cancelled"), ("b", "failed"), ("c", "cancelled")):
        db.add_run(run_id, {})
        db.update_run(run_id, status=status, error="own")
    assert record_launch_failure(db, ["a", "b"], "rank 1 died") == ["a"]
    assert [(db.get_run(r).status, db.get_run(r).error) for r in "abc"] == [
        ("failed", "rank 1 died"), ("failed", "own"), ("cancelled", "own")]
    db.close()


def test_jsonl_records_read_back_as_the_messages_written() -> None:
    stage = FitStarted("unfrozen 64px", 2, 3, 6, ["dice_mean", "pixel_acc"], "r1")
    sent = [stage, BatchEnd(0, 1, 1, 6, 1e-3, 0.9, 0.5, 0.45),
            EpochEnd(0, 0.5, 0.4, {"dice_mean": 0.7, "pixel_acc": float("nan")}, 1.5),
            FitEnded(False, "boom", "r1", 0.7)]
    buf = io.StringIO()
    logger = JsonlLogger(buf)
    for msg in sent:
        logger(msg)
    got, current = [], None
    for line in buf.getvalue().splitlines():
        msg = message_from_record(json.loads(line), current)
        current = msg if isinstance(msg, FitStarted) else current
        got.append(msg)
    assert got[:2] == sent[:2] and got[3] == sent[3]
    assert got[2].metrics["dice_mean"] == 0.7 and np.isnan(got[2].metrics["pixel_acc"])


def test_gathered_metrics_equal_one_process_over_the_whole_set() -> None:
    """Two shards combined by gather() give the metrics of all batches in one process."""
    g = torch.Generator().manual_seed(0)
    seg = [(torch.randn(2, 3, 8, 8, generator=g), torch.randint(0, 3, (2, 8, 8), generator=g))
           for _ in range(3)]
    tags = [(torch.randn(4, 3, generator=g), torch.randint(0, 2, (4, 3), generator=g).float())
            for _ in range(3)]
    for make, batches in ((lambda: SegmentationMetrics(["a", "b", "c"]), seg),
                          (lambda: MultilabelMetrics(["x", "y", "z"]), tags)):
        whole, shards = make(), [make(), make()]
        for i, (pred, targ) in enumerate(batches):
            whole.accumulate(pred, targ)
            shards[i % 2].accumulate(pred, targ)
        states: list = []
        for metric in shards:  # each rank's contribution (gathering only itself keeps it)
            metric.gather(lambda obj, s=states: s.append(obj) or [obj])
        for metric in shards:  # what all_gather_object hands every rank: all contributions
            metric.gather(lambda obj, s=states: s)
            assert metric.value() == pytest.approx(whole.value(), nan_ok=True)


TORCHRUN_SUMMARY = """
workbench: stopped by torchrun (Stop or Ctrl-C, or another process failed)
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
workbench.training.launch FAILED
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-11-29_21:58:08
  host      : vm
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 4909)
  error_file: <N/A>
  traceback : Signal 9 (SIGKILL) received by PID 4909
============================================================
"""


def test_window_error_names_the_failed_process() -> None:
    assert failure_message(TORCHRUN_SUMMARY, 1) == (
        "process rank 1 ended with exit code -9 (pid: 4909); torchrun stopped the others")
    ours = "INFO: x\nworkbench: error: rank 1/2: Out of GPU memory at batch size 8\n"
    assert failure_message(ours + TORCHRUN_SUMMARY, 1) == (
        "rank 1/2: Out of GPU memory at batch size 8")


# --------------------------------------------------------------------------- real runs
def run_ids(root: Path) -> set[str]:
    with Project.open(root, readonly=True) as project:
        return {r.run_id for r in project.db.list_runs()}


def test_two_by_bs4_follows_one_by_bs8_writes_once_and_validates_on_the_whole_set(
        seg_project, tmp_path) -> None:
    """1 x bs8, then 2 x bs4 (one run pair, for time). Same seed, same global batches
    (DistributedSampler's permutation split by rank), so the curves agree closely but not
    bitwise: augmentation draws differ per process, BatchNorm normalises over 4 images instead
    of 8, the segmentation loss is a mean over each rank's labelled pixels, and float sums run
    in another order. The 2-process run writes once (rank 0) and its logged validation metrics
    are those of the whole validation set; a 2-process predict equals one in this process."""
    root = seg_project.root
    seg_project.close()
    curves, ids = [], []
    for nproc, bs in ((1, "8"), (2, "4")):
        log = tmp_path / f"log{nproc}.jsonl"
        before = run_ids(root)
        res = workbench(*_train_args(root, log, "--bs", bs, "--nproc-per-node", str(nproc),
                                     "--epochs", "3"))
        assert res.returncode == 0, res.stderr[-3000:]
        records = jsonl(log)
        assert [r["type"] for r in records].count("stage") == 1  # rank 0 alone writes the log
        curves.append([r["loss"] for r in records if r["type"] == "batch"])
        (new_run,) = run_ids(root) - before
        ids.append(new_run)
    one, two = np.array(curves[0]), np.array(curves[1])
    assert len(one) == len(two) == 3  # 9 images: one global batch of 8 per epoch
    assert np.all(np.abs(one - two) <= LOSS_TOL * one), (one, two)
    assert not np.array_equal(one, two)

    run_id = ids[1]
    with Project.open(root, readonly=True) as project:
        assert project.db.get_run(run_id).status == "finished"
    assert sorted(p.name for p in (root / "models").iterdir()) == sorted(ids)
    assert [p.name for p in (root / "models" / run_id).iterdir()] == ["last.pt"]
    ckpt = checkpoints.load(root / "models" / run_id / "last.pt")
    assert not any(k.startswith("module.") for k in ckpt["model"])  # the unwrapped model
    assert ckpt["config"]["extra"]["ddp"] == {"world_size": 2, "global_bs": 8, "sync_bn": False}
    logged = ckpt["history"]["epochs"][-1]
    here = single_process_eval(root, run_id)
    for name in ("dice_mean", "iou_mean", "pixel_acc", "dice_shape", "iou_background"):
        assert close(logged[name], here[name]), (name, logged[name], here[name])

    # predict split over 2 processes == predict in one, file for file
    split, single = tmp_path / "split", tmp_path / "single"
    res = workbench("predict", str(root), "--run", run_id, "--out", str(split),
                    "--nproc-per-node", "2", "--precision", "fp32")
    assert res.returncode == 0, res.stderr[-3000:]
    assert main(["predict", str(root), "--run", run_id, "--out", str(single),
                 "--precision", "fp32"]) == 0
    names = sorted(p.name for p in single.iterdir())
    assert len(names) == 12 and sorted(p.name for p in split.iterdir()) == names
    for name in names:
        assert (split / name).read_bytes() == (single / name).read_bytes(), name


def test_killed_rank_makes_the_other_exit_with_a_clear_error(seg_project, tmp_path) -> None:
    root = seg_project.root
    seg_project.close()
    port, log = free_port(), tmp_path / "log.jsonl"
    argv = [str(root), "--epochs", "6", *FAST, "--bs", "4", "--log-jsonl", str(log)]
    timeout = 20
    ranks = [start_rank(r, 2, port, argv, WORKBENCH_DDP_TIMEOUT=str(timeout)) for r in (0, 1)]
    try:
        deadline = time.monotonic() + 150
        while not any(r["type"] == "epoch" for r in jsonl(log)):
            assert ranks[0].poll() is None, ranks[0].communicate()[1][-3000:]
            assert time.monotonic() < deadline, "rank 0 never finished an epoch"
            time.sleep(0.2)
        ranks[1].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = ranks[0].communicate(timeout=timeout + 30)
        waited = time.monotonic() - killed_at
    finally:
        for p in ranks:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert ranks[0].returncode == 1, err[-3000:]
    assert "rank 0/2: lost contact with the other processes" in err
    assert waited < timeout + 30
    run_id, run = only_run(root)
    assert run.status == "failed"
    ckpt = checkpoints.load(root / "models" / run_id / "last.pt")  # the last complete epoch
    assert 1 <= len(ckpt["history"]["epochs"]) < 6


def rank_pid(rank: int, ancestor: int, timeout: float = 60) -> int:
    """The pid of the torchrun worker with RANK=rank below ``ancestor``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in descendants(ancestor):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"RANK={rank}".encode() in environ:
                return pid
        time.sleep(0.2)
    raise AssertionError(f"no rank {rank} below {ancestor}")


def test_rank_killed_under_torchrun_fails_the_run_then_resume_finishes_it(
        seg_project, tmp_path) -> None:
    """Rank 0 records "failed" itself when it sees the broken connection first; when
    torchrun's SIGTERM comes first it cannot tell that from a Stop and records "cancelled",
    which the launching command then corrects (both orders happen)."""
    root = seg_project.root
    seg_project.close()
    log = tmp_path / "log.jsonl"
    launch = subprocess.Popen(
        [sys.executable, "-m", "workbench", *_train_args(root, log, "--bs", "4", "--epochs", "6"),
         "--nproc-per-node", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO)
    try:
        deadline = time.monotonic() + 150
        while not any(r["type"] == "epoch" for r in jsonl(log)):
            assert launch.poll() is None, launch.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "rank 0 never finished an epoch"
            time.sleep(0.2)
        os.kill(rank_pid(1, launch.pid), signal.SIGKILL)
        _, err = launch.communicate(timeout=120)
    finally:
        for pid in [*descendants(launch.pid), launch.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert launch.returncode != 0, err[-3000:]
    run_id, run = only_run(root)
    assert run.status == "failed", run
    corrected = f"run {run_id} recorded as failed" in err
    assert ("torchrun exited" in run.error) == corrected, (run.error, err[-2000:])
    ckpt = checkpoints.load(root / "models" / run_id / "last.pt")  # the last complete epoch
    done = len(ckpt["history"]["epochs"])
    assert 1 <= done < 6

    # --resume on 2 processes finishes the same one-cycle from that checkpoint
    res = workbench("train", str(root), "--epochs", "6", "--resume", run_id,
                    "--nproc-per-node", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert only_run(root)[1].status == "finished"
    ckpt = checkpoints.load(root / "models" / run_id / "last.pt")
    assert len(ckpt["history"]["epochs"]) == 6
    assert ckpt["history"]["epochs"][done - 1]["epoch"] == done - 1


FAULT_ON_RANK_1 = """
import sys, torch, torch.distributed as dist
import workbench.training.session as session
from workbench.training.launch import main
make, fault = session.loss_for_task, sys.argv.pop(1)
def poisoned(task):
    loss = make(task)
    def f(pred, targ):
        out = loss(pred, targ)
        if dist.get_rank() != 1:
            return out
        if fault == "oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return out * float("nan")
    return f
session.loss_for_task = poisoned
sys.exit(main(sys.argv[1:]))
"""


def test_nan_on_one_rank_stops_every_rank_with_its_message(seg_project, tmp_path) -> None:
    root = seg_project.root
    seg_project.close()
    port = free_port()
    argv = [str(root), "--epochs", "2", *FAST, "--bs", "4"]
    ranks = [start_rank(r, 2, port, ["nan", *argv], script=FAULT_ON_RANK_1) for r in (0, 1)]
    outs = [p.communicate(timeout=150) for p in ranks]
    assert [p.returncode for p in ranks] == [1, 1], outs[0][1][-3000:]
    assert "training loss became nan on rank 1 at epoch 1, batch 1" in outs[0][1]
    assert "workbench: error" not in outs[1][1]  # said once, by rank 0
    assert only_run(root)[1].status == "failed"


def test_out_of_memory_on_one_rank_ends_every_rank(seg_project, tmp_path) -> None:
    """No half-batch retry under DDP: the rank that ran out says so and exits; its peer fails
    with the lost-contact error instead of waiting (torchrun would stop it at once)."""
    root = seg_project.root
    seg_project.close()
    port = free_port()
    argv = [str(root), "--epochs", "2", *FAST, "--bs", "4"]
    ranks = [start_rank(r, 2, port, ["oom", *argv], script=FAULT_ON_RANK_1,
                        WORKBENCH_DDP_TIMEOUT="30") for r in (0, 1)]
    outs = [p.communicate(timeout=150) for p in ranks]
    assert [p.returncode for p in ranks] == [1, 1], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert "rank 1/2: Out of GPU memory at batch size 4" in outs[1][1]
    assert "rank 0/2: lost contact with the other processes" in outs[0][1]


def test_two_machines_simulated_with_c10d_rendezvous(seg_project, tmp_path) -> None:
    root = seg_project.root
    seg_project.close()
    endpoint = f"127.0.0.1:{free_port()}"
    logs = [tmp_path / f"node{n}.jsonl" for n in (0, 1)]
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "workbench", *_train_args(root, logs[n], "--bs", "4"),
         "--nproc-per-node", "1", "--nnodes", "2", "--node-rank", str(n),
         "--rdzv-endpoint", endpoint, "--rdzv-id", f"test{endpoint}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO)
        for n in (0, 1)]
    outs = [p.communicate(timeout=240) for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    run_id, run = only_run(root)
    assert run.status == "finished"
    assert [p.name for p in (root / "models" / run_id).iterdir()] == ["last.pt"]
    # one of the two launches holds global rank 0 and alone writes its log
    assert sorted(bool(jsonl(p)) for p in logs) == [False, True]
