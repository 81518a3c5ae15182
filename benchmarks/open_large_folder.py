"""Time to show a 10,000-image project's image list, and to fill the visible thumbnails.

Builds a project with 10,000 small PNGs in a temporary folder, then measures (cold thumbnail
cache, then warm): opening the project, building the browser and painting its first frame, and
waiting until the rows on screen have thumbnails. Target: the list shows in under 1 s.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/open_large_folder.py [--count N]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QApplication

from workbench.core.project import Project, Task
from workbench.qt.browser import ImageBrowser
from workbench.qt.browser.model import ThumbnailStateRole


def build_project(root: Path, count: int) -> None:
    with Project.create(root, name="large", task=Task.SEGMENTATION, classes=["bg", "fg"]):
        pass
    rng = np.random.default_rng(0)
    variants = []
    for _ in range(16):  # a few distinct images, written under 10,000 names
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
        variants.append(buf.getvalue())
    images = root / "images"
    for i in range(count):
        (images / f"img_{i:05d}.png").write_bytes(variants[i % len(variants)])


def measure(app: QApplication, root: Path) -> dict[str, float]:
    start = time.perf_counter()
    project = Project.open(root)
    opened = time.perf_counter()
    browser = ImageBrowser.for_project(project)
    browser.resize(300, 900)
    browser.show()
    app.processEvents()  # first paint: names and statuses on screen
    shown = time.perf_counter()
    first_row = browser.proxy.index(0, 0)
    visible = browser.view.viewport().height() // browser.view.sizeHintForRow(0) + 1
    rows = [browser.proxy.index(r, 0) for r in range(min(visible, browser.proxy.rowCount()))]
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and not all(
            r.data(ThumbnailStateRole) == "ready" for r in rows):
        app.processEvents()
        time.sleep(0.002)
    filled = time.perf_counter()
    decoded = browser.loader.decoded
    assert first_row.data() == "img_00000.png"
    browser.shutdown()
    browser.deleteLater()
    project.close()
    return {"open_project_s": opened - start, "list_shown_s": shown - start,
            "visible_thumbs_s": filled - start, "visible_rows": len(rows), "decoded": decoded}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "large"
        t0 = time.perf_counter()
        build_project(root, args.count)
        print(f"built a {args.count}-image project in {time.perf_counter() - t0:.1f} s")
        for label in ("cold thumbnail cache", "warm thumbnail cache"):
            r = measure(app, root)
            print(f"{label}: project opened {r['open_project_s']:.3f} s, "
                  f"list shown {r['list_shown_s']:.3f} s, "
                  f"{r['visible_rows']} visible thumbnails in {r['visible_thumbs_s']:.3f} s "
                  f"({r['decoded']} decoded)")
        ok = r["list_shown_s"] < 1.0
        print(f"list shown in under 1 s: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
