"""The image view: image + mask overlay, zoom, pan, brush cursor, partial repaints."""

from workbench.qt.canvas.image_canvas import ImageCanvas
from workbench.qt.canvas.overlay import MaskOverlay

__all__ = ["ImageCanvas", "MaskOverlay"]
