"""Multilabel: the model's tag probabilities beside the ticks, and "Use predicted tags"
(one undo step) for the open image, from the newest run that predicted it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QPushButton

from workbench.core.annotation.predictions import newest_tag_probabilities
from workbench.core.errors import WorkbenchError

# training.metrics.DEFAULT_THRESH (the metrics' and top losses' rule); core and Qt code
# cannot import it without torch. A run that stored its own threshold uses that one.
DEFAULT_THRESHOLD = 0.2


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
                found = newest_tag_probabilities(self.workspace.project.root, name,
                                                 self.workspace.project.classes)
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
        record = self.workspace.project.db.get_run(self.run_id) if self.run_id else None
        config = (record or {}).get("config") or {}
        extra = config.get("extra") if isinstance(config, dict) else None
        return float((extra or {}).get("threshold", DEFAULT_THRESHOLD))

    def predicted(self) -> list[str]:
        if self.probs is None:
            return []
        thr = self.threshold()
        return [t for t in self.workspace.project.classes if self.probs.get(t, 0.0) > thr]

    def use_predicted(self) -> bool:
        if self.probs is None:
            return False
        self.workspace.set_tags(self.predicted(), "Use predicted tags")
        return True
