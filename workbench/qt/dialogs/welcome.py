"""The window shown when no project is open: start actions and the recent-projects list."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench import __version__
from workbench.qt.dialogs.recent import RecentProjects, project_title
from workbench.qt.theme import icon

PathRole = Qt.ItemDataRole.UserRole + 1
TitleRole = Qt.ItemDataRole.UserRole + 2


class WelcomeWindow(QMainWindow):
    """Emits the same requests as MainWindow, so the app controller treats both alike."""

    openProjectRequested = Signal(str)  # a project folder, or "" to ask for one
    newProjectRequested = Signal()
    demoRequested = Signal()

    def __init__(self, recent: RecentProjects, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomeWindow")
        self.setWindowTitle("Workbench")
        self.recent = recent
        self.recent_list = QListWidget(objectName="recentList")
        self.recent_list.setIconSize(QSize(20, 20))
        # Long paths are shortened in the middle (full path in the tool tip), never scrolled;
        # _label_items elides the path line itself, since Qt elides a two-line text as one.
        self.recent_list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.recent_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent_list.setWordWrap(False)
        self.recent_list.itemActivated.connect(
            lambda item: self.openProjectRequested.emit(str(item.data(PathRole))))
        self.setCentralWidget(self._build())
        self.refresh()
        self.resize(900, 560)

    def _button(self, text: str, icon_name: str, slot: object, primary: bool = False,
                shortcut: QKeySequence.StandardKey | None = None) -> QPushButton:
        button = QPushButton(icon(icon_name), text)
        button.setIconSize(QSize(20, 20))
        button.setMinimumHeight(38)
        button.setProperty("primary", primary)
        button.clicked.connect(slot)
        if shortcut is not None:
            button.setShortcut(QKeySequence(shortcut))
        return button

    def _build(self) -> QWidget:
        title = QLabel("Workbench", objectName="welcomeTitle")
        subtitle = QLabel("Label images and train models on them, in one window.",
                          objectName="welcomeSubtitle")
        self.new_button = self._button("New project…", "project-new",
                                       self.newProjectRequested.emit, True,
                                       QKeySequence.StandardKey.New)
        self.open_button = self._button("Open project…", "folder-open",
                                        lambda: self.openProjectRequested.emit(""), False,
                                        QKeySequence.StandardKey.Open)
        self.demo_button = self._button("Open the demo project", "demo", self.demoRequested.emit)
        left = QVBoxLayout()
        left.setSpacing(10)
        for widget in (title, subtitle):
            left.addWidget(widget)
        left.addSpacing(18)
        for button in (self.new_button, self.open_button, self.demo_button):
            left.addWidget(button)
        left.addStretch(1)
        left.addWidget(QLabel(f"Version {__version__}", objectName="hint"))
        card = QFrame(objectName="welcomeCard")
        right = QVBoxLayout(card)
        right.setContentsMargins(16, 14, 16, 16)
        right.addWidget(QLabel("<b>Recent projects</b>"))
        right.addWidget(self.recent_list, 1)
        self.empty_hint = QLabel("Projects you open appear here.", objectName="hint")
        right.addWidget(self.empty_hint)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(40, 36, 40, 36)
        layout.setSpacing(36)
        layout.addLayout(left, 2)
        layout.addWidget(card, 3)
        return body

    def refresh(self) -> None:
        self.recent_list.clear()
        for path in self.recent.paths():
            item = QListWidgetItem(icon("images"), "")
            # Width 0: the row takes the list's width, so nothing scrolls sideways.
            # Two text lines plus the theme's item padding (12 px less cut the path line off).
            item.setSizeHint(QSize(0, 2 * self.recent_list.fontMetrics().lineSpacing() + 30))
            item.setData(PathRole, str(path))
            item.setData(TitleRole, project_title(path))
            item.setToolTip(str(path))
            self.recent_list.addItem(item)
        self._label_items()
        has_items = self.recent_list.count() > 0
        self.recent_list.setVisible(has_items)
        self.empty_hint.setVisible(not has_items)
        if has_items:
            self.recent_list.setCurrentRow(0)

    def _label_items(self) -> None:
        """Each row: the project's name, then its path elided in the middle to the list width."""
        view = self.recent_list
        room = view.viewport().width() - view.iconSize().width() - 24
        metrics = view.fontMetrics()
        for row in range(view.count()):
            item = view.item(row)
            path = metrics.elidedText(str(item.data(PathRole)), Qt.TextElideMode.ElideMiddle,
                                      max(room, 40))
            item.setText(f"{item.data(TitleRole)}\n{path}")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._label_items()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._label_items()
