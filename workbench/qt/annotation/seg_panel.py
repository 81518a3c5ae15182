"""Side panel for segmentation: class palette, tools, brush size, overlay settings.

The panel is a view of :class:`ToolState`: user input writes the state, and state changes
(from keys, for example) update the widgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QStyledItemDelegate,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.annotation import UNLABELLED
from workbench.qt.annotation.state import MAX_BRUSH, MIN_BRUSH, Tool, ToolState
from workbench.qt.theme import icon

TOOLS = ((Tool.BRUSH, "Brush", "B"), (Tool.FILL, "Fill", "G"), (Tool.WAND, "Wand", "W"),
         (Tool.POLYGON, "Polygon", "P"))
#: What the row under the tool buttons says for tools without a setting of their own.
TOOL_HINTS = {Tool.FILL: "Fills the connected area of one label",
              Tool.POLYGON: "Click corners, Enter closes; or drag a lasso"}
EYE_PX = 16


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
                        "letter-spacing: 1px; margin-top: 4px;")
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
        layout.setContentsMargins(10, 4, 10, 6)
        layout.setSpacing(4)

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
            item.setToolTip(f"{name}: click to paint with it; the eye shows or hides its "
                            "overlay")
            self.palette_list.addItem(item)
        erase = QListWidgetItem(swatch(None), "0   Unlabelled (erase)")
        erase.setData(Qt.ItemDataRole.UserRole, UNLABELLED)
        self.palette_list.addItem(erase)
        # Each class row ends with an eye: click it to show / hide that class's overlay.
        self.eyes = EyeColumn(self.palette_list, self.state)
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
        tools.setHorizontalSpacing(2)
        self.tool_group = QButtonGroup(self)
        for col, (tool, text, key) in enumerate(TOOLS):
            button = QToolButton()
            # The key goes in the tooltip: "Name  K" labels do not fit the panel's width.
            button.setText(text)
            button.setToolTip(f"{text} tool  ({key})")
            button.setCheckable(True)
            button.setObjectName(f"tool_{tool.value}")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            # Four names in the panel's width: less padding than the theme's tool buttons.
            button.setStyleSheet("QToolButton { padding-left: 2px; padding-right: 2px; }")
            self.tool_group.addButton(button, col)
            tools.addWidget(button, 0, col)
        self.tool_group.idClicked.connect(lambda i: state.set_tool(TOOLS[i][0]))
        layout.addLayout(tools)
        # One row under the buttons for the tool's own setting: brush size, wand tolerance,
        # or a line on how the tool works.
        self.tool_options = QStackedWidget()
        self.tool_options.setObjectName("toolOptions")
        self.size_slider, self.size_label = self._slider_row(
            "brushSizeSlider", MIN_BRUSH, MAX_BRUSH, state.set_brush_size,
            "Brush size in image pixels  ( [ and ] )")
        self.tolerance_slider, self.tolerance_label = self._slider_row(
            "wandToleranceSlider", 0, 255, state.set_tolerance,
            "How far from the intensity clicked on the wand may go  ([ and ], Shift+wheel); "
            "changing it right after a click redoes that click")
        self.tool_hint = QLabel()
        self.tool_hint.setObjectName("toolHint")
        self.tool_hint.setWordWrap(True)
        self.tool_hint.setStyleSheet(f"color: {muted_color()}; font-size: 11px;")
        self.tool_options.addWidget(self.tool_hint)
        self.tool_options.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.tool_options)

    def _slider_row(self, name: str, low: int, high: int, slot, tip: str
                    ) -> tuple[QSlider, QLabel]:
        """A label and a slider on one line, added as a page of the tool options."""
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        label = QLabel()
        label.setMinimumWidth(label.fontMetrics().horizontalAdvance("Tolerance 255") + 4)
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setObjectName(name)
        slider.setRange(low, high)
        slider.setToolTip(tip)
        label.setToolTip(tip)
        slider.valueChanged.connect(slot)
        line.addWidget(label)
        line.addWidget(slider, 1)
        self.tool_options.addWidget(row)
        return slider, label

    def _build_overlay(self, layout: QVBoxLayout) -> None:
        state = self.state
        layout.addWidget(section("Overlay"))
        row = QHBoxLayout()
        self.visible_box = QCheckBox("Show  (H)")
        self.visible_box.setToolTip("Show the mask overlay  (H)")
        self.visible_box.toggled.connect(state.set_overlay_visible)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("opacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.opacity_slider.valueChanged.connect(lambda v: state.set_opacity(v / 100))
        self.opacity_label = QLabel()
        self.opacity_label.setToolTip("Overlay opacity")
        self.opacity_label.setMinimumWidth(
            self.opacity_label.fontMetrics().horizontalAdvance("100 %") + 2)
        row.addWidget(self.visible_box)
        row.addWidget(self.opacity_slider, 1)
        row.addWidget(self.opacity_label)
        layout.addLayout(row)
        self.only_box = QCheckBox("Only the selected class  (O)")
        self.only_box.setObjectName("onlySelectedClass")
        self.only_box.toggled.connect(state.set_only_selected)
        layout.addWidget(self.only_box)

    def _build_actions(self, layout: QVBoxLayout) -> None:
        layout.addWidget(section("Actions"))
        self.fill_button = fill = QPushButton("Fill unlabelled  (U)")
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

    def set_editable(self, on: bool) -> None:
        """Grey out what edits the mask (tools, their settings, the actions) while the image is
        read-only — held by someone else, or a read-only project; the view controls stay."""
        for button in self.tool_group.buttons():
            button.setEnabled(on)
        for widget in (self.tool_options, self.fill_button, self.prediction_button):
            widget.setEnabled(on)

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
        widgets = (self.palette_list, self.size_slider, self.tolerance_slider,
                   self.opacity_slider, self.visible_box, self.only_box)
        for w in widgets:
            w.blockSignals(True)
        self.palette_list.setCurrentRow(row)
        self.size_slider.setValue(s.brush_size)
        self.tolerance_slider.setValue(s.tolerance)
        self.opacity_slider.setValue(round(s.opacity * 100))
        self.visible_box.setChecked(s.overlay_visible)
        self.only_box.setChecked(s.only_selected)
        for w in widgets:
            w.blockSignals(False)
        self.tool_group.button([t for t, _, _ in TOOLS].index(s.tool)).setChecked(True)
        self.size_label.setText(f"Size {s.brush_size} px")
        self.tolerance_label.setText(f"Tolerance {s.tolerance}")
        self.opacity_label.setText(f"{round(s.opacity * 100)} %")
        if s.tool == Tool.BRUSH:
            self.tool_options.setCurrentWidget(self.size_slider.parentWidget())
        elif s.tool == Tool.WAND:
            self.tool_options.setCurrentWidget(self.tolerance_slider.parentWidget())
        else:
            self.tool_hint.setText(TOOL_HINTS[s.tool])
            self.tool_options.setCurrentWidget(self.tool_hint)
        self.palette_list.viewport().update()  # the eyes


class EyeColumn(QObject):
    """Draws an eye at the right end of each class row and toggles that class's overlay when
    it is clicked (the click does not select the class)."""

    def __init__(self, palette: QListWidget, state: ToolState) -> None:
        super().__init__(palette)
        self.palette = palette
        self.state = state
        self.icons = {True: icon("eye").pixmap(EYE_PX, EYE_PX),
                      False: icon("eye-off").pixmap(EYE_PX, EYE_PX)}
        palette.setItemDelegate(_EyeDelegate(self, palette))
        palette.viewport().installEventFilter(self)

    def eye_rect(self, row: int) -> QRect:
        rect = self.palette.visualRect(self.palette.model().index(row, 0))
        return QRect(rect.right() - EYE_PX - 6, rect.center().y() - EYE_PX // 2 + 1,
                     EYE_PX, EYE_PX)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            pos = event.position().toPoint()
            index = self.palette.indexAt(pos)
            label = index.data(Qt.ItemDataRole.UserRole) if index.isValid() else None
            if label is not None and label != UNLABELLED and \
                    self.eye_rect(index.row()).adjusted(-4, -4, 4, 4).contains(pos):
                if event.type() == QEvent.Type.MouseButtonPress:
                    self.state.set_class_visible(label, not self.state.class_visible(label))
                return True  # the eye is not a class pick
        return False


class _EyeDelegate(QStyledItemDelegate):
    def __init__(self, eyes: EyeColumn, parent: QWidget) -> None:
        super().__init__(parent)
        self.eyes = eyes

    def paint(self, painter: QPainter, option, index) -> None:
        super().paint(painter, option, index)
        label = index.data(Qt.ItemDataRole.UserRole)
        if label is not None and label != UNLABELLED:
            visible = self.eyes.state.class_visible(int(label))
            painter.drawPixmap(self.eyes.eye_rect(index.row()).topLeft(),
                               self.eyes.icons[visible])
