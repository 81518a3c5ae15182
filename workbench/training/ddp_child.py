"""A distributed training run as a child process of the window: torchrun started with the
project and config as command-line options, rank 0's JSON-lines log tailed and turned back into
the same report messages an in-process run sends, and a Stop that ends every process.

No torch import here (the window must not load torch.distributed); everything distributed
happens in the children.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from workbench.training.config import TrainConfig
from workbench.training.errors import TrainingError
from workbench.training.reports import BatchEnd, EpochEnd, FitEnded, FitStarted
from workbench.training.torchrun import LaunchPlan, torchrun_command

log = logging.getLogger(__name__)
STOP_GRACE_S = 30.0  # torchrun's own grace for its workers is 30 s; then SIGKILL
POLL_S = 0.1
DDP_DEVICE = "ddp"  # TrainConfig.device value meaning "all GPUs of this machine, DDP"


def config_args(config: TrainConfig) -> list[str]:
    """``workbench train`` options that reproduce ``config``."""
    args = ["--arch", config.arch, "--size", str(config.size), "--bs", str(config.bs),
            "--epochs", str(config.epochs), "--wd", repr(config.wd),
            "--pct-start", repr(config.pct_start), "--seed", str(config.seed),
            "--workers", str(config.num_workers), "--freeze-epochs", str(config.freeze_epochs),
            "--pretrained", config.pretrained or "none"]
    if config.lr is not None:
        args += ["--lr", repr(config.lr)]
    if config.lrs is not None:
        lrs = config.lrs if isinstance(config.lrs, (tuple, list)) else [config.lrs]
        args += ["--lrs", ",".join(repr(float(v)) for v in lrs)]
    if config.resize:
        args += ["--resize", ",".join(str(s) for s in config.resize)]
    if config.resize_epochs is not None:
        args += ["--resize-epochs", str(config.resize_epochs)]
    if config.only_stage:
        args += ["--only-stage", config.only_stage]
    args += ["--precision", config.precision, "--lr-find-iters", str(config.lr_find_iters)]
    args += ["--lr-find-each-stage"] * config.lr_find_each_stage
    args += ["--unfreeze"] * config.unfreeze + ["--top-down"] * config.top_down
    return args


def message_from_record(rec: dict[str, Any], stage: FitStarted | None) -> object | None:
    """The report message a JsonlLogger record was written from (None for unknown types)."""
    kind = rec.get("type")
    nan = float("nan")
    if kind == "stage":
        return FitStarted(rec["stage"], rec["epochs"], rec["batches_per_epoch"],
                          rec.get("total_iters", rec["epochs"] * rec["batches_per_epoch"]),
                          list(rec.get("metric_names", [])), rec.get("run_id", ""))
    if kind == "batch":
        total = stage.total_iters if stage else rec["iter"] + 1
        return BatchEnd(rec["epoch"], rec["batch"], rec["iter"], total, rec["lr"], rec["mom"],
                        _num(rec["loss"]), _num(rec["smooth_loss"]))
    if kind == "epoch":
        fixed = ("type", "epoch", "train_loss", "valid_loss", "seconds")
        metrics = {k: _num(v) for k, v in rec.items() if k not in fixed}
        return EpochEnd(rec["epoch"], _num(rec["train_loss"]), _num(rec["valid_loss"]),
                        metrics, rec.get("seconds") or nan)
    if kind == "end":
        return FitEnded(bool(rec["cancelled"]), rec.get("error"),
                        stage.run_id if stage else "", rec.get("best_metric"))
    return None


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


class DdpChildRun:
    """``run(report)`` starts torchrun, forwards rank 0's progress to ``report`` and returns
    the run id; ``stop()`` (any thread) ends every process. A failed run raises TrainingError
    with the message of the rank that failed."""

    def __init__(self, project_root: Path, config: TrainConfig, nproc: int,
                 python: str | None = None) -> None:
        self.root, self.config, self.nproc = Path(project_root), config, nproc
        self.python = python or sys.executable
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self.run_id = ""
        self.cancelled = False  # True only after stop(): a failed peer also ends rank 0 early
        self._seen: set[int] = set()

    def command(self, log_path: Path) -> list[str]:
        entry = [str(self.root), *config_args(self.config), "--log-jsonl", str(log_path),
                 "--parent-holds-lock"]
        return torchrun_command(LaunchPlan(self.nproc), entry, python=self.python)

    def run(self, report: Callable[[object], None]) -> str:
        with tempfile.TemporaryDirectory(prefix="workbench-ddp-") as tmp:
            log_path, err_path = Path(tmp) / "rank0.jsonl", Path(tmp) / "stderr.txt"
            log_path.touch()
            with open(err_path, "wb") as err, open(log_path, encoding="utf-8") as tail:
                self.proc = subprocess.Popen(self.command(log_path), stdout=subprocess.DEVNULL,
                                             stderr=err, start_new_session=True)
                if self._stopping.is_set():  # Stop pressed while starting
                    self.stop()
                self._follow(tail, report)
            code = self.proc.wait()
            stderr = err_path.read_text(errors="replace")
        for pid in self._seen:  # workers orphaned by a killed torchrun
            if _is_ours(pid):
                _kill(pid)
        if code != 0 and not self.cancelled:
            raise TrainingError(failure_message(stderr, code))
        return self.run_id

    def _follow(self, tail: IO[str], report: Callable[[object], None]) -> None:
        import json

        stage: FitStarted | None = None
        buf = ""
        assert self.proc is not None
        next_scan = 0.0
        while True:
            if time.monotonic() > next_scan:  # remember the workers, to clean up after
                self._seen.update(descendants(self.proc.pid))
                next_scan = time.monotonic() + 1.0
            chunk = tail.read()
            if chunk:
                buf += chunk
                *lines, buf = buf.split("\n")
                for line in lines:
                    msg = message_from_record(json.loads(line), stage) if line.strip() else None
                    if isinstance(msg, FitStarted):
                        stage, self.run_id = msg, msg.run_id
                    if msg is not None:
                        report(msg)
            elif self.proc.poll() is not None:
                return
            else:
                time.sleep(POLL_S)

    def stop(self) -> None:
        """SIGTERM to torchrun (it stops its workers); SIGKILL to what is left after the
        grace period. Runs the wait on a helper thread so the caller is not blocked."""
        self._stopping.set()
        self.cancelled = True
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        tree = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)

        def reap() -> None:
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("torchrun did not stop within %.0fs; killing it", STOP_GRACE_S)
            for pid in [proc.pid, *tree]:
                _kill(pid)

        threading.Thread(target=reap, name="ddp-stop", daemon=True).start()


def failure_message(stderr: str, code: int) -> str:
    """The workbench error line of the failing rank, else the root cause from torchrun's
    summary (which process ended and how), else the last lines."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    ours = [ln.split("workbench: error:", 1)[1].strip() for ln in lines
            if "workbench: error:" in ln]
    if ours:
        return ours[0]
    root = re.search(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)[ \t]*([^\n]*)",
                     stderr, re.DOTALL)
    if root:
        rank, exitcode, detail = root.group(1), root.group(2), (root.group(3) or "").strip()
        return (f"process rank {rank} ended with exit code {exitcode} {detail}; torchrun "
                "stopped the others").replace("  ", " ")
    tail = " ".join(lines[-3:]) if lines else "no output"
    return f"the distributed run failed (torchrun exit code {code}): {tail}"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _is_ours(pid: int) -> bool:
    """Still alive and still a torchrun/workbench process (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"workbench" in cmdline or b"torch" in cmdline


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
