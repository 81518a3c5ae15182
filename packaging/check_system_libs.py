#!/usr/bin/env python3
"""Check (and, as root, install) the system libraries PySide6's xcb and offscreen platforms need.

Runs with a plain ``python3`` (standard library only), before the virtual environment exists.

    python3 packaging/check_system_libs.py                   # report; exit 1 if something is missing
    python3 packaging/check_system_libs.py --install-if-root # apt-get install when root, else advise

With ``--install-if-root`` the exit code is 0 unless an attempted install fails, so ``make`` goes
on: the app itself repeats the advice when it starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

# Import the checker from the source tree; ``workbench/__init__.py`` is dependency-free.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench.core.team.server import find_pg_bin
from workbench.system_libs import find_missing, install_packages

#: Team projects' tests start a throwaway PostgreSQL server with this package's initdb/pg_ctl.
POSTGRES_PACKAGE = "postgresql"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install-if-root", action="store_true",
                        help="apt-get install missing packages when running as root")
    parser.add_argument("--platform", action="append", choices=["xcb", "offscreen", "minimal"],
                        help="platform plugin(s) to check (default: xcb and offscreen)")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        return 0
    can_install = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    code = _postgres(args.install_if_root and bool(can_install))
    missing = find_missing(args.platform or ("xcb", "offscreen"))
    if not missing:
        return code
    if args.install_if_root and can_install:
        print(f"Installing system libraries for Qt: {' '.join(missing.packages)}", flush=True)
        code = install_packages(missing.packages)
        if code != 0:
            print(f"apt-get failed ({code}); {missing.message()}", file=sys.stderr)
        return code
    print(f"workbench: {missing.message()}", file=sys.stderr)
    return 0 if args.install_if_root else 1


def _postgres(install: bool) -> int:
    """PostgreSQL's server programs (for the team tests): installed when missing and we may."""
    if find_pg_bin() is not None:
        return 0
    if install:
        print(f"Installing {POSTGRES_PACKAGE} (the team-project tests start a throwaway "
              "server)", flush=True)
        code = install_packages([POSTGRES_PACKAGE])
        if code != 0:
            print(f"apt-get install {POSTGRES_PACKAGE} failed ({code})", file=sys.stderr)
        return code
    print(f"workbench: team-project tests need PostgreSQL's server programs (initdb, pg_ctl): "
          f"sudo apt-get install -y {POSTGRES_PACKAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
