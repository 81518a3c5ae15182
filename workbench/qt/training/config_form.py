"""Settings form bound both ways to a :class:`TrainConfig`.

Every widget change writes the config object at once; ``set_config`` pushes a config into the
widgets. Business logic reads ``form.config``, never widget text.
"""

from __future__ import annotations

import copy
import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from workbench.qt.training.devices import DevicePicker
from workbench.qt.training.hover import format_value
from workbench.training.config import ARCHS, TrainConfig
from workbench.training.weights import find_cached

PRECISION_LABELS = (("auto", "Auto"), ("fp32", "fp32"), ("bf16", "bf16"))


def parse_lr(text: str) -> float | None:
    """'' -> None (use the LR finder's suggestion); '3e-3' -> 0.003. Raises ValueError."""
    text = text.strip()
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value) or value <= 0 or value >= 10:
        raise ValueError(f"learning rate must be between 0 and 10, got {text}")
    return value


def fit_placeholder(edit: QLineEdit) -> None:
    """A line edit at least as wide as its placeholder text, which explains the empty value."""
    edit.setMinimumWidth(edit.fontMetrics().horizontalAdvance(edit.placeholderText()) + 20)


class LRValidator(QValidator):
    """Accepts a positive float below 10, or empty (= auto)."""

    def validate(self, text: str, pos: int) -> object:
        try:
            parse_lr(text)
        except ValueError:
            partial = text.strip().lower().rstrip("e-+.")
            ok = partial == "" or all(c in "0123456789.e-+" for c in text.strip().lower())
            state = QValidator.State.Intermediate if ok else QValidator.State.Invalid
            return state, text, pos
        return QValidator.State.Acceptable, text, pos


