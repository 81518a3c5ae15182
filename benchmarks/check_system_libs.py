"""How long `make run` / `make test` spend checking Qt's system libraries when none is missing.

Runs packaging/check_system_libs.py the way the Makefile does (isolated Python, standard library
only) several times and prints the median and worst wall time. Target: well under 1 s.

    .venv/bin/python benchmarks/check_system_libs.py [--repeats N] [--platform xcb]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "packaging" / "check_system_libs.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--platform", default="offscreen")
    args = parser.parse_args()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-I", str(SCRIPT), "--platform", args.platform],
                                capture_output=True, text=True, timeout=60, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            print(result.stdout + result.stderr, end="")
            return result.returncode
    print(f"check_system_libs ({args.platform}): median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {args.repeats} runs (target < 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
