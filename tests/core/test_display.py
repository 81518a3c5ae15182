"""Display levels (brightness / contrast): the lookup table and auto contrast, without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.display import Levels, apply_levels, auto_levels, histogram


def test_levels_map_low_high_to_black_white_with_gamma():
    lut = Levels(50, 150).lut()
    assert lut[0] == 0 and lut[50] == 0 and lut[100] == 128 and lut[150] == 255
    assert lut[255] == 255 and (np.diff(lut.astype(int)) >= 0).all()
    bright = Levels(50, 150, gamma=0.5).lut()
    dark = Levels(50, 150, gamma=2.0).lut()
    assert bright[100] > lut[100] > dark[100]
    assert Levels().is_identity and np.array_equal(Levels().lut(), np.arange(256))


def test_levels_reject_nonsense_and_survive_damaged_prefs():
    with pytest.raises(ValueError, match="low < high"):
        Levels(200, 100)
    with pytest.raises(ValueError, match="gamma"):
        Levels(0, 255, 0.0)
    assert Levels.from_json([10, 200, 0.8]) == Levels(10, 200, 0.8)
    for bad in (None, "x", [1, 2], [300, 2, 1.0], ["a", "b", "c"]):
        assert Levels.from_json(bad) is None


def test_auto_levels_stretch_a_dim_image_and_leave_a_full_one():
    dim = np.zeros((40, 40, 3), np.uint8)
    dim[:, 20:] = 60
    levels = auto_levels(dim)
    assert (levels.low, levels.high) == (0, 60)
    assert apply_levels(dim, levels)[0, 30, 0] == 255
    full = np.tile(np.arange(256, dtype=np.uint8), (4, 1))[..., None].repeat(3, axis=2)
    assert auto_levels(full).is_identity and apply_levels(full, Levels()) is full


def test_histogram_counts_every_value():
    img = np.zeros((10, 10, 3), np.uint8)
    img[:5] = 200
    counts = histogram(img)
    assert counts.shape == (256,) and counts[0] == 150 and counts[200] == 150
