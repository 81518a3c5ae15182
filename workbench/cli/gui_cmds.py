"""``workbench open [PROJECT]``: the window. Qt is imported only when the command runs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "open", help="open the window (on PROJECT, or the welcome screen with recent projects)",
        description="Open the Workbench window on PROJECT. Without PROJECT, show the welcome "
                    "screen: new project, open project, recent projects, demo.")
    p.add_argument("project", nargs="?", type=Path, help="project folder (has workbench.json)")
    p.add_argument("--theme", choices=["light", "dark"], help="colour theme (default: light)")
    p.set_defaults(func=cmd_open)


def cmd_open(args: argparse.Namespace) -> int:
    if getattr(args, "theme", None):
        os.environ["WORKBENCH_THEME"] = args.theme
    from workbench.app import run_app  # lazy: keeps `workbench --help` free of Qt

    return run_app(args.project)
