"""One toggle in the annotation panel: show the label, the model's prediction or its errors.

Display only: the mask being edited stays the label. Painting while the prediction or the
errors are shown switches back to the label, so a stroke is never drawn where it is invisible.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.annotation import newest_prediction, read_prediction
from workbench.core.annotation.predictions import error_mask
from workbench.core.errors import WorkbenchError
from workbench.core.manifest import ERROR_COLOR
from workbench.core.runs import current_model_id
from workbench.qt.annotation.seg_panel import section

VIEWS = ("label", "prediction", "errors")


class PredictionView(QObject):
    """Which layer the segmentation canvas shows for the open image (``VIEWS``)."""

    viewChanged = Signal(str)

    def __init__(self, workspace: QObject, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.view = "label"
        self._prediction: np.ndarray | None = None
        self._shown: np.ndarray | None = None
        canvas = workspace.canvas
        # Connected after the controller's slots: its dab is painted first, then the label
        # (with that dab) comes back into view.
        canvas.pressed.connect(lambda *_: self.set_view("label"))
        workspace.state.changed.connect(self._reapply)

    def prediction(self) -> np.ndarray | None:
        """The current model's prediction of the open image, else the newest (None if there
        is none or it is unusable)."""
        session = getattr(self.workspace.controller, "session", None)
        if session is None:
            return None
        project = self.workspace.project
        path = newest_prediction(project.root, session.name, current_model_id(project))
        if path is None:
            return None
        try:
            return read_prediction(path, session.document.shape, session.document.num_classes)
        except WorkbenchError as exc:
            self.workspace.errorOccurred.emit(str(exc))
            return None

    def cycle(self) -> None:
        self.set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def set_view(self, view: str) -> bool:
        """Show ``view``; False (and the label) when the image has no prediction yet."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; use one of {VIEWS}")
        if view == "label" and self.view == "label":
            return True
        controller = self.workspace.controller
        session = getattr(controller, "session", None)
        ok = True
        if view != "label":
            pred = self.prediction() if session is not None else None
            if pred is None:
                name = self.workspace.current_name or "this image"
                self.workspace.errorOccurred.emit(
                    f"No prediction for {name} yet: open the Mistakes view or load a run.")
                view, ok = "label", False
            else:
                self._prediction = pred
        self.view = view
        self._show()
        self.viewChanged.emit(view)
        return ok

    def image_opened(self) -> None:
        """A new image is open: its label is shown first."""
        self.view, self._prediction, self._shown = "label", None, None
        self.viewChanged.emit("label")

    def _show(self) -> None:
        controller = self.workspace.controller
        session = controller.session
        canvas = self.workspace.canvas
        project = self.workspace.project
        if self.view == "label" or session is None or self._prediction is None:
            self._shown = None
            if session is not None:
                canvas.set_mask(session.mask, project.colors, controller._only_class())
            return
        if self.view == "prediction":
            self._shown = np.ascontiguousarray(self._prediction)
            canvas.set_mask(self._shown, project.colors)
        else:
            self._shown = error_mask(session.mask, self._prediction)
            canvas.set_mask(self._shown, [ERROR_COLOR])

    def _reapply(self) -> None:
        # Tool / class changes recolour the canvas with the class colours; keep this view's.
        if self.view != "label" and self._shown is not None:
            colors = [ERROR_COLOR] if self.view == "errors" else self.workspace.project.colors
            self.workspace.canvas.set_class_colors(colors, None)


class ViewToggle(QWidget):
    """Three linked buttons: Label | Prediction | Errors  (V cycles them)."""

    def __init__(self, view: PredictionView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionViewToggle")
        self.group = QButtonGroup(self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        for i, (key, text) in enumerate(zip(VIEWS, ("Label", "Prediction", "Errors"))):
            button = QToolButton()
            button.setObjectName(f"view_{key}")
            button.setText(text)
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setToolTip(f"Show the {text.lower()} on the image  (V cycles)")
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.group.addButton(button, i)
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(section("Show  (V)"))
        layout.addLayout(row)
        self.group.idClicked.connect(lambda i: view.set_view(VIEWS[i]))
        view.viewChanged.connect(self._sync)
        self._sync(view.view)

    def _sync(self, key: str) -> None:
        self.group.button(VIEWS.index(key)).setChecked(True)
