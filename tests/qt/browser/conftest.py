"""A tiny on-disk image folder shaped like a project, for browser tests that need no core Project."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image


@dataclass
class FolderSource:
    """Satisfies workbench.qt.browser.widget.ImageSource over a plain folder."""

    root: Path
    names: list[str]
    status_map: dict[str, str] = field(default_factory=dict)

    def image_names(self) -> list[str]:
        return list(self.names)

    def image_path(self, name: str) -> Path:
        return self.root / "images" / name

    def statuses(self) -> Mapping[str, str]:
        return {n: self.status_map.get(n, "unlabelled") for n in self.names}


def write_images(folder: Path, count: int, size: int = 40) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    rng = np.random.default_rng(0)
    for i in range(count):
        name = f"img_{i:03d}.png"
        Image.fromarray(rng.integers(0, 255, (size, size + 8, 3), dtype=np.uint8)).save(
            folder / name)
        names.append(name)
    return names


@pytest.fixture
def folder_source(tmp_path: Path) -> FolderSource:
    names = write_images(tmp_path / "images", 8)
    statuses = {names[1]: "labelled", names[2]: "reviewed", names[5]: "labelled"}
    return FolderSource(tmp_path, names, statuses)


@pytest.fixture
def source_factory():
    """(FolderSource class, write_images function) for tests that build their own folders."""
    return FolderSource, write_images
