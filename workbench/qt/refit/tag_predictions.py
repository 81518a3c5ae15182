"""Multilabel: the model's tag probabilities beside the ticks, and "Use predicted tags"
(one undo step) for the open image, from the newest run that predicted it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QPushButton

from workbench.core.annotation.predictions import newest_tag_probabilities
from workbench.core.errors import WorkbenchError
from workbench.core.runs import DEFAULT_THRESHOLD, current_model_id, predicted_tags


class TagPredictions(QObject):
    """Keeps the tag panel's probabilities in step with the open image."""

    def __init__(self, workspace: QObject, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.probs: dict[str, float] | None = None
        self.run_id: str | None = None
        self.button = QPushButton("Use predicted tags")
        self.button.setObjectName("usePredictedTagsButton")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.setEnabled(False)
        self.button.clicked.connect(self.use_predicted)
        panel = workspace.tag_panel
        layout = panel.layout()
        layout.insertWidget(layout.indexOf(panel.same_button) + 1, self.button)

    def refresh(self, name: str | None = None) -> None:
        """Read the newest prediction of ``name`` (default: the open image) and show it."""
        name = name or self.workspace.current_name
        found = None
        if name is not None:
            try:
                project = self.workspace.project
                found = newest_tag_probabilities(project.root, name, project.classes,
                                                 current_model_id(project))
            except WorkbenchError as exc:
                self.workspace.errorOccurred.emit(str(exc))
        self.run_id, self.probs = found if found is not None else (None, None)
        self.workspace.tag_panel.set_probabilities(self.probs)
        predicted = self.predicted()
        self.button.setEnabled(self.probs is not None)
        self.button.setToolTip(
            "No prediction for this image yet: find the mistakes of a run or load a run."
            if self.probs is None else
            f"Tick exactly the tags run {self.run_id} predicts (≥ {self.threshold():.2f}): "
            f"{', '.join(predicted) or 'none'}. One undo step.")

    def threshold(self) -> float:
        """The decision threshold the predicting run stored (the metrics use it too)."""
        record = self.workspace.project.db.get_run(self.run_id) if self.run_id else None
        return record.decision_threshold if record is not None else DEFAULT_THRESHOLD

    def predicted(self) -> list[str]:
        if self.probs is None:
            return []
        classes = self.workspace.project.classes
        chosen = predicted_tags(np.array([self.probs.get(t, 0.0) for t in classes]),
                                self.threshold())
        return [t for t, keep in zip(classes, chosen, strict=True) if keep]

    def use_predicted(self) -> bool:
        if self.probs is None:
            return False
        self.workspace.set_tags(self.predicted(), "Use predicted tags")
        return True
