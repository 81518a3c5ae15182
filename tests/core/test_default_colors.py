"""Default class colours stay visible on dark and on light images and never look "unlabelled"."""

from __future__ import annotations

import colorsys
import itertools

from workbench.core.demo import create_demo
from workbench.core.manifest import BACKGROUND_COLOR, default_colors
from workbench.core.project import Project


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance."""
    def lin(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def assert_visible_everywhere(rgb: tuple[int, int, int]) -> None:
    lum = luminance(rgb)
    assert contrast(lum, 0.0) >= 2.0, f"{rgb} disappears on dark images"
    assert contrast(lum, 1.0) >= 2.0, f"{rgb} disappears on light images"
    # The "unlabelled" swatch is light grey and the overlay leaves unlabelled pixels clear, so
    # a class must be clearly coloured, not grey.
    _h, saturation, _v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    assert saturation >= 0.35, f"{rgb} is too grey: it reads as 'unlabelled'"


def test_every_default_colour_is_visible_on_dark_and_light_images() -> None:
    classes = ["background"] + [f"class{i}" for i in range(10)]
    colors = default_colors(classes)
    assert colors[0] == BACKGROUND_COLOR != (0, 0, 0)
    for rgb in colors:
        assert_visible_everywhere(rgb)


def test_default_colours_are_distinct() -> None:
    colors = default_colors(["background"] + [f"c{i}" for i in range(10)])
    assert len(set(colors)) == len(colors)
    for a, b in itertools.combinations(colors, 2):
        distance = sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
        assert distance >= 60, f"{a} and {b} are too alike"


def test_demo_background_is_not_black(tmp_path) -> None:
    root = create_demo(tmp_path / "demo", "segmentation")
    with Project.open(root, readonly=True) as project:
        for rgb in project.colors:
            assert_visible_everywhere(rgb)
