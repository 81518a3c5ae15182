"""Side panel for segmentation: class palette, tools, brush size, overlay settings.

The panel is a view of :class:`ToolState`: user input writes the state, and state changes
(from keys, for example) update the widgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.annotation import UNLABELLED
from workbench.qt.annotation.state import MAX_BRUSH, MIN_BRUSH, Tool, ToolState

TOOLS = ((Tool.BRUSH, "Brush", "B"), (Tool.FILL, "Fill", "G"), (Tool.POLYGON, "Polygon", "P"))


def swatch(rgb: tuple[int, int, int] | None, size: int = 14) -> QIcon:
    """A rounded colour square; None draws the checkerboard-ish "unlabelled" swatch."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QColor(0, 0, 0, 90))
    if rgb is None:
        p.setBrush(QColor(235, 235, 235))
        p.drawRoundedRect(0, 0, size - 1, size - 1, 3, 3)
        p.setPen(QColor(200, 60, 60))
        p.drawLine(2, size - 3, size - 3, 2)
    else:
        p.setBrush(QColor(*rgb))
        p.drawRoundedRect(0, 0, size - 1, size - 1, 3, 3)
    p.end()
    return QIcon(pix)


def muted_color() -> str:
    """The theme's secondary text colour (the palette's placeholder colour)."""
    return QApplication.palette().color(QPalette.ColorRole.PlaceholderText).name()


def section(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("sectionLabel")
    label.setStyleSheet(f"color: {muted_color()}; font-size: 10px; font-weight: 600; "
                        "letter-spacing: 1px; margin-top: 8px;")
    return label


class SegmentationPanel(QWidget):
    """Palette, tools and sliders bound to a :class:`ToolState`."""

    fillUnlabelledRequested = Signal()
    predictionRequested = Signal()

    def __init__(self, state: ToolState, classes: Sequence[str],
                 colors: Sequence[tuple[int, int, int]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("segmentationPanel")
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 10)
        layout.setSpacing(6)

        self._build_palette(layout, classes, colors)
        self._build_tools(layout)
        self._build_overlay(layout)
        self._build_actions(layout)
        layout.addStretch(1)
        for w in self.findChildren(QWidget):
            if w is not self.palette_list:
                w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the canvas
        state.changed.connect(self.sync)
        self.sync()

    def _build_palette(self, layout: QVBoxLayout, classes: Sequence[str],
                       colors: Sequence[tuple[int, int, int]]) -> None:
        layout.addWidget(section("Classes"))
        self.palette_list = QListWidget()
        self.palette_list.setObjectName("classPalette")
        self.palette_list.setIconSize(QSize(14, 14))
        self.palette_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for i, (name, rgb) in enumerate(zip(classes, colors)):
            key = str(i + 1) if i < 9 else " "
            item = QListWidgetItem(swatch(rgb), f"{key}   {name}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.palette_list.addItem(item)
        erase = QListWidgetItem(swatch(None), "0   Unlabelled (erase)")
        erase.setData(Qt.ItemDataRole.UserRole, UNLABELLED)
        self.palette_list.addItem(erase)
        # As tall as its rows (up to a limit), so the panel has no empty list area.
        self.palette_list.setSizeAdjustPolicy(QListWidget.SizeAdjustPolicy.AdjustToContents)
        self.palette_list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.palette_list.setMaximumHeight(300)
        self.palette_list.currentItemChanged.connect(self._on_palette)
        layout.addWidget(self.palette_list)


    def _build_tools(self, layout: QVBoxLayout) -> None:
        state = self.state
        layout.addWidget(section("Tool"))
        tools = QGridLayout()
        self.tool_group = QButtonGroup(self)
        for col, (tool, text, key) in enumerate(TOOLS):
            button = QToolButton()
            # The key goes in the tooltip: three "Name  K" labels do not fit the panel's width.
            button.setText(text)
            button.setToolTip(f"{text} tool  ({key})")
            button.setCheckable(True)
            button.setObjectName(f"tool_{tool.value}")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.tool_group.addButton(button, col)
            tools.addWidget(button, 0, col)
        self.tool_group.idClicked.connect(lambda i: state.set_tool(TOOLS[i][0]))
        layout.addLayout(tools)

        self.size_label = QLabel()
        layout.addWidget(self.size_label)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setObjectName("brushSizeSlider")
        self.size_slider.setRange(MIN_BRUSH, MAX_BRUSH)
        self.size_slider.valueChanged.connect(state.set_brush_size)
        layout.addWidget(self.size_slider)


    def _build_overlay(self, layout: QVBoxLayout) -> None:
        state = self.state
        layout.addWidget(section("Overlay"))
        self.opacity_label = QLabel()
        layout.addWidget(self.opacity_label)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("opacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.valueChanged.connect(lambda v: state.set_opacity(v / 100))
        layout.addWidget(self.opacity_slider)
        self.visible_box = QCheckBox("Show overlay  (H)")
        self.visible_box.toggled.connect(state.set_overlay_visible)
        layout.addWidget(self.visible_box)
        self.only_box = QCheckBox("Only the selected class  (O)")
        self.only_box.setObjectName("onlySelectedClass")
        self.only_box.toggled.connect(state.set_only_selected)
        layout.addWidget(self.only_box)


    def _build_actions(self, layout: QVBoxLayout) -> None:
        layout.addWidget(section("Actions"))
        fill = QPushButton("Fill unlabelled  (U)")
        fill.setObjectName("fillUnlabelledButton")
        fill.setToolTip("Paint every still-unlabelled pixel with the selected class  (U)")
        fill.clicked.connect(self.fillUnlabelledRequested)
        layout.addWidget(fill)
        self.prediction_button = QPushButton("From prediction  (Ctrl+P)")
        self.prediction_button.setObjectName("startFromPredictionButton")
        self.prediction_button.setToolTip("Start from the model's prediction for this image; "
                                          "one undo step  (Ctrl+P)")
        self.prediction_button.clicked.connect(self.predictionRequested)
        layout.addWidget(self.prediction_button)

    def _on_palette(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        label = int(item.data(Qt.ItemDataRole.UserRole))
        if label == UNLABELLED:
            self.state.select_eraser()
        else:
            self.state.set_label(label)

    def sync(self) -> None:
        """Show the state (called whenever it changes)."""
        s = self.state
        row = s.num_classes if s.erasing else s.label
        for w in (self.palette_list, self.size_slider, self.opacity_slider,
                  self.visible_box, self.only_box):
            w.blockSignals(True)
        self.palette_list.setCurrentRow(row)
        self.size_slider.setValue(s.brush_size)
        self.opacity_slider.setValue(round(s.opacity * 100))
        self.visible_box.setChecked(s.overlay_visible)
        self.only_box.setChecked(s.only_selected)
        for w in (self.palette_list, self.size_slider, self.opacity_slider,
                  self.visible_box, self.only_box):
            w.blockSignals(False)
        self.tool_group.button([t for t, _, _ in TOOLS].index(s.tool)).setChecked(True)
        self.size_label.setText(f"Brush size  {s.brush_size} px   ( [ ] )")
        self.opacity_label.setText(f"Opacity  {round(s.opacity * 100)} %")
