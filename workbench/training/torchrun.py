"""The torchrun command line for a distributed ``train`` or ``predict`` (no torch import, so the
window can build it without loading torch.distributed)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.runs import RunStatus

if TYPE_CHECKING:
    from workbench.core.db import ProjectDB

ENTRY_MODULE = "workbench.training.launch"
DEFAULT_RDZV_ID = "workbench"
# Options of `workbench train/predict` that configure torchrun, not the run on each rank.
LAUNCHER_OPTIONS = ("--nproc-per-node", "--nnodes", "--node-rank", "--rdzv-endpoint", "--rdzv-id")


@dataclass(frozen=True)
class LaunchPlan:
    """How many processes on this machine, how many machines, and where they meet."""

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    rdzv_id: str = DEFAULT_RDZV_ID

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1:
            raise ValueError(f"--nproc-per-node must be at least 1, got {self.nproc_per_node}")
        if self.nnodes < 1:
            raise ValueError(f"--nnodes must be at least 1, got {self.nnodes}")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (a machine all nodes "
                             "can reach; the same value on every node)")
        if self.rdzv_endpoint and ":" not in self.rdzv_endpoint:
            raise ValueError(f"--rdzv-endpoint must be HOST:PORT, got {self.rdzv_endpoint!r}")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes


def torchrun_command(plan: LaunchPlan, entry_args: Sequence[str],
                     python: str | None = None) -> list[str]:
    """``python -m torch.distributed.run ... -m workbench.training.launch -- ENTRY_ARGS``.

    One machine without an endpoint: ``--standalone`` (a free local port is picked). Otherwise
    the c10d rendezvous at ``HOST:PORT``; no restarts, so a failure ends the job."""
    cmd = [python or sys.executable, "-m", "torch.distributed.run",
           f"--nproc-per-node={plan.nproc_per_node}", "--max-restarts=0"]
    if plan.nnodes == 1 and not plan.rdzv_endpoint:
        cmd.append("--standalone")
    else:
        cmd += [f"--nnodes={plan.nnodes}", f"--node-rank={plan.node_rank}",
                "--rdzv-backend=c10d", f"--rdzv-endpoint={plan.rdzv_endpoint}",
                f"--rdzv-id={plan.rdzv_id}"]
    # "--": torchrun's parser takes any of our options that starts one of its own as that
    # option (`predict --run ID` is "ambiguous: --run-path, --run_path") unless they follow it.
    return [*cmd, "-m", ENTRY_MODULE, "--", *entry_args]


def strip_launcher_options(argv: Sequence[str]) -> list[str]:
    """``argv`` without the torchrun options (``--opt V`` and ``--opt=V`` forms)."""
    out: list[str] = []
    skip = False
    for tok in argv:
        if skip:
            skip = False
            continue
        name = tok.split("=", 1)[0]
        if name in LAUNCHER_OPTIONS:
            skip = "=" not in tok
            continue
        out.append(tok)
    return out


def record_launch_failure(db: ProjectDB, run_ids: Iterable[str], message: str) -> list[str]:
    """After a distributed launch failed (not stopped by the user): its runs that rank 0
    recorded as "cancelled" become "failed" with ``message``, and are returned. When one process
    dies, torchrun stops the others with SIGTERM, which rank 0 cannot tell from a Stop."""
    changed = []
    for run_id in run_ids:
        run = db.get_run(run_id)
        if run is not None and run.status is RunStatus.CANCELLED:
            db.update_run(run_id, status=RunStatus.FAILED, error=message)
            changed.append(run_id)
    return changed
