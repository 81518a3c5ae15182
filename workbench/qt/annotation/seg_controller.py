"""Turns canvas input into mask edits for one open image and keeps them safe on disk.

Strokes are painted into the mask as the mouse moves (O(brush area) per move); each finished
stroke is journalled (fsynced) by the session, pushed as one undo step, and the mask is written
by a single-shot timer a couple of seconds after the last edit, or earlier when the user moves on.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from workbench.core.annotation import (
    AnnotationSession,
    BBox,
    BrushStroke,
    Edit,
    fill_unlabelled,
    flood_fill,
    polygon_fill,
    wand_fill,
    wand_intensity,
)
from workbench.core.annotation.tools import WandImage
from workbench.core.errors import ClaimError, ConflictError, WorkbenchError
from workbench.core.runs import current_model_id
from workbench.qt.annotation.state import Tool, ToolState
from workbench.qt.annotation.undo import MaskUndoStack
from workbench.qt.canvas import ImageCanvas

log = logging.getLogger(__name__)

LEFT = int(Qt.MouseButton.LeftButton.value)
RIGHT = int(Qt.MouseButton.RightButton.value)
#: A pointer drag longer than this (image px) while placing a polygon turns it into a lasso.
LASSO_STEP = 2.0


class SegmentationController(QObject):
    """Painting, undo and saving for the segmentation mask currently shown in the canvas."""

    saved = Signal(str)  # image name, after the mask file was written
    failed = Signal(str)  # message for the user (the edit stays in memory and in the journal)
    # image name, message: a team project refused the save (held by someone else, or changed
    # since); the mask was kept as a conflict copy, so nothing is pending
    refused = Signal(str, str)
    edited = Signal()

    def __init__(self, project, canvas: ImageCanvas, state: ToolState, parent=None) -> None:
        super().__init__(parent)
        self.project = project
        self.canvas = canvas
        self.state = state
        self.session: AnnotationSession | None = None
        self.undo_stack = MaskUndoStack(self)
        self._stroke: BrushStroke | None = None
        self._polygon: list[tuple[float, float]] = []
        self._lasso = False
        self._intensity: WandImage | None = None  # the wand's view, made on its first click
        # The last wand click: x, y, label, the undo index after it, whether it changed pixels.
        self._wand: tuple[float, float, int, int, bool] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.save)
        canvas.pressed.connect(self._on_press)
        canvas.moved.connect(self._on_move)
        canvas.released.connect(self._on_release)
        canvas.doubleClicked.connect(lambda _x, _y: self.close_polygon())
        canvas.shiftWheel.connect(self.state.grow_tolerance)
        state.changed.connect(self._state_changed)
        self._tolerance = state.tolerance

    # ---------------------------------------------------------------- lifecycle
    def open(self, name: str, shape: tuple[int, int], *, view_only: bool = False) -> int:
        """Start editing ``name`` (``view_only``: show it, accept no edits, e.g. an image held
        by someone else); returns how many journalled edits were recovered."""
        self.close()
        if view_only or getattr(self.project, "readonly", False):
            # View only: show the saved mask, accept no edits.
            saved = self.project.read_mask(name)
            self._view_mask = saved if saved is not None else np.full(shape, 255, np.uint8)
            self.canvas.set_mask(self._view_mask, self.project.colors, self._only_class(),
                                 self.state.hidden)
            return 0
        self.session = AnnotationSession(self.project, name, shape)
        if self.session.set_aside_message:  # a journal that must not be replayed: say where
            self.failed.emit(self.session.set_aside_message)
        self.canvas.set_mask(self.session.mask, self.project.colors, self._only_class(),
                             self.state.hidden)
        if self.session.recovered:
            self.saved.emit(name)
        return self.session.recovered

    def close(self) -> None:
        """Finish anything in progress, save, and forget the image (never discards edits)."""
        self.finish_stroke()
        self.cancel_polygon()
        if self.session is not None:
            self.save()
            self.session.journal.close()
        self.session = None
        self._intensity, self._wand = None, None
        self.undo_stack.reset()
        self.canvas.set_mask(None, [])

    def save(self) -> bool:
        """Write the mask now if it has unsaved changes. True if a file was written."""
        self._timer.stop()
        if self.session is None or not self.session.dirty:
            return False
        try:
            self.session.save()
        except (ClaimError, ConflictError) as exc:
            log.error("saving %s was refused: %s", self.session.name, exc)
            self.session.settle_refused()
            self.refused.emit(self.session.name, str(exc))
            return False
        except WorkbenchError as exc:
            # Edits stay in memory and in the journal; tell the user and retry later.
            log.error("saving %s failed: %s", self.session.name, exc)
            self.failed.emit(str(exc))
            self._timer.start(10_000)
            return False
        self.saved.emit(self.session.name)
        return True

    def _schedule_save(self) -> None:
        assert self.session is not None
        due = self.session.autosave.seconds_until_save()
        if due is not None:
            self._timer.start(math.ceil(due * 1000))
        self.edited.emit()

    def _only_class(self) -> int | None:
        return self.state.label if self.state.only_selected and not self.state.erasing else None

    def apply_colors(self) -> None:
        self.canvas.set_class_colors(self.project.colors, self._only_class(), self.state.hidden)

    def _state_changed(self) -> None:
        self.canvas.claim_shift_wheel = self.state.tool == Tool.WAND
        if self.state.tolerance != self._tolerance:
            self._tolerance = self.state.tolerance
            self.retune_wand()

    # ---------------------------------------------------------------- edits
    def _changed(self, box: BBox) -> None:
        self.canvas.update_mask_region(box)

    def push(self, edit: Edit | None, text: str, *, already_applied: bool = False) -> None:
        if edit is None or self.session is None:
            return
        try:
            self.undo_stack.push_edit(
                self.session, edit, text, self._changed, already_applied=already_applied
            )
        except WorkbenchError as exc:
            # The change is in the mask; only its journal record / undo step is missing.
            self.failed.emit(f"{exc} The change will still be saved with the mask.")
        if not already_applied:
            self._changed(edit.bbox)
        self._schedule_save()

    def undo(self) -> None:
        self.finish_stroke()
        self.undo_stack.undo_step()
        if self.session is not None:
            self._schedule_save()

    def redo(self) -> None:
        self.finish_stroke()
        self.undo_stack.redo()
        if self.session is not None:
            self._schedule_save()

    def fill_unlabelled(self) -> None:
        if self.session is not None and not self.state.erasing:
            name = self.project.classes[self.state.label]
            edit = fill_unlabelled(self.session.mask, self.state.label)
            self.push(edit, f"Fill unlabelled with {name}")

    def start_from_prediction(self) -> bool:
        """Copy the current model's prediction (else the newest) into the mask as one undo
        step; False if there is none."""
        if self.session is None:
            return False
        try:
            edit = self.session.prediction_edit(current_model_id(self.project))
        except WorkbenchError as exc:
            self.failed.emit(str(exc))
            return False
        if edit is None:
            return False
        self.push(edit, "Start from prediction")
        return True

    def _wand_click(self, x: float, y: float, label: int) -> None:
        assert self.session is not None
        if self._intensity is None:
            rgb = self.canvas.rgb
            if rgb is None or rgb.shape[:2] != self.session.mask.shape:
                return
            self._intensity = wand_intensity(rgb)
        edit = wand_fill(self.session.mask, self._intensity, x, y, self.state.tolerance, label)
        self.push(edit, "Magic wand")
        self._wand = (x, y, label, self.undo_stack.index(), edit is not None)

    def retune_wand(self) -> None:
        """The tolerance changed right after a wand click: redo that click with it, in place
        of the old result (still one undo step), so the region follows the slider live."""
        wand = self._wand
        if wand is None or self.session is None or self.undo_stack.index() != wand[3]:
            self._wand = None
            return
        x, y, label, _index, applied = wand
        if applied:
            self.undo_stack.undo_step()
        self._wand_click(x, y, label)

    # ---------------------------------------------------------------- pointer input
    def _on_press(self, x: float, y: float, button: int, _mods: int) -> None:
        if self.session is None or button not in (LEFT, RIGHT):
            return
        label = 255 if button == RIGHT else self.state.label
        tool = self.state.tool
        if tool == Tool.BRUSH:
            self._stroke = BrushStroke(self.session.mask, self.state.brush_size / 2, label)
            self._paint(x, y)
        elif tool == Tool.FILL and self._inside(x, y):
            self.push(flood_fill(self.session.mask, x, y, label), "Fill")
        elif tool == Tool.WAND and self._inside(x, y):
            self._wand_click(x, y, label)
        elif tool == Tool.POLYGON and button == LEFT:
            self._polygon.append((x, y))
            self._lasso = False
            self.canvas.set_polygon_preview(self._polygon)

    def _on_move(self, x: float, y: float, buttons: int) -> None:
        if self._stroke is not None:
            self._paint(x, y)
        elif self._polygon and buttons & LEFT:
            last = self._polygon[-1]
            if math.hypot(x - last[0], y - last[1]) >= LASSO_STEP:
                self._polygon.append((x, y))
                self._lasso = True
                self.canvas.set_polygon_preview(self._polygon)

    def _on_release(self, x: float, y: float, _button: int) -> None:
        if self._stroke is not None:
            self._paint(x, y)
            self.finish_stroke()
        elif self._lasso:
            self.close_polygon()

    def _inside(self, x: float, y: float) -> bool:
        assert self.session is not None
        h, w = self.session.document.shape
        return 0 <= x < w and 0 <= y < h

    def _paint(self, x: float, y: float) -> None:
        assert self._stroke is not None and self.session is not None
        box = self._stroke.add_point(x, y)
        if box is not None:
            self.session.document.touch(box)
            self.canvas.update_mask_region(box)

    def finish_stroke(self) -> None:
        """End the stroke in progress: it becomes one undo step and one journal record."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        edit = stroke.finish()
        name = "Erase" if stroke.value == 255 else "Brush"
        self.push(edit, name, already_applied=True)

    def close_polygon(self) -> None:
        """Fill the polygon or lasso drawn so far (Enter, double-click, or end of a lasso drag)."""
        points, self._polygon, self._lasso = self._polygon, [], False
        self.canvas.set_polygon_preview([])
        if self.session is not None and len(points) >= 3:
            self.push(polygon_fill(self.session.mask, points, self.state.label), "Polygon")

    def cancel_polygon(self) -> None:
        self._polygon, self._lasso = [], False
        self.canvas.set_polygon_preview([])

    @property
    def polygon_points(self) -> list[tuple[float, float]]:
        return list(self._polygon)
