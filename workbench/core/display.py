"""How an image is shown: brightness / contrast as display levels (no Qt; data never change).

Levels map the stored intensities ``low``..``high`` onto black..white with a ``gamma`` (below 1
brightens the dark end, above 1 darkens it), through one 256-entry lookup table applied to every
channel. Auto contrast is the same table with ``low`` / ``high`` at the image's 0.5th and 99.8th
percentiles. The masks, the training data and the exports never see any of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Percentiles auto contrast stretches to black and white.
AUTO_PERCENTILES = (0.5, 99.8)
#: Pixels read to estimate percentiles and the histogram: fast on a 4096 x 4096 image.
SAMPLE_PIXELS = 250_000
GAMMA_RANGE = (0.1, 10.0)


@dataclass(frozen=True)
class Levels:
    """Display levels: intensities ``low``..``high`` (0..255) shown as black..white."""

    low: int = 0
    high: int = 255
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high <= 255:
            raise ValueError(f"levels need 0 <= low < high <= 255, got {self.low}..{self.high}")
        if not GAMMA_RANGE[0] <= self.gamma <= GAMMA_RANGE[1]:
            raise ValueError(f"gamma {self.gamma} is outside {GAMMA_RANGE[0]}..{GAMMA_RANGE[1]}")

    @property
    def is_identity(self) -> bool:
        return self.low == 0 and self.high == 255 and self.gamma == 1.0

    def lut(self) -> np.ndarray:
        """uint8 lookup table: display value of each stored value 0..255."""
        x = np.clip((np.arange(256, dtype=np.float64) - self.low) / (self.high - self.low),
                    0.0, 1.0)
        return np.round(255.0 * x ** self.gamma).astype(np.uint8)

    def to_json(self) -> list[float]:
        return [self.low, self.high, self.gamma]

    @classmethod
    def from_json(cls, value: Any) -> Levels | None:
        """Levels from ``[low, high, gamma]``; None for anything else (a damaged prefs file)."""
        if not (isinstance(value, list | tuple) and len(value) == 3):
            return None
        try:
            return cls(int(value[0]), int(value[1]), float(value[2]))
        except (TypeError, ValueError):
            return None


def _sample(rgb: np.ndarray) -> np.ndarray:
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / SAMPLE_PIXELS)))
    return rgb[::step, ::step]


def auto_levels(rgb: np.ndarray) -> Levels:
    """Levels stretching the image's 0.5–99.8 percentiles to the full range (identity for an
    image that already spans it or is flat)."""
    lo, hi = np.percentile(_sample(rgb), AUTO_PERCENTILES)
    low, high = int(np.floor(lo)), int(np.ceil(hi))
    if high - low < 1 or (low <= 2 and high >= 250):
        return Levels()
    return Levels(max(0, low), min(255, high))


def histogram(rgb: np.ndarray) -> np.ndarray:
    """Counts of each stored value 0..255 over all channels (subsampled on large images)."""
    return np.bincount(_sample(rgb).ravel(), minlength=256)[:256]


def apply_levels(rgb: np.ndarray, levels: Levels) -> np.ndarray:
    """The display copy of ``rgb`` (``rgb`` itself when the levels change nothing)."""
    return rgb if levels.is_identity else levels.lut()[rgb]
