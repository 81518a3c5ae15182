"""Stage controls: the fast.ai recipe as widgets.

1. frozen one-cycle (pretrained body fixed, head trained) at the form's epochs and max LR,
2. unfreeze and one-cycle with discriminative rates (lo for the first layers, hi for the head),
3. optionally continue at a larger image size (progressive resizing, same model).

Each stage can run alone (stages 2 and 3 continue the model of the previous run when there is
one) or the "recipe" runs them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.training.config_form import LRValidator, fit_placeholder, parse_lr
from workbench.qt.training.hover import format_value
from workbench.training.config import TrainConfig

MODES = (  # short texts: the combo box shows them in a narrow settings column
    ("recipe", "Recipe: all stages"),
    ("frozen", "Stage 1 only: frozen"),
    ("unfrozen", "Stage 2 only: unfrozen"),
    ("resize", "Stage 3 only: larger size"),
)
DEFAULT_LR = 1e-3


@dataclass(frozen=True)
class StageSpec:
    """Qt-free description of one stage; the panel turns it into the engine's ``Stage``."""

    name: str
    epochs: int
    lr: float | None = None
    lrs: tuple[float, float] | None = None
    frozen: bool = False
    size: int | None = None


@dataclass
class StageSettings:
    """The stage widgets' model: written by the widgets, read by :meth:`plan`."""

    mode: str = "recipe"
    unfreeze_epochs: int = 2
    lo: float | None = None  # None: hi / 100
    hi: float | None = None  # None: max LR / 5 (fast.ai lesson: slice(lr/500, lr/5))
    resize_enabled: bool = False
    resize_size: int = 256
    resize_epochs: int = 2

    def discriminative(self, max_lr: float | None) -> tuple[float, float]:
        hi = self.hi if self.hi is not None else (max_lr or DEFAULT_LR) / 5
        lo = self.lo if self.lo is not None else hi / 100
        return (min(lo, hi), hi)

    def plan(self, config: TrainConfig) -> list[StageSpec]:
        """Stages for the current mode; a frozen stage with lr=None uses the LR finder valley."""
        frozen = StageSpec("frozen", config.epochs, lr=config.lr, frozen=True)
        lrs = self.discriminative(config.lr)
        unfrozen = StageSpec("unfrozen", self.unfreeze_epochs, lrs=lrs, frozen=False)
        resize = StageSpec("resize", self.resize_epochs, lrs=lrs, frozen=False,
                           size=self.resize_size)
        if self.mode == "frozen":
            return [frozen]
        if self.mode == "unfrozen":
            return [unfrozen]
        if self.mode == "resize":
            return [resize]
        return [frozen, unfrozen, *([resize] if self.resize_enabled else [])]

    def continues_model(self) -> bool:
        """Stages 2 and 3 alone build on the model trained before; the others start afresh."""
        return self.mode in ("unfrozen", "resize")


class StageControls(QGroupBox):
    """Widgets for :class:`StageSettings`; emits ``changed`` after each edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Stages", parent)
        self.settings = StageSettings()
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("stageModeCombo")
        for key, label in MODES:
            self.mode_combo.addItem(label, key)
        self.unfreeze_epochs = _spin("unfreezeEpochsSpin", self.settings.unfreeze_epochs)
        self.lo_edit = _lr_edit("loLrEdit", "auto: head / 100")
        self.hi_edit = _lr_edit("hiLrEdit", "auto: max LR / 5")
        self.lo_edit.setToolTip("Discriminative learning rates: the first layers of the "
                                "encoder learn at this rate, the head at the one above, and "
                                "the layers between at rates spread geometrically")
        self.hi_edit.setToolTip(self.lo_edit.toolTip())
        self.mode_combo.setToolTip("\n".join(label for _key, label in MODES)
                                   + "\nStages 2 and 3 alone continue the model trained "
                                   "before in this session")
        self.resize_check = QCheckBox("Continue at")
        self.resize_check.setObjectName("resizeCheck")
        self.resize_size = QSpinBox()
        self.resize_size.setObjectName("resizeSizeSpin")
        self.resize_size.setRange(32, 4096)
        self.resize_size.setSingleStep(32)
        self.resize_size.setSuffix(" px")
        self.resize_size.setValue(self.settings.resize_size)
        self.resize_epochs = _spin("resizeEpochsSpin", self.settings.resize_epochs)
        self.summary = QLabel()
        self.summary.setObjectName("stageSummary")
        self.summary.setWordWrap(True)
        self._layout()
        self._connect()

    def _layout(self) -> None:
        resize_row = QHBoxLayout()
        resize_row.addWidget(self.resize_check)
        resize_row.addWidget(self.resize_size, 1)
        form = QFormLayout()
        form.addRow("Run", self.mode_combo)
        form.addRow("Unfrozen epochs", self.unfreeze_epochs)
        form.addRow("Head LR", self.hi_edit)
        form.addRow("First-layers LR", self.lo_edit)
        form.addRow("Larger size", resize_row)
        form.addRow("Larger-size epochs", self.resize_epochs)
        outer = QVBoxLayout(self)
        outer.addLayout(form)
        outer.addWidget(self.summary)

    def _connect(self) -> None:
        self.mode_combo.currentIndexChanged.connect(
            lambda _i: self._set("mode", self.mode_combo.currentData()))
        self.unfreeze_epochs.valueChanged.connect(lambda v: self._set("unfreeze_epochs", v))
        self.lo_edit.textChanged.connect(lambda t: self._set_lr("lo", t, self.lo_edit))
        self.hi_edit.textChanged.connect(lambda t: self._set_lr("hi", t, self.hi_edit))
        self.resize_check.toggled.connect(lambda v: self._set("resize_enabled", v))
        self.resize_size.valueChanged.connect(lambda v: self._set("resize_size", v))
        self.resize_epochs.valueChanged.connect(lambda v: self._set("resize_epochs", v))

    def _set(self, name: str, value: object) -> None:
        setattr(self.settings, name, value)
        self.changed.emit()

    def _set_lr(self, name: str, text: str, edit: QLineEdit) -> None:
        try:
            value = parse_lr(text)
        except ValueError:
            edit.setStyleSheet("QLineEdit { color: #b00020; }")
            return
        edit.setStyleSheet("")
        self._set(name, value)

    def set_mode(self, mode: str) -> None:
        self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(mode)))

    def update_summary(self, config: TrainConfig) -> None:
        """Describe in words what Start will do with ``config``."""
        parts = []
        for spec in self.settings.plan(config):
            if spec.frozen:
                lr = "LR finder valley" if spec.lr is None else f"lr {format_value(spec.lr)}"
                parts.append(f"{spec.epochs} ep frozen at {lr}")
            else:
                lo, hi = spec.lrs or (0.0, 0.0)
                size = f" at {spec.size}px" if spec.size else ""
                parts.append(f"{spec.epochs} ep unfrozen{size}, lr {format_value(lo)}"
                             f"…{format_value(hi)}")
        self.summary.setText("Start runs: " + " → ".join(parts))


def _spin(name: str, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(1, 1000)
    spin.setValue(value)
    return spin


def _lr_edit(name: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setValidator(LRValidator(edit))
    fit_placeholder(edit)
    return edit
