"""When "From prediction" finds no prediction: predict with the current model, or say how to get
one in the window (train from the Training panel; finished runs predict the unlabelled images).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget


class PredictionOffer(QObject):
    """Wires the workspace's ``predictionMissing`` to the training panel's predictions."""

    def __init__(self, window: QMainWindow, workspace: QWidget, panel: QWidget) -> None:
        super().__init__(window)
        self.window, self.workspace, self.panel = window, workspace, panel
        self.waiting_for: str | None = None  # image whose mask starts from the prediction
        workspace.predictionMissing.connect(self.offer)
        panel.predictionsWritten.connect(self._ready)

    def offer(self, name: str) -> None:
        status = self.window.statusBar()
        run_id = self.panel.host.current_model_id()
        if run_id is None:
            dock = getattr(self.window, "training_dock", None)
            if dock is not None:
                dock.show()  # Start is one click away
            status.showMessage(
                f"No prediction for {name} yet and no trained model: press Start in the "
                "Training panel. When the run finishes, the unlabelled images are predicted "
                "and “From prediction” (Ctrl+P) uses them.", 20000)
        elif self.panel.is_training():
            status.showMessage(f"No prediction for {name} yet: the unlabelled images are "
                               "predicted when this run finishes.", 15000)
        elif self.ask(name, run_id) and self.panel.predict_with_newest([name]):
            self.waiting_for = name
            status.showMessage(f"Predicting with run {run_id}; the mask of {name} starts from "
                               "the prediction when it is ready.", 15000)

    def ask(self, name: str, run_id: str) -> bool:
        """Ask whether to predict now; a QMessageBox tests can answer (object name
        ``offerPrediction``)."""
        box = QMessageBox(QMessageBox.Icon.Question, "No prediction yet",
                          f"There is no prediction for {name} yet.\nPredict it and the "
                          f"unlabelled images with the current model (run {run_id}) now? "
                          "You can keep labelling meanwhile.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self.window)
        box.setObjectName("offerPrediction")
        box.button(QMessageBox.StandardButton.Yes).setText("Predict with current model")
        return box.exec() == QMessageBox.StandardButton.Yes

    def _ready(self, _run_id: str) -> None:
        name, self.waiting_for = self.waiting_for, None
        if name is not None and getattr(self.workspace, "current_name", None) == name:
            self.workspace.start_from_prediction()
