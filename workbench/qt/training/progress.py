"""The progress bar: the job's phase, position and time left, as the engine estimates it
(:class:`workbench.training.eta.RunEstimate`); this widget only shows what it is given."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar, QWidget

STEPS = 1000  # resolution of the bar when it shows a fraction


class TrainingProgress(QProgressBar):
    """``trainProgress``: 'Stage 2 of 2 · epoch 1/2 · batch 3/4 · about 1 min left'."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainProgress")
        self.set_idle("Idle")

    def set_idle(self, text: str) -> None:
        self.setRange(0, 1)
        self.setValue(0)
        self.setFormat(text)

    def set_busy(self, text: str) -> None:
        """Indeterminate bar (building data and the model, before the first report)."""
        self.setRange(0, 0)
        self.setFormat(text)

    def show_estimate(self, text: str, fraction: float) -> None:
        """``fraction`` of the job done (0..1) and the text that says where it is."""
        self.setRange(0, STEPS)
        self.setValue(round(min(max(fraction, 0.0), 1.0) * STEPS))
        self.setFormat(text)

    def show_steps(self, text: str, done: int, total: int) -> None:
        """A job counted in steps, e.g. 'Scoring · image 37/100'."""
        self.setRange(0, max(1, total))
        self.setValue(min(done, total))
        self.setFormat(f"{text} {done}/{total}")

    def finish(self, text: str) -> None:
        self.setRange(0, 1)
        self.setValue(1)
        self.setFormat(text)
