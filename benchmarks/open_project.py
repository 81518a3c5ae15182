"""How long opening a 10,000-image project takes (listing + status; no image is decoded).

Run: .venv/bin/python benchmarks/open_project.py [N]
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.imageio import encode_mask_png
from workbench.core.project import Project


def build(root: Path, n: int) -> None:
    project = Project.create(root, name="bench", task="segmentation", classes=["bg", "fg"])
    project.close()  # the files are written directly below, as another tool would
    buf = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buf, format="PNG")
    for i in range(n):
        (project.images_dir / f"im_{i:05d}.png").write_bytes(buf.getvalue())
    # A quarter labelled, as mask files only: the first open must reconcile them.
    mask = encode_mask_png(np.zeros((32, 32), np.uint8))
    for i in range(0, n, 4):
        (project.masks_dir / f"im_{i:05d}.png").write_bytes(mask)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    tmp = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        build(tmp / "p", n)
        print(f"built {n} images + {n // 4} masks in {time.perf_counter() - t0:.1f} s")
        for label, readonly in (("first open, reconciles masks", False),
                                ("second open", False), ("read-only open", True)):
            t0 = time.perf_counter()
            with Project.open(tmp / "p", readonly=readonly) as project:
                names = project.image_names()
                statuses = project.statuses()
            dt = time.perf_counter() - t0
            labelled = sum(s.value != "unlabelled" for s in statuses.values())
            print(f"{label} + image_names + statuses: {dt * 1000:.0f} ms "
                  f"({len(names)} images, {labelled} labelled)")
        # The database check every open runs (quick_check + every stored value), against the
        # rest of an open: listing the folders and reading the statuses.
        with Project.open(tmp / "p") as project:
            checks, rest = [], []
            for _ in range(5):
                t0 = time.perf_counter()
                project.db.check()
                checks.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                project.refresh()
                project.statuses()
                rest.append(time.perf_counter() - t0)
        check, other = sorted(checks)[2], sorted(rest)[2]
        print(f"database check on open: {check * 1000:.0f} ms, {check / other:.2f}x the rest "
              f"of an open ({other * 1000:.0f} ms; medians of 5)")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
