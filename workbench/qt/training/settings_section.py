"""The training settings as a collapsible section beside the panel's tabs.

The panel lives in a dock under the image: wide and short. The settings (Model and Stages
groups) scroll vertically, never horizontally: the section is exactly as wide as its content
needs, in one column, or two side by side (Model | Stages) when the panel has the width.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QBoxLayout, QGroupBox, QScrollArea, QVBoxLayout, QWidget

TWO_COLUMNS_FROM = 1500  # panel width from which Model and Stages sit side by side


class SettingsSection(QScrollArea):
    """``trainSettings``: Model and Stages groups; hide it to give the tabs the whole width."""

    def __init__(self, form: QWidget, stages: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainSettings")
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_group = QGroupBox("Model")
        QVBoxLayout(self.model_group).addWidget(form)
        content = QWidget()
        content.setObjectName("trainSettingsContent")
        self._box = QBoxLayout(QBoxLayout.Direction.TopToBottom, content)
        self._box.setContentsMargins(0, 0, 6, 0)
        self._box.addWidget(self.model_group, 0, Qt.AlignmentFlag.AlignTop)
        self._box.addWidget(stages, 0, Qt.AlignmentFlag.AlignTop)
        self._box.addStretch(1)
        self.setWidget(content)
        self.columns = 1
        # Content whose minimum width changes (a device with a long name, a longer label)
        # must widen the section, never be cut by it.
        content.installEventFilter(self)
        self.fit_width()

    def set_columns(self, columns: int) -> None:
        if columns == self.columns:
            return
        self.columns = columns
        self._box.setDirection(QBoxLayout.Direction.LeftToRight if columns == 2
                               else QBoxLayout.Direction.TopToBottom)
        self.fit_width()

    def fit_width(self) -> None:
        """Exactly the content's minimum width plus room for the vertical scroll bar."""
        bar = self.verticalScrollBar().sizeHint().width()
        self.setFixedWidth(self.widget().minimumSizeHint().width() + bar
                           + 2 * self.frameWidth())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit_width()
        return super().eventFilter(watched, event)
