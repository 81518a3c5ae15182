"""The training panel's widgets and layout (what Qt Designer's setupUi would do).

One row: Start, Stop, LR finder, the Settings toggle and the progress bar (the bar goes under
the buttons in a narrow panel). Below it the message line, then the collapsible settings
section beside the tabs: Plots, LR finder, Epochs, Preview, History, and any tab added with
``TrainingPanel.add_view``. Made for a dock under the image: wide and short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.training.banner import Banner
from workbench.qt.training.notices import NoticeBox
from workbench.qt.training.settings_section import SettingsBesideTabs, SettingsSection
from workbench.qt.wheel_guard import guard_wheel

if TYPE_CHECKING:
    from workbench.qt.training.panel import TrainingPanel


def build_ui(panel: TrainingPanel) -> None:
    """Create the panel's buttons, settings section and tabs, and lay them out."""
    _buttons(panel)
    panel.settings_section = SettingsSection(panel.form, panel.stages)
    guard_wheel(panel.settings_section)  # scrolling the settings never changes one
    panel.tabs = _tabs(panel)
    row = QHBoxLayout()
    for button in (panel.start_button, panel.stop_button, panel.lr_find_button,
                   panel.settings_button):
        row.addWidget(button)
    panel.top_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
    panel.top_row.addLayout(row)
    panel.top_row.addWidget(panel.progress, 1)
    panel.body = SettingsBesideTabs(panel.settings_section, panel.tabs, panel.settings_button)
    panel.runner.busyChanged.connect(lambda busy: panel.body.show_tabs() if busy else None)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(6, 4, 6, 4)
    outer.addLayout(panel.top_row)
    outer.addWidget(panel.banner)
    outer.addWidget(panel.notices)
    outer.addWidget(panel.body, 1)


def _buttons(panel: TrainingPanel) -> None:
    panel.start_button = _button("trainStartButton", "Start", "Run the selected stages")
    panel.start_button.setProperty("primary", True)  # the accent button of the panel
    panel.stop_button = _button("trainStopButton", "Stop",
                                "Stop after the current batch; the last checkpoint is kept")
    panel.lr_find_button = _button("lrFindButton", "LR finder",
                                   "Sweep the learning rate to find a good max LR")
    panel.show_batch_button = _button("showBatchButton", "Show batch",
                                      "Preview augmented training samples")
    panel.save_plots_button = _button("savePlotsButton", "Save plots as PNG…",
                                      "Save the four training plots as one image")
    toggle = QToolButton()
    toggle.setObjectName("settingsToggle")
    toggle.setText("Settings")
    toggle.setCheckable(True)
    toggle.setChecked(True)
    toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toggle.setArrowType(Qt.ArrowType.LeftArrow)
    toggle.setToolTip("Show or hide the model and stage settings")
    toggle.toggled.connect(panel.set_settings_visible)
    panel.settings_button = toggle
    panel.banner = Banner()
    panel.notices = NoticeBox()  # what the engine chose on its own, under the message line


def _tabs(panel: TrainingPanel) -> QTabWidget:
    tabs = QTabWidget()
    tabs.setObjectName("trainTabs")
    tabs.setDocumentMode(True)
    tabs.addTab(panel.plots, "Plots")
    tabs.addTab(panel.lr_finder, "LR finder")
    tabs.addTab(panel.table, "Epochs")
    panel.preview_tab = _preview_tab(panel)
    tabs.addTab(panel.preview_tab, "Preview")
    tabs.addTab(panel.history, "History")
    # "Save plots" belongs to the plots: beside the tabs, shown while Plots is in front.
    tabs.setCornerWidget(panel.save_plots_button, Qt.Corner.TopRightCorner)
    tabs.currentChanged.connect(
        lambda _i: panel.save_plots_button.setVisible(tabs.currentWidget() is panel.plots))
    return tabs


def _preview_tab(panel: TrainingPanel) -> QWidget:
    inner = QWidget()
    layout = QVBoxLayout(inner)
    row = QHBoxLayout()
    row.addWidget(panel.show_batch_button)
    row.addStretch(1)
    layout.addLayout(row)
    layout.addWidget(panel.batch_gallery)
    layout.addWidget(panel.pred_gallery)
    layout.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(inner)
    return scroll


def _button(name: str, text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button
