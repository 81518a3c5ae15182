"""The training settings as a collapsible section beside the panel's tabs.

The panel lives in a dock under the image: wide and short. The settings (Model and Stages
groups) scroll vertically, never horizontally: the section is exactly as wide as its content
needs, in one column, or two side by side (Model | Stages) when the panel has the width.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QGroupBox,
    QHBoxLayout,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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


class SettingsBesideTabs(QWidget):
    """The settings section beside the tabs, or, when the panel is too narrow for both (a
    refit brings up Training while the Queue takes the right of the window), one of them at a
    time: the tabs, and the settings while the Settings toggle is on. So the panel's minimum
    width is the wider of the two, never their sum, and it cannot push the window past the
    screen."""

    def __init__(self, section: SettingsSection, tabs: QTabWidget, toggle: QToolButton,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section, self.tabs, self.toggle = section, tabs, toggle
        self.wanted = True  # settings beside the tabs, when there is room
        self.wanted_narrow = False  # settings instead of the tabs, when there is not
        self.narrow = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(section)
        layout.addWidget(tabs, 1)
        self._apply()

    def needed_beside(self) -> int:
        """Width for both side by side without cutting the tab bar."""
        corner = self.tabs.cornerWidget(Qt.Corner.TopRightCorner)
        bar = self.tabs.tabBar().sizeHint().width() + (
            corner.sizeHint().width() if corner is not None and corner.isVisibleTo(self.tabs)
            else 0)
        spacing = self.layout().spacing()
        return self.section.width() + spacing + max(bar, self.tabs.minimumSizeHint().width())

    def minimumSizeHint(self) -> QSize:
        tabs = self.tabs.minimumSizeHint()
        width = max(self.section.width(), tabs.width())
        return QSize(width, max(self.section.minimumSizeHint().height(), tabs.height()))

    def set_settings_visible(self, visible: bool) -> None:
        if self.narrow:
            self.wanted_narrow = visible
        else:
            self.wanted = visible
        self._apply()

    def show_tabs(self) -> None:
        """A job started: its plots must be in view, even in a narrow panel."""
        if self.narrow and self.wanted_narrow:
            self.set_settings_visible(False)

    def settings_shown(self) -> bool:
        return self.wanted_narrow if self.narrow else self.wanted

    def _apply(self) -> None:
        shown = self.settings_shown()
        self.section.setVisible(shown)
        self.tabs.setVisible(not (self.narrow and shown))
        self.toggle.setArrowType(Qt.ArrowType.LeftArrow if shown else Qt.ArrowType.RightArrow)
        if self.toggle.isChecked() != shown:
            self.toggle.blockSignals(True)
            self.toggle.setChecked(shown)
            self.toggle.blockSignals(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        narrow = event.size().width() < self.needed_beside()
        if narrow != self.narrow:
            self.narrow = narrow
            self.wanted_narrow = False
            self._apply()
