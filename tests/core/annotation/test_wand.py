"""The magic wand: fill the connected pixels of similar intensity (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workbench.core.annotation import flood_fill, wand_fill, wand_intensity
from workbench.core.annotation.tools import WAND_TOLERANCE, connected_region
from workbench.core.demo import source_dir
from workbench.core.errors import MaskError
from workbench.core.imageio import load_image


def blobs() -> np.ndarray:
    """Dark noisy background with two bright discs (textured inside), as RGB."""
    rng = np.random.default_rng(0)
    img = rng.integers(10, 40, (80, 120)).astype(np.uint8)
    yy, xx = np.mgrid[:80, :120]
    for cy, cx in ((40, 30), (40, 90)):
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 15 ** 2
        img[disc] = rng.integers(150, 230, int(disc.sum())).astype(np.uint8)
    return np.repeat(img[:, :, None], 3, axis=2)


def test_one_click_fills_one_bright_disc_only():
    rgb = blobs()
    mask = np.full(rgb.shape[:2], 255, np.uint8)
    edit = wand_fill(mask, wand_intensity(rgb), 30, 40, tolerance=70, value=1)
    assert edit is not None
    edit.apply(mask)
    yy, xx = np.mgrid[:80, :120]
    left = (yy - 40) ** 2 + (xx - 30) ** 2 <= 14 ** 2
    right = (yy - 40) ** 2 + (xx - 90) ** 2 <= 15 ** 2
    assert (mask[left] == 1).all()  # the whole disc, despite its texture
    assert (mask[right] == 255).all()  # the other disc is not connected
    assert (mask == 1).sum() < 1.15 * ((yy - 40) ** 2 + (xx - 30) ** 2 <= 15 ** 2).sum()
    # Today's fill on a fresh (all unlabelled) mask takes everything: the reason for the wand.
    everything = flood_fill(np.full((80, 120), 255, np.uint8), 30, 40, 1)
    assert everything is not None and everything.bbox == (0, 0, 80, 120)


def test_specks_inside_the_region_are_filled():
    rgb = blobs()
    rgb[36:44, 26:34] = 255  # a bright nucleolus, far above the tolerance
    mask = np.full(rgb.shape[:2], 255, np.uint8)
    edit = wand_fill(mask, wand_intensity(rgb), 22, 40, tolerance=40, value=1)
    edit.apply(mask)
    assert (mask[36:44, 26:34] == 1).all()
    assert mask[40, 5] == 255  # the background around it is not a hole


def test_tolerance_grows_the_region():
    rgb = blobs()
    intensity = wand_intensity(rgb)
    mask = np.full(rgb.shape[:2], 255, np.uint8)
    sizes = []
    for tolerance in (0, 20, 70, 255):
        edit = wand_fill(mask, intensity, 30, 40, tolerance, 1)
        sizes.append(0 if edit is None else int((edit.new == 1).sum()))
    assert sizes[0] < sizes[1] < sizes[2] < sizes[3] == 80 * 120


def test_wand_is_exactly_undoable_and_checks_its_input():
    rgb = blobs()
    mask = np.zeros(rgb.shape[:2], np.uint8)
    before = mask.copy()
    edit = wand_fill(mask, wand_intensity(rgb), 90, 40, 60, 1)
    edit.apply(mask)
    edit.revert(mask)
    assert np.array_equal(mask, before)
    with pytest.raises(MaskError, match="outside"):
        wand_fill(mask, wand_intensity(rgb), 500, 40, 10, 1)
    with pytest.raises(MaskError, match="differ in size"):
        wand_fill(mask[:10], wand_intensity(rgb), 5, 5, 10, 1)


def test_demo_nuclei_are_one_click_each():
    """On two demo slices, one click at the centre of each of the six largest nuclei, at the
    default tolerance, fills most of that nucleus and little else (median IoU)."""
    ious = []
    for name in ("nuclei_z30.png", "nuclei_z45.png"):
        rgb = load_image(source_dir("segmentation") / "images" / name)
        truth = np.asarray(Image.open(source_dir("segmentation") / "masks" / name))
        intensity = wand_intensity(rgb)
        ys, xs = np.nonzero(truth == 1)
        regions = {}
        for i in range(0, len(ys), max(1, len(ys) // 60)):
            box, footprint = connected_region(truth, int(xs[i]), int(ys[i]))
            regions[box] = footprint
        for (y0, x0, y1, x1), footprint in sorted(regions.items(),
                                                  key=lambda kv: -kv[1].sum())[:6]:
            nucleus = np.zeros(truth.shape, bool)
            nucleus[y0:y1, x0:x1] = footprint
            ny, nx = np.nonzero(nucleus)
            seed = int(np.argmin((ny - ny.mean()) ** 2 + (nx - nx.mean()) ** 2))
            mask = np.full(truth.shape, 255, np.uint8)
            edit = wand_fill(mask, intensity, nx[seed], ny[seed], WAND_TOLERANCE, 1)
            if edit is not None:
                edit.apply(mask)
            filled = mask == 1
            ious.append((filled & nucleus).sum() / (filled | nucleus).sum())
    assert np.median(ious) > 0.75, ious
