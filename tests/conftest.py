"""Shared fixtures. Sets QT_QPA_PLATFORM=offscreen before anything can import Qt."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def torch_threads_for_tests() -> int:
    """Intra-op threads for tests that train: 2 (CI has 2 cores), or each pytest-xdist
    worker's share of the cores: more threads than cores made every batch several times
    slower (the threads spin waiting for each other)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return min(2, max(1, (os.cpu_count() or 1) // workers))


# Before anything imports torch, which reads it once; subprocesses (CLI, torchrun) inherit it.
# An xdist worker sets its own: it inherits the value the controller set for one process.
if "PYTEST_XDIST_WORKER" in os.environ or "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(torch_threads_for_tests())

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from workbench.core.demo import create_demo
from workbench.core.project import Project, SplitRule, Task

SEG_CLASSES = ["background", "shape"]
TAGS = ["red", "green", "blue"]


def make_shape_image(i: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image with one bright square or disc on a dark noisy background, and its mask."""
    rng = np.random.default_rng(i)
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
    r = int(rng.integers(size // 8, size // 4))
    if i % 2:
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    else:
        inside = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
    img[inside] = rng.integers(160, 256, 3, dtype=np.uint8)
    return img, inside.astype(np.uint8)


def make_tag_image(tags: list[str], size: int = 48) -> np.ndarray:
    """Colour bars per tag: the image 'shows' exactly its tags."""
    img = np.zeros((size, size, 3), np.uint8)
    for k, tag in enumerate(TAGS):
        if tag in tags:
            img[:, k * size // 3:(k + 1) * size // 3, k] = 220
    return img


@pytest.fixture
def seg_project(tmp_path: Path) -> Iterator[Project]:
    """12 RGB 48x48 images with one shape each, all labelled; open for writing."""
    src = tmp_path / "seg-src"
    src.mkdir()
    masks = {}
    for i in range(12):
        img, mask = make_shape_image(i)
        Image.fromarray(img).save(src / f"img_{i:02d}.png")
        masks[f"img_{i:02d}.png"] = mask
    project = Project.create(tmp_path / "seg", name="shapes", task=Task.SEGMENTATION,
                             classes=SEG_CLASSES, split=SplitRule(valid_pct=0.25, seed=1))
    project.add_images(sorted(src.iterdir()))
    for name, mask in masks.items():
        project.write_mask(name, mask)
    yield project
    project.close()


@pytest.fixture
def tag_project(tmp_path: Path) -> Iterator[Project]:
    """16 RGB 48x48 images, 3 tags (every non-empty combination twice, minus two), all labelled."""
    src = tmp_path / "tag-src"
    src.mkdir()
    combos = [[t for b, t in enumerate(TAGS) if m >> b & 1] for m in range(1, 8)]
    labels = {}
    for i in range(16):
        tags = combos[i % len(combos)]
        Image.fromarray(make_tag_image(tags)).save(src / f"tag_{i:02d}.png")
        labels[f"tag_{i:02d}.png"] = tags
    project = Project.create(tmp_path / "tags", name="colours", task=Task.MULTILABEL,
                             classes=TAGS, split=SplitRule(valid_pct=0.25, seed=1))
    project.add_images(sorted(src.iterdir()))
    project.set_many_tags(labels)
    yield project
    project.close()


@pytest.fixture(scope="session")
def _demo_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # Build each demo once per session; tests get a private copy.
    base = tmp_path_factory.mktemp("demo-templates")
    return {
        "segmentation": create_demo(base / "nuclei", "segmentation"),
        "multilabel": create_demo(base / "fashion", "multilabel"),
    }


def _demo_copy(templates: dict[str, Path], task: str, dest: Path) -> Project:
    shutil.copytree(templates[task], dest)
    return Project.open(dest)


@pytest.fixture
def nuclei_project(_demo_templates: dict[str, Path], tmp_path: Path) -> Iterator[Project]:
    """The 60-image nuclei demo (segmentation, 40 labelled, every third slice not), opened for
    writing."""
    project = _demo_copy(_demo_templates, "segmentation", tmp_path / "nuclei")
    yield project
    project.close()


@pytest.fixture
def fashion_project(_demo_templates: dict[str, Path], tmp_path: Path) -> Iterator[Project]:
    """The 240-image fashion-tags demo (multilabel, 10 tags, 160 tagged, every third mosaic
    not), opened for writing."""
    project = _demo_copy(_demo_templates, "multilabel", tmp_path / "fashion")
    yield project
    project.close()


class _WeightsHandler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    cut: ClassVar[set[str]] = set()  # paths whose body stops half way (Content-Length says more)

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.path in self.cut else body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def weights_server() -> Iterator[tuple[str, type[_WeightsHandler]]]:
    """(base URL, handler class) of an HTTP server on 127.0.0.1 standing in for torchvision's
    download host: put bytes in ``handler.files[path]``, paths in ``handler.cut`` to truncate."""
    handler = type("Handler", (_WeightsHandler,), {"files": {}, "cut": set()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache; returns its ``checkpoints`` folder (not created)."""
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"
