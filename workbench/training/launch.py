"""Entry point of every process of a distributed run (what torchrun starts):

    torchrun --nproc-per-node 4 -m workbench.training.launch -- PROJECT --epochs 5 [train options]
    torchrun --nproc-per-node 4 -m workbench.training.launch -- predict PROJECT [predict options]

The options are those of ``workbench train`` / ``workbench predict``. Each process joins the
process group (NCCL on GPUs, gloo on CPU), runs its part, and only rank 0 writes the run's
checkpoint, run record, JSON-lines log and progress table.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence

import torch

from workbench.core.errors import WorkbenchError
from workbench.core.procs import Terminated, raise_terminated
from workbench.training import distributed
from workbench.training.errors import NonFiniteLossError

log = logging.getLogger(__name__)


def is_comm_failure(exc: BaseException) -> bool:
    """A collective failed: a peer died, closed its connection or exceeded the timeout."""
    if isinstance(exc, getattr(torch.distributed, "DistError", ())):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        s in text for s in ("gloo", "NCCL", "Connection closed", "Timed out", "timed out",
                            "Connection reset", "Broken pipe"))


def run_distributed(args: argparse.Namespace, work: Callable[[argparse.Namespace], int]) -> int:
    """Join the group, run ``work(args)`` on this rank, and turn failures into one clear line
    and a non-zero exit code (torchrun then stops the other processes)."""
    env = distributed.DistEnv.from_environ()
    if env is None:
        print("workbench: error: not started by torchrun (no RANK/WORLD_SIZE); use "
              "`workbench train PROJECT --nproc-per-node N` or torchrun", file=sys.stderr)
        return 2
    # SIGTERM from torchrun (Stop in the window, Ctrl-C on torchrun, or a peer failed) ends
    # like Ctrl-C: the Learner records a cancel and re-raises; checkpoints are atomic.
    signal.signal(signal.SIGTERM, raise_terminated)
    tag = f"rank {env.rank}/{env.world_size}"
    try:
        args.device = str(distributed.init_process_group(env, args.device).type)
        return work(args)
    except NonFiniteLossError as exc:  # every rank saw it (the loss is all-reduced): say it once
        if env.rank == 0:
            print(f"workbench: error: {exc}", file=sys.stderr)
        return 1
    except WorkbenchError as exc:
        print(f"workbench: error: {tag}: {exc}", file=sys.stderr)
        return 1
    except torch.cuda.OutOfMemoryError as exc:
        print(f"workbench: error: {tag}: out of GPU memory ({exc}); use a smaller --bs or --size",
              file=sys.stderr)
        return 1
    except Terminated:
        if env.rank == 0:
            print("\nworkbench: stopped by torchrun (Stop or Ctrl-C, or another process "
                  "failed: torchrun's summary names it); the last completed epoch's checkpoint "
                  "is kept", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        if env.rank == 0:
            print("\nworkbench: interrupted; the last completed epoch's checkpoint is kept",
                  file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_comm_failure(exc):
            raise
        print(f"workbench: error: {tag}: lost contact with the other processes (one failed, "
              f"was killed or did not answer within {distributed.timeout_seconds():.0f}s): "
              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        try:
            distributed.destroy_process_group()
        except Exception:  # a broken group cannot always be torn down; exiting cleans up
            log.debug("destroy_process_group failed", exc_info=True)


def main(argv: Sequence[str] | None = None) -> int:
    from workbench.cli import build_parser  # the same options as `workbench train/predict`

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # torchrun passes the "--" it was given on when it keeps it
        argv = argv[1:]
    command = ["predict", *argv[1:]] if argv[:1] == ["predict"] else ["train", *argv]
    args = build_parser().parse_args(command)
    args.raw_argv = command
    env = distributed.DistEnv.from_environ()
    level = logging.INFO if env is None or env.rank == 0 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
