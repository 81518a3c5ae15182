"""The manifest's optional start image: where a window opens a project it has no history for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.core.errors import ImageReadError
from workbench.core.manifest import MANIFEST_NAME
from workbench.core.project import Project


def test_start_image_round_trips_and_is_optional(seg_project: Project) -> None:
    manifest = seg_project.root / MANIFEST_NAME
    assert seg_project.start_image is None
    assert "start_image" not in json.loads(manifest.read_text())  # old manifests unchanged
    seg_project.set_start_image("img_05.png")
    assert json.loads(manifest.read_text())["start_image"] == "img_05.png"
    root = seg_project.root
    seg_project.close()
    with Project.open(root, readonly=True) as again:
        assert again.start_image == "img_05.png"


def test_start_image_must_exist_and_vanishes_with_its_image(seg_project: Project) -> None:
    with pytest.raises(ImageReadError):
        seg_project.set_start_image("nope.png")
    seg_project.set_start_image("img_03.png")
    (seg_project.images_dir / "img_03.png").unlink()
    seg_project.refresh()
    assert seg_project.start_image is None  # a stale name never points at a missing file
    seg_project.set_start_image(None)
    assert "start_image" not in json.loads((seg_project.root / MANIFEST_NAME).read_text())


def test_nuclei_demo_starts_on_a_slice_with_nuclei(nuclei_project: Project) -> None:
    start = nuclei_project.start_image
    assert start == "nuclei_z30.png"
    mask = nuclei_project.read_mask(start)
    first = nuclei_project.read_mask(nuclei_project.image_names()[0])
    # The start slice shows many nuclei; the stack's first slice is nearly empty.
    assert mask is not None and first is not None
    assert np.mean(mask == 1) > 0.2 > np.mean(first == 1)
