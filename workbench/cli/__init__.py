"""Headless command line: every command is a thin layer over workbench.core and workbench.training.

Each command module exposes ``register(subparsers)`` and sets ``func`` on its parsers; ``func(args)``
returns an exit code. Modules are imported lazily where they pull in torch or Qt, so ``--help``
and project commands stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from workbench import __version__
from workbench.core.errors import WorkbenchError
from workbench.core.procs import Terminated, sigterm_as_interrupt

COMMAND_MODULES = (
    "workbench.cli.project_cmds",
    "workbench.cli.team_cmds",
    "workbench.cli.train_cmds",
    "workbench.cli.loop_cmds",
    "workbench.cli.run_cmds",
    "workbench.cli.weights_cmds",
    "workbench.cli.gui_cmds",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Label images and train segmentation / multi-label models on them.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (Qt, demo, training, export) and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.raw_argv = list(sys.argv[1:] if argv is None else argv)  # re-run under torchrun
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s",
    )
    if args.self_test:
        from workbench.selftest import run  # lazy: imports Qt and torch

        return run()
    if args.command is None:
        # Plain `workbench` opens the window, like double-clicking the app.
        args = parser.parse_args(["open", *([] if argv is None else argv)])
    try:
        with sigterm_as_interrupt():  # `timeout`, systemd, docker: a Stop, not a kill
            return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        print("workbench: stopped (SIGTERM); a training run keeps its last completed epoch "
              "and is recorded as cancelled", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
