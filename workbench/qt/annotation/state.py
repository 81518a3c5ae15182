"""The tool settings the panel, the canvas and the controller share (bound both ways)."""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QObject, Signal

from workbench.core.annotation import UNLABELLED
from workbench.core.annotation.tools import WAND_TOLERANCE

MIN_BRUSH, MAX_BRUSH = 1, 256
TOLERANCE_STEP = 5  # per [ / ] or wheel notch with the wand


class Tool(str, Enum):
    BRUSH = "brush"
    FILL = "fill"
    WAND = "wand"
    POLYGON = "polygon"


class ToolState(QObject):
    """Current tool, label, brush size and overlay settings; ``changed`` fires on any change."""

    changed = Signal()

    def __init__(self, num_classes: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.num_classes = num_classes
        self.tool = Tool.BRUSH
        self.label = 0 if num_classes else UNLABELLED
        self.last_class = self.label
        self.brush_size = 20
        self.opacity = 0.5
        self.overlay_visible = True
        self.only_selected = False
        self.tolerance = WAND_TOLERANCE
        self.hidden: frozenset[int] = frozenset()  # classes whose overlay is switched off

    def _set(self, attr: str, value: object) -> None:
        if getattr(self, attr) != value:
            setattr(self, attr, value)
            self.changed.emit()

    def set_tool(self, tool: Tool) -> None:
        self._set("tool", Tool(tool))

    def set_label(self, label: int) -> None:
        """Select a class index, or UNLABELLED for erasing."""
        if label != UNLABELLED and not 0 <= label < self.num_classes:
            return
        if label != UNLABELLED:
            self.last_class = label
        self._set("label", label)

    def select_eraser(self) -> None:
        self.tool = Tool.BRUSH
        self.set_label(UNLABELLED)
        self.changed.emit()

    def select_brush(self) -> None:
        """Brush with the last class (leaving eraser mode)."""
        self.tool = Tool.BRUSH
        self.set_label(self.last_class)
        self.changed.emit()

    @property
    def erasing(self) -> bool:
        return self.label == UNLABELLED

    def set_brush_size(self, size: int) -> None:
        self._set("brush_size", max(MIN_BRUSH, min(MAX_BRUSH, int(size))))

    def grow_brush(self, steps: int) -> None:
        """``]`` / ``[``: about 15 % per step, at least one pixel."""
        size = self.brush_size
        delta = max(1, round(size * 0.15))
        self.set_brush_size(size + delta * steps)

    def set_opacity(self, opacity: float) -> None:
        self._set("opacity", min(1.0, max(0.0, float(opacity))))

    def set_overlay_visible(self, visible: bool) -> None:
        self._set("overlay_visible", bool(visible))

    def set_only_selected(self, only: bool) -> None:
        self._set("only_selected", bool(only))

    def set_tolerance(self, tolerance: int) -> None:
        self._set("tolerance", max(0, min(255, int(tolerance))))

    def grow_tolerance(self, steps: int) -> None:
        self.set_tolerance(self.tolerance + TOLERANCE_STEP * steps)

    def set_class_visible(self, label: int, visible: bool) -> None:
        """Show or hide one class's overlay (the eye beside it in the class list)."""
        if 0 <= label < self.num_classes:
            hidden = self.hidden - {label} if visible else self.hidden | {label}
            self._set("hidden", frozenset(hidden))

    def class_visible(self, label: int) -> bool:
        return label not in self.hidden