class ConfigForm(QWidget):
    """Architecture, size, batch size, epochs, max LR, wd, pct_start, top-down, device,
    precision."""

    configChanged = Signal()
    downloadWeightsRequested = Signal(str)  # architecture

    def __init__(self, config: TrainConfig | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config = copy.deepcopy(config) if config is not None else TrainConfig()
        self._build()
        self.set_config(self.config)
        self._connect()
        self.refresh_weights()

    def _build(self) -> None:
        self.arch_combo = QComboBox()
        self.arch_combo.setObjectName("archCombo")
        self.arch_combo.addItems(list(ARCHS))
        self.size_spin = _spin("sizeSpin", 16, 2048, 16, " px")
        self.bs_spin = _spin("bsSpin", 1, 512, 1)
        self.epochs_spin = _spin("epochsSpin", 1, 1000, 1)
        self.lr_edit = QLineEdit()
        self.lr_edit.setObjectName("lrEdit")
        self.lr_edit.setPlaceholderText("auto (LR finder valley)")
        self.lr_edit.setValidator(LRValidator(self.lr_edit))
        fit_placeholder(self.lr_edit)
        self.lr_edit.setToolTip("Max learning rate of the one-cycle schedule, e.g. 1e-3. "
                                "Empty: run the LR finder first and use its valley.")
        self.wd_spin = QDoubleSpinBox()
        self.wd_spin.setObjectName("wdSpin")
        self.wd_spin.setDecimals(4)
        self.wd_spin.setRange(0.0, 1.0)
        self.wd_spin.setSingleStep(0.01)
        self.pct_spin = QDoubleSpinBox()
        self.pct_spin.setObjectName("pctStartSpin")
        self.pct_spin.setRange(0.05, 0.95)
        self.pct_spin.setSingleStep(0.05)
        self.top_down_check = QCheckBox("Top-down imagery")
        self.top_down_check.setObjectName("topDownCheck")
        self.top_down_check.setToolTip("Microscopy, aerial or satellite images: also flip "
                                       "vertically and rotate by 90° when augmenting")
        self.pretrained_check = QCheckBox("ImageNet weights")
        self.pretrained_check.setObjectName("pretrainedCheck")
        self.pretrained_check.setToolTip("Start from ImageNet-pretrained weights when they are "
                                         "in the torch hub cache; else from scratch")
        self.download_button = QPushButton("Download…")
        self.download_button.setObjectName("downloadWeightsButton")
        self.download_button.setToolTip("Download torchvision's ImageNet weights for this "
                                        "architecture into the torch hub cache")
        self.device_picker = DevicePicker()
        self.precision_combo = QComboBox()
        self.precision_combo.setObjectName("precisionCombo")
        for key, label in PRECISION_LABELS:
            self.precision_combo.addItem(label, key)
        self.precision_combo.setToolTip(
            "Auto: bf16 mixed precision with channels-last on a CPU that runs bf16 natively "
            "(about 1.5-2x faster), the GPU's mixed precision on CUDA, fp32 elsewhere. The "
            "weights stay fp32 either way.")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Architecture", self.arch_combo)
        form.addRow("Image size", self.size_spin)
        form.addRow("Batch size", self.bs_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Max LR", self.lr_edit)
        form.addRow("Weight decay", self.wd_spin)
        form.addRow("pct_start", self.pct_spin)
        form.addRow("", self.top_down_check)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.pretrained_check)
        weights_row.addWidget(self.download_button)
        weights_row.addStretch(1)
        form.addRow("", weights_row)
        form.addRow("Device", self.device_picker)
        form.addRow("Precision", self.precision_combo)

    def _connect(self) -> None:
        self.arch_combo.currentTextChanged.connect(lambda v: self._set("arch", v))
        self.size_spin.valueChanged.connect(lambda v: self._set("size", int(v)))
        self.bs_spin.valueChanged.connect(lambda v: self._set("bs", int(v)))
        self.epochs_spin.valueChanged.connect(lambda v: self._set("epochs", int(v)))
        self.lr_edit.textChanged.connect(self._lr_text_changed)
        self.wd_spin.valueChanged.connect(lambda v: self._set("wd", float(v)))
        self.pct_spin.valueChanged.connect(lambda v: self._set("pct_start", float(v)))
        self.top_down_check.toggled.connect(lambda v: self._set("top_down", bool(v)))
        self.pretrained_check.toggled.connect(
            lambda v: self._set("pretrained", "auto" if v else None))
        self.device_picker.deviceChanged.connect(lambda v: self._set("device", v))
        self.precision_combo.currentIndexChanged.connect(
            lambda _i: self._set("precision", str(self.precision_combo.currentData())))
        self.download_button.clicked.connect(
            lambda: self.downloadWeightsRequested.emit(self.config.arch))
        self.configChanged.connect(self.refresh_weights)

    def set_cpu_bf16(self, native: bool) -> None:
        """Say what "Auto" means on this machine's CPU (from the device probe)."""
        self.precision_combo.setItemText(0, "Auto (bf16 on this CPU)" if native
                                         else "Auto (fp32 on this CPU)")

    def refresh_weights(self) -> None:
        """Offer the download only while the architecture's weights are not in the cache."""
        self.download_button.setVisible(find_cached(self.config.arch) is None)

    def _set(self, name: str, value: object) -> None:
        setattr(self.config, name, value)
        self.configChanged.emit()

    def _lr_text_changed(self, text: str) -> None:
        try:
            lr = parse_lr(text)
        except ValueError:
            self.lr_edit.setStyleSheet("QLineEdit { color: #b00020; }")
            return  # keep the last valid value in the config while the user is typing
        self.lr_edit.setStyleSheet("")
        self._set("lr", lr)

    def set_lr(self, lr: float | None) -> None:
        """Write a learning rate (e.g. picked on the LR finder plot) into config and field."""
        self.lr_edit.setText("" if lr is None else format_value(lr))
        self.config.lr = lr  # exact value, not the rounded text
        self.configChanged.emit()

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config`` in the widgets; the form then edits this object."""
        self.config = config
        widgets = (self.arch_combo, self.size_spin, self.bs_spin, self.epochs_spin, self.lr_edit,
                   self.wd_spin, self.pct_spin, self.top_down_check, self.pretrained_check,
                   self.device_picker, self.precision_combo)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            if self.arch_combo.findText(config.arch) < 0:
                self.arch_combo.addItem(config.arch)
            self.arch_combo.setCurrentText(config.arch)
            self.size_spin.setValue(config.size)
            self.bs_spin.setValue(config.bs)
            self.epochs_spin.setValue(config.epochs)
            self.lr_edit.setText("" if config.lr is None else format_value(config.lr))
            self.wd_spin.setValue(config.wd)
            self.pct_spin.setValue(config.pct_start)
            self.top_down_check.setChecked(config.top_down)
            self.pretrained_check.setChecked(config.pretrained is not None)
            self.device_picker.set_device(config.device)
            self.precision_combo.setCurrentIndex(
                max(0, self.precision_combo.findData(config.precision)))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self.configChanged.emit()


def _spin(name: str, low: int, high: int, step: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    return spin
