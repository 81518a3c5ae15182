"""AnnotationWorkspace: tool bar + ImageCanvas + side panel, the main window's central widget.

It wires the canvas and panels to the project; painting logic is in
:class:`SegmentationController`. A tag change is written at once, as one undo step on the
image's own tag undo stack (kept while the window is open, so returning to an image can still
undo its changes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QUndoGroup, QUndoStack
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from workbench.core.annotation import TagEdit
from workbench.core.errors import WorkbenchError
from workbench.core.imageio import load_image
from workbench.core.project import Project, Status, Task
from workbench.qt.annotation.display import DisplayControl, LevelsDialog
from workbench.qt.annotation.seg_controller import SegmentationController
from workbench.qt.annotation.seg_panel import SegmentationPanel, muted_color
from workbench.qt.annotation.shortcuts import (
    RESERVED_LETTERS,
    HelpOverlay,
    shortcuts_for,
)
from workbench.qt.annotation.state import Tool, ToolState
from workbench.qt.annotation.tag_panel import TagPanel, tag_keys
from workbench.qt.annotation.toolbar import AnnotationToolBar
from workbench.qt.annotation.undo import TagEditCommand
from workbench.qt.canvas import ImageCanvas
from workbench.qt.team import TeamSeat
from workbench.qt.theme import current_colors
from workbench.qt.wheel_guard import guard_wheel

log = logging.getLogger(__name__)
SIDE_WIDTH = 240


def typing() -> bool:
    """True while keyboard focus is in a text field or spin box: shortcuts stay out of it."""
    return isinstance(QApplication.focusWidget(),
                      QLineEdit | QTextEdit | QPlainTextEdit | QAbstractSpinBox)


class AnnotationWorkspace(QWidget):
    """Shows one image at a time and edits its mask (segmentation) or tags (multilabel)."""

    labelsSaved = Signal(str)  # image name whose mask / tags were written
    statusChanged = Signal(str, str)  # image name, new Status value
    navigateRequested = Signal(str)  # "next" | "prev" | "next_unlabelled"
    recoveredEdits = Signal(str, int)  # image name, strokes replayed from the crash journal
    errorOccurred = Signal(str)  # a message the main window may show
    predictionMissing = Signal(str)  # image name: "From prediction" found no prediction

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("annotationWorkspace")
        self.project = project
        self.task = Task(project.task)
        self._name: str | None = None
        self._status: str | None = None
        self._image_shape: tuple[int, int] | None = None
        self._previous_tags: list[str] | None = None
        self._canvas = ImageCanvas(self)
        self._canvas.set_background(QColor(current_colors().canvas))
        self.state = ToolState(len(project.classes), self)
        self.display = DisplayControl(self._canvas, self)
        self.levels_dialog: LevelsDialog | None = None
        self.actions_by_id: dict[str, QAction] = {}
        self.controller: SegmentationController | None = None
        self.seg_panel: SegmentationPanel | None = None
        self.tag_panel: TagPanel | None = None
        self.tag_undo = QUndoGroup(self)
        self._tag_stacks: dict[str, QUndoStack] = {}
        # Team projects: the open image's claim, who else holds it (read-only then), and
        # whether the server is away (strokes are journalled and saved when it is back).
        self.seat = (TeamSeat(project, self) if getattr(project, "is_team", False)
                     and not project.readonly else None)
        self._reconnecting = False
        if self.task == Task.SEGMENTATION:
            self._build_segmentation()
        else:
            self._build_multilabel()
        self._build_layout()
        self._build_actions()
        if self.controller is not None:
            self._sync_view()
        self.display.changed.connect(self._sync_display)
        self._sync_display()
        self.help_overlay = HelpOverlay(self.task.value, self)
        self.help_overlay.closed.connect(self._canvas.setFocus)
        self._canvas.zoomChanged.connect(lambda _s: self._update_info())
        self._canvas.set_message(
            "Select an image in the list to start labelling." if project.image_names() else
            "This project has no images yet.\nAdd some with File → Import Images… (Ctrl+I) or "
            "the Import button in the tool bar.")
        self._update_info()

    # ---------------------------------------------------------------- construction
    def _build_segmentation(self) -> None:
        self.controller = SegmentationController(self.project, self._canvas, self.state, self)
        self.controller.saved.connect(self._on_saved)
        self.controller.failed.connect(self.errorOccurred)
        self.controller.refused.connect(self._on_refused)
        self.controller.edited.connect(self._update_info)
        self.seg_panel = SegmentationPanel(self.state, self.project.classes, self.project.colors)
        self.seg_panel.fillUnlabelledRequested.connect(self.controller.fill_unlabelled)
        self.seg_panel.predictionRequested.connect(self.start_from_prediction)
        self.state.changed.connect(self._sync_view)
        # The main window may set the opacity on the canvas directly: keep the slider in step.
        self._canvas.opacityChanged.connect(self.state.set_opacity)

    def _build_multilabel(self) -> None:
        keys = tag_keys(len(self.project.classes), RESERVED_LETTERS)
        self.tag_keys = keys
        self.tag_panel = TagPanel(self.project.classes, self.project.colors, keys)
        self.tag_panel.tagsChanged.connect(self._on_tags_changed)
        self.tag_panel.sameAsPreviousRequested.connect(self.same_as_previous)
        self.tag_panel.setEnabled(False)

    def _build_layout(self) -> None:
        self.toolbar = AnnotationToolBar()
        side = QFrame()
        side.setObjectName("annotationSidePanel")
        side.setFrameShape(QFrame.Shape.NoFrame)
        # Scrolls when the window is short (1366x768 with the training dock open) instead of
        # setting the window's minimum height; the bar's room is reserved so nothing is cut.
        scroll = QScrollArea()
        scroll.setObjectName("annotationSideScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.seg_panel or self.tag_panel)
        guard_wheel(scroll)  # the wheel scrolls the panel; sliders change only when focused
        side.setFixedWidth(SIDE_WIDTH + scroll.verticalScrollBar().sizeHint().width())
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(scroll)
        self.info = QLabel()
        self.info.setObjectName("annotationInfo")
        self.info.setStyleSheet(f"color: {muted_color()}; padding: 3px 10px;")
        # A long status line must not set the window's minimum width; it is cut at the right.
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.setSpacing(0)
        middle.addWidget(self._canvas, 1)
        middle.addWidget(side)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addLayout(middle, 1)
        layout.addWidget(self.info)

    def _handlers(self) -> dict[str, Callable[[], object]]:
        c, s, canvas = self.controller, self.state, self._canvas
        centre = lambda: QPointF(canvas.width() / 2, canvas.height() / 2)
        handlers: dict[str, Callable[[], object]] = {
            "next": lambda: self.navigateRequested.emit("next"),
            "prev": lambda: self.navigateRequested.emit("prev"),
            "next_unlabelled": lambda: self.navigateRequested.emit("next_unlabelled"),
            "reviewed": self.toggle_reviewed,
            "fit": canvas.fit,
            "one_to_one": canvas.zoom_1to1,
            "zoom_in": lambda: canvas.zoom_at(1.25, centre()),
            "zoom_out": lambda: canvas.zoom_at(0.8, centre()),
            "help": self.toggle_help,
            "contrast": self.display.toggle_auto,
            "levels": self.show_levels,
            "cancel": self._cancel,
        }
        if c is not None:
            handlers.update({
                "undo": c.undo, "redo": c.redo,
                "eraser": s.select_eraser, "brush": s.select_brush,
                "fill": lambda: s.set_tool(Tool.FILL),
                "wand": lambda: s.set_tool(Tool.WAND),
                "polygon": lambda: s.set_tool(Tool.POLYGON),
                "close_polygon": c.close_polygon,
                "smaller": lambda: self._grow(-1), "bigger": lambda: self._grow(1),
                "toggle_overlay": lambda: s.set_overlay_visible(not s.overlay_visible),
                "only_class": lambda: s.set_only_selected(not s.only_selected),
                "fill_unlabelled": c.fill_unlabelled,
                "prediction": self.start_from_prediction,
            })
        else:
            handlers.update({
                "undo": self.tag_undo.undo, "redo": self.tag_undo.redo,
                "same_as_previous": self.same_as_previous,
                "filter_tags": lambda: self.tag_panel.filter_edit.setFocus(),
            })
        return handlers

    def add_action(self, ident: str, text: str, keys: list[str], slot: Callable, *,
                   while_typing: bool = False) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action_{ident}")
        action.setShortcuts([QKeySequence(k) for k in keys])
        # Window-wide, so the keys work after clicking the image list or a button. Text fields
        # and spin boxes claim printable keys and Ctrl+Z themselves (ShortcutOverride); the guard
        # drops the rest (PgDown, Return, Ctrl+P, ...) while the user is typing.
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(
            lambda _checked=False: None if typing() and not while_typing else slot())
        self.addAction(action)
        self.actions_by_id[ident] = action
        return action

    def _build_actions(self) -> None:
        handlers = self._handlers()
        for sc in shortcuts_for(self.task.value):
            if sc.action in handlers:
                # Esc also works in the tag filter: it clears it (the handler checks).
                self.add_action(sc.action, sc.text, list(sc.keys), handlers[sc.action],
                                while_typing=sc.action == "cancel")
        contrast = self.actions_by_id["contrast"]
        contrast.setCheckable(True)  # its button shows whether auto contrast is on
        contrast.setChecked(self.display.auto)
        contrast.triggered.connect(lambda _checked=False: self._sync_display())
        if self.controller is not None:
            for i in range(min(9, len(self.project.classes))):
                self.add_action(f"class_{i + 1}", f"Class {i + 1}", [str(i + 1)],
                                 lambda i=i: self.state.set_label(i))
            self.controller.undo_stack.indexChanged.connect(self._sync_undo_actions)
        else:
            self.tag_undo.canUndoChanged.connect(self._sync_undo_actions)
            self.tag_undo.canRedoChanged.connect(self._sync_undo_actions)
            self.tag_undo.activeStackChanged.connect(self._sync_undo_actions)
            for i, key in enumerate(self.tag_keys):
                if key:
                    self.add_action(f"tag_{i}", f"Toggle tag {i}", [key],
                                     lambda i=i: self.tag_panel.toggle(i))
        self.toolbar.populate(self.actions_by_id)
        self._sync_undo_actions()

    # ---------------------------------------------------------------- public API
    @property
    def canvas(self) -> ImageCanvas:
        return self._canvas

    @property
    def current_name(self) -> str | None:
        return self._name

    def open_image(self, name: str) -> None:
        """Show image ``name``; pending edits of the previous image are saved first."""
        if name == self._name and self._image_shape is not None:
            return  # already shown: keep its undo history
        if self.tag_panel is not None and self._name is not None:
            self._previous_tags = self.tag_panel.checked()
        self.flush()
        if self.controller is not None:
            self.controller.close()
        self._name, self._image_shape = name, None
        if self.seat is not None:
            self.seat.take(name)
        self._status = self._safe_status(name)
        try:
            rgb = load_image(self.project.image_path(name))
        except WorkbenchError as exc:
            self._show_problem(str(exc))
            return
        self._image_shape = (int(rgb.shape[0]), int(rgb.shape[1]))
        self._canvas.set_message("")
        self._canvas.set_image(rgb)
        self.display.open_image(name)
        if self.controller is not None:
            self._open_mask(name)
        else:
            self._open_tags(name)
        self._focus_canvas()
        self._update_info()

    def flush(self) -> None:
        """Write everything pending now (called on image switch and window close)."""
        if self.controller is not None:
            self.controller.finish_stroke()
            self.controller.save()

    def start_from_prediction(self) -> bool:
        if self.controller is None:
            return False
        found = self.controller.start_from_prediction()
        if not found and self._name is not None:
            self.errorOccurred.emit(f"No prediction for {self._name} yet: train a model in the "
                                    "Training panel; when a run finishes, the unlabelled images "
                                    "are predicted for you.")
            self.predictionMissing.emit(self._name)
        return found

    def toggle_reviewed(self) -> None:
        """Mark the image reviewed; pressing again returns it to labelled (or unlabelled)."""
        if self._name is None:
            return
        self.flush()
        name = self._name
        current = self.project.status(name)
        if current == Status.REVIEWED:
            new = Status.LABELLED if self.project.has_label(name) else Status.UNLABELLED
        else:
            new = Status.REVIEWED
        try:
            self.project.set_status(name, new)
        except WorkbenchError as exc:  # e.g. a team project: one's own label is reviewed by
            self.errorOccurred.emit(str(exc))  # someone else
            return
        self._emit_status(name)

    def show_levels(self) -> LevelsDialog:
        """The brightness / contrast dialog (non-modal: the image stays usable beside it)."""
        if self.levels_dialog is None:
            self.levels_dialog = LevelsDialog(self.display, self)
            self.levels_dialog.setWindowFlag(Qt.WindowType.Tool)
        self.levels_dialog.refresh()
        self.levels_dialog.show()
        self.levels_dialog.raise_()
        return self.levels_dialog

    def toggle_help(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
            self._canvas.setFocus()
        else:
            self.help_overlay.show_over_parent()

    def same_as_previous(self) -> None:
        if self.tag_panel is None or self._previous_tags is None or not self._name:
            return
        edit = self.set_tags(self._previous_tags, "Same tags as the previous image")
        if edit is not None and edit.replaces_labels:
            # Short: the status bar shares its width with the progress widgets.
            self.errorOccurred.emit(f"Replaced {', '.join(edit.old or ())} · Ctrl+Z undoes")

    def set_tags(self, tags: list[str], text: str = "Change tags") -> TagEdit | None:
        """Give the current image ``tags`` as one undo step; None when nothing changed."""
        if self._name is None or self.tag_panel is None:
            return None
        try:
            edit = TagEdit.replacing(self.project, self._name, tags)
        except WorkbenchError as exc:
            self.errorOccurred.emit(str(exc))
            return None
        if edit.is_noop:
            return None
        stack = self.tag_undo.activeStack()
        assert stack is not None, "a tag image is open, so its stack is active"
        stack.push(TagEditCommand(edit, text, self._write_tag_edit))
        return edit

    # ---------------------------------------------------------------- internals
    def _open_mask(self, name: str) -> None:
        assert self.controller is not None and self._image_shape is not None
        try:
            recovered = self.controller.open(name, self._image_shape,
                                             view_only=self.held_by is not None)
        except WorkbenchError as exc:
            self._show_problem(f"The mask of {name} cannot be edited: {exc}")
            return
        if recovered:
            self.recoveredEdits.emit(name, recovered)
        self.seg_panel.set_editable(self.held_by is None
                                    and not getattr(self.project, "readonly", False))
        self._show_badges()

    def _open_tags(self, name: str) -> None:
        assert self.tag_panel is not None
        if name not in self._tag_stacks:
            self._tag_stacks[name] = QUndoStack(self.tag_undo)
        self.tag_undo.setActiveStack(self._tag_stacks[name])
        self.tag_panel.setEnabled(not getattr(self.project, "readonly", False)
                                  and self.held_by is None)
        self.tag_panel.set_checked(self.project.tags(name))
        self._show_badges()

    def _show_problem(self, message: str) -> None:
        log.warning("%s", message)
        self._canvas.set_image(None)
        self._canvas.set_message(message)
        if self.tag_panel is not None:
            self.tag_panel.setEnabled(False)
        self.errorOccurred.emit(message)
        self._update_info()

    def _focus_canvas(self) -> None:
        # Take keyboard focus for the canvas's own keys (Space+drag), unless the user is typing.
        if not typing():
            self._canvas.setFocus()

    def _cancel(self) -> None:
        """Esc: close the help, drop the polygon being drawn, or clear the tag filter (also
        while typing in it, then back to the image so the tag keys work)."""
        panel = self.tag_panel
        if panel is not None and (panel.filter_edit.hasFocus() or panel.filter_edit.text()):
            panel.filter_edit.clear()
            self._canvas.setFocus()
        elif typing():
            return
        elif self.help_overlay.isVisible():
            self.toggle_help()
        elif self.controller is not None:
            self.controller.cancel_polygon()

    def _sync_view(self) -> None:
        s = self.state
        self._update_info()
        self._canvas.set_overlay_opacity(s.opacity)
        self._canvas.set_overlay_visible(s.overlay_visible)
        self._canvas.set_brush_radius(s.brush_size / 2 if s.tool == Tool.BRUSH else None)
        if self.controller is not None and self.controller.session is not None:
            self.controller.apply_colors()
        if s.tool != Tool.POLYGON and self.controller is not None:
            self.controller.cancel_polygon()

    def _grow(self, steps: int) -> None:
        """[ / ]: the brush size, or the wand's tolerance while the wand is the tool."""
        if self.state.tool == Tool.WAND:
            self.state.grow_tolerance(steps)
        else:
            self.state.grow_brush(steps)

    def _sync_display(self) -> None:
        action = self.actions_by_id.get("contrast")
        if action is not None:  # checked while auto contrast is on: visible in the tool bar
            action.setChecked(self.display.auto)
            action.setToolTip(f"Auto contrast (C): {'on' if self.display.auto else 'off'} · "
                              f"now {self.display.describe()}")
        self._update_info()

    def _sync_undo_actions(self, *_args: object) -> None:
        if self.controller is None:
            can_undo, can_redo = self.tag_undo.canUndo(), self.tag_undo.canRedo()
        else:
            stack = self.controller.undo_stack
            can_undo, can_redo = stack.can_really_undo(), stack.canRedo()
        self.actions_by_id["undo"].setEnabled(can_undo)
        self.actions_by_id["redo"].setEnabled(can_redo)

    def _safe_status(self, name: str) -> str | None:
        try:
            return Status(self.project.status(name)).value
        except WorkbenchError:
            return None

    def _emit_status(self, name: str) -> None:
        status = self._safe_status(name)
        if status is not None and (name != self._name or status != self._status):
            if name == self._name:
                if self._status == Status.UNLABELLED.value and status == Status.LABELLED.value:
                    self._mark_in_progress(name)  # labels begun here: not done until R
                self._status = status
            self.statusChanged.emit(name, status)
        self._update_info()

    def _mark_in_progress(self, name: str) -> None:
        try:
            self.project.set_in_progress(name)
        except WorkbenchError as exc:
            log.warning("could not mark %s in progress: %s", name, exc)

    def in_progress(self) -> bool:
        """Whether the open image is labelled here but not yet marked done (R)."""
        if self._name is None:
            return False
        try:
            return self._name in self.project.in_progress()
        except WorkbenchError as exc:  # a team server that is away: not known now
            log.debug("in-progress marks unavailable: %s", exc)
            return False

    def _on_saved(self, name: str) -> None:
        self.labelsSaved.emit(name)
        self._emit_status(name)

    def _on_tags_changed(self, tags: list[str]) -> None:
        if self.set_tags(tags) is None and self._name is not None:
            self._show_tags(self.project.tags(self._name))  # a failed write: show what is stored

    def _write_tag_edit(self, edit: TagEdit, forward: bool) -> bool:
        """Store one side of ``edit``; show it when that image is on screen."""
        try:
            edit.apply(self.project) if forward else edit.revert(self.project)
        except WorkbenchError as exc:
            self.errorOccurred.emit(str(exc))
            ok = False
        else:
            ok = True
        if edit.image == self._name:
            self._show_tags(self.project.tags(edit.image))
        if ok:
            self.labelsSaved.emit(edit.image)
            self._emit_status(edit.image)
        return ok

    def _show_tags(self, tags: list[str]) -> None:
        assert self.tag_panel is not None
        self.tag_panel.set_checked(tags)
        self._show_badges()

    def _show_badges(self) -> None:
        badges: list[tuple[str, tuple[int, int, int]]] = []
        if self.held_by is not None:
            badges.append((f"held by {self.held_by} · read-only", (200, 60, 60)))
        elif self.review_note:
            badges.append((self.review_note, (214, 130, 20)))
        if self.tag_panel is not None:
            colors = dict(zip(self.project.classes, self.project.colors))
            badges += [(t, colors[t]) for t in self.tag_panel.checked()]
        self._canvas.set_badges(badges)

    # ---------------------------------------------------------------- team projects
    @property
    def review_note(self) -> str:
        """Team projects: why a reviewer sent the open image back to this annotator ("")."""
        return self.seat.note if self.seat is not None and self.seat.name == self._name else ""

    @property
    def held_by(self) -> str | None:
        """Who else holds the open image (it is read-only here), None when it is ours: the
        seat's, which its lease renewals keep current."""
        seat = self.seat
        return seat.held_by if seat is not None and seat.name == self._name else None

    def reopen(self) -> None:
        """Show the open image again as the project has it now (claim, mask, tags)."""
        if self._name is not None:
            name, self._image_shape = self._name, None
            self.open_image(name)

    def set_reconnecting(self, on: bool) -> None:
        self._reconnecting = on
        self._update_info()

    def _on_refused(self, name: str, message: str) -> None:
        self.errorOccurred.emit(message)
        if name == self._name:
            self.reopen()

    def _update_info(self) -> None:
        if self._name is None:
            self.info.setText("No image")
            return
        parts = [self._name]
        if self.held_by is not None:
            parts.append(f"held by {self.held_by} (read-only)")
        elif self.review_note:
            parts.append(self.review_note)
        if self._reconnecting:
            parts.append("reconnecting to the server: your strokes are kept")
        if self._image_shape is not None:
            parts.append(f"{self._image_shape[1]} × {self._image_shape[0]}")
        parts.append("labelled, in progress (R when done)" if self._status == "labelled"
                     and self.in_progress() else self._status or "?")
        parts.append(f"zoom {self._canvas.scale * 100:.0f} %")
        parts.append(self.display.describe())
        c = self.controller
        if c is not None and c.session is not None:
            s = self.state
            label = "erase" if s.erasing else self.project.classes[s.label]
            size = (f" {s.brush_size} px" if s.tool == Tool.BRUSH else
                    f" ±{s.tolerance}" if s.tool == Tool.WAND else "")
            parts.append(f"{s.tool.value}{size} · {label}")
            parts.append("unsaved changes" if c.session.dirty else "saved")
        self.info.setText("   ·   ".join(parts))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.toolbar.fit(self.width())
        if self.help_overlay.isVisible():
            self.help_overlay.setGeometry(self.rect())
