"""Brightness / contrast of the image on screen: auto contrast (``C``) and display levels set in
the Levels dialog (low / high / gamma over the image's histogram), for one image or for every
image of the project. Display only: masks, training and exports see the stored pixels.

Which levels show an image: its own levels, else the project's, else auto contrast when it is
on, else the pixels as stored. :class:`DisplayControl` holds that state and applies it to the
canvas; the window's project preferences keep it across sessions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.display import GAMMA_RANGE, Levels, auto_levels, histogram
from workbench.qt.canvas import ImageCanvas

IMAGE, PROJECT = "image", "project"


class DisplayControl(QObject):
    """Auto contrast and display levels per image / per project, applied to the canvas."""

    changed = Signal()

    def __init__(self, canvas: ImageCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.auto = canvas.auto_contrast
        self.project_levels: Levels | None = None
        self.image_levels: dict[str, Levels] = {}
        self.name: str | None = None

    # -- state -------------------------------------------------------------------------------
    def mode(self) -> str:
        """"image" / "project" (levels), "auto" or "off" for the open image."""
        if self.name is not None and self.name in self.image_levels:
            return IMAGE
        if self.project_levels is not None:
            return PROJECT
        return "auto" if self.auto else "off"

    def levels(self) -> Levels | None:
        mode = self.mode()
        if mode == IMAGE:
            return self.image_levels[self.name]  # type: ignore[index]
        return self.project_levels if mode == PROJECT else None

    def describe(self) -> str:
        """One short phrase for the status line: how the open image is shown."""
        mode, levels = self.mode(), self.levels()
        if levels is not None:
            where = "this image" if mode == IMAGE else "project"
            gamma = f" γ {levels.gamma:g}" if levels.gamma != 1.0 else ""
            return f"levels {levels.low}–{levels.high}{gamma} ({where})"
        return "auto contrast" if self.auto else "contrast as stored"

    # -- commands ----------------------------------------------------------------------------
    def open_image(self, name: str | None) -> None:
        self.name = name
        self._apply()

    def set_auto(self, on: bool) -> None:
        self.auto = bool(on)
        self._apply()

    def toggle_auto(self) -> None:
        self.set_auto(not self.auto)

    def set_levels(self, levels: Levels | None, scope: str) -> None:
        """Levels for the open image (scope "image") or every image ("project"); None
        removes them there."""
        if scope == IMAGE:
            if self.name is None:
                return
            if levels is None:
                self.image_levels.pop(self.name, None)
            else:
                self.image_levels[self.name] = levels
        else:
            self.project_levels = levels
        self._apply()

    def _apply(self) -> None:
        self.canvas.set_auto_contrast(self.auto)
        self.canvas.set_levels(self.levels())
        self.changed.emit()

    # -- preferences -------------------------------------------------------------------------
    def to_prefs(self) -> dict[str, Any]:
        return {"auto": self.auto,
                "project": self.project_levels.to_json() if self.project_levels else None,
                "images": {n: lv.to_json() for n, lv in sorted(self.image_levels.items())}}

    def restore(self, saved: dict[str, Any]) -> None:
        if isinstance(saved.get("auto"), bool):
            self.auto = saved["auto"]
        self.project_levels = Levels.from_json(saved.get("project"))
        images = saved.get("images")
        if isinstance(images, dict):
            self.image_levels = {n: lv for n, v in images.items()
                                 if isinstance(n, str) and (lv := Levels.from_json(v))}
        self._apply()


class HistogramView(QWidget):
    """The image's intensity histogram (log counts) with the low / high levels and the
    gamma curve drawn over it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("levelsHistogram")
        self.setMinimumSize(256, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.counts = np.zeros(256)
        self.levels = Levels()

    def set_counts(self, counts: np.ndarray) -> None:
        self.counts = np.log1p(np.asarray(counts, dtype=float))
        self.update()

    def set_levels(self, levels: Levels) -> None:
        self.levels = levels
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(30, 32, 36))
        top = self.counts.max() or 1.0
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(150, 160, 175))
        for value, count in enumerate(self.counts):
            bar = count / top * (h - 4)
            p.drawRect(QRectF(value * w / 256, h - bar, max(1.0, w / 256), bar))
        lv = self.levels
        p.setPen(QPen(QColor(255, 200, 0), 1.5))
        for value in (lv.low, lv.high):
            x = (value + 0.5) * w / 256
            p.drawLine(QPointF(x, 0), QPointF(x, h))
        curve = QPainterPath()
        for value, shown in enumerate(lv.lut()):
            point = QPointF((value + 0.5) * w / 256, h - 2 - shown / 255 * (h - 4))
            curve.lineTo(point) if value else curve.moveTo(point)
        p.setPen(QPen(QColor(90, 180, 255), 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(curve)
        p.end()


class LevelsDialog(QDialog):
    """Low / high / gamma over the histogram, for this image or the whole project; changes
    show at once. Auto sets low and high from the image's percentiles; Reset removes the
    levels of the chosen scope."""

    def __init__(self, control: DisplayControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("levelsDialog")
        self.setWindowTitle("Brightness and contrast")
        self.control = control
        self.histogram = HistogramView()
        self.low = _slider_spin("levelsLow", 0, 254)
        self.high = _slider_spin("levelsHigh", 1, 255)
        self.gamma = QDoubleSpinBox(objectName="levelsGamma")
        self.gamma.setRange(*GAMMA_RANGE)
        self.gamma.setSingleStep(0.05)
        self.gamma.setDecimals(2)
        self.gamma.setToolTip("Below 1 brightens dark parts, above 1 darkens them")
        self.this_image = QRadioButton("This image", objectName="levelsScopeImage")
        self.whole_project = QRadioButton("Every image in the project",
                                          objectName="levelsScopeProject")
        scope = QButtonGroup(self)
        scope.addButton(self.this_image)
        scope.addButton(self.whole_project)
        self.mode_label = QLabel(objectName="levelsMode")
        self.mode_label.setWordWrap(True)
        auto = QPushButton("Auto", objectName="levelsAuto")
        auto.setToolTip("Low and high at this image's 0.5 % and 99.8 % intensities")
        reset = QPushButton("Reset", objectName="levelsReset")
        reset.setToolTip("Remove the levels of the chosen scope")
        close = QPushButton("Close")
        form = QFormLayout()
        form.addRow("Low (black)", self.low[2])
        form.addRow("High (white)", self.high[2])
        form.addRow("Gamma", self.gamma)
        scope_row = QHBoxLayout()
        scope_row.addWidget(self.this_image)
        scope_row.addWidget(self.whole_project)
        buttons = QHBoxLayout()
        for button in (auto, reset):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.histogram)
        layout.addLayout(form)
        layout.addLayout(scope_row)
        layout.addWidget(self.mode_label)
        layout.addLayout(buttons)
        for spin in (self.low[1], self.high[1]):
            spin.valueChanged.connect(self._edited)
        self.gamma.valueChanged.connect(self._edited)
        auto.clicked.connect(self.auto)
        reset.clicked.connect(self.reset)
        close.clicked.connect(self.close)
        control.changed.connect(self.refresh)
        self.refresh()

    def scope(self) -> str:
        return PROJECT if self.whole_project.isChecked() else IMAGE

    def refresh(self) -> None:
        """Show the open image's histogram and the levels it is shown with."""
        control = self.control
        rgb = control.canvas.rgb
        if rgb is not None:
            self.histogram.set_counts(histogram(rgb))
        mode = control.mode()
        if not (self.this_image.isChecked() or self.whole_project.isChecked()):
            (self.whole_project if mode == PROJECT else self.this_image).setChecked(True)
        levels = control.levels() or (auto_levels(rgb) if control.auto and rgb is not None
                                      else Levels())
        self._show(levels)
        self.mode_label.setText(f"Now: {control.describe()}.")

    def _show(self, levels: Levels) -> None:
        widgets = (*self.low[:2], *self.high[:2], self.gamma)
        for widget in widgets:
            widget.blockSignals(True)
        for slider, spin in (self.low[:2], self.high[:2]):
            value = levels.low if spin is self.low[1] else levels.high
            slider.setValue(value)
            spin.setValue(value)
        self.gamma.setValue(levels.gamma)
        for widget in widgets:
            widget.blockSignals(False)
        self.histogram.set_levels(levels)

    def _edited(self, *_args: object) -> None:
        low, high = self.low[1].value(), self.high[1].value()
        if low >= high:  # keep them apart: the one being dragged pushes the other
            if self.sender() is self.low[1]:
                high = min(255, low + 1)
            else:
                low = max(0, high - 1)
        self.set_levels(Levels(low, high, round(self.gamma.value(), 2)))

    def set_levels(self, levels: Levels) -> None:
        self.control.set_levels(levels, self.scope())

    def auto(self) -> None:
        rgb = self.control.canvas.rgb
        if rgb is not None:
            self.set_levels(auto_levels(rgb))

    def reset(self) -> None:
        self.control.set_levels(None, self.scope())


def _slider_spin(name: str, low: int, high: int) -> tuple[QSlider, QSpinBox, QWidget]:
    """A slider and a spin box kept in step, in one row widget."""
    slider = QSlider(Qt.Orientation.Horizontal, objectName=f"{name}Slider")
    spin = QSpinBox(objectName=name)
    for widget in (slider, spin):
        widget.setRange(low, high)
    slider.valueChanged.connect(spin.setValue)
    spin.valueChanged.connect(slider.setValue)
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(slider, 1)
    layout.addWidget(spin)
    return slider, spin, row
