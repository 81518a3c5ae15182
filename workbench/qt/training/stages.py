"""Stage controls: the fast.ai recipe as widgets.

1. stage 1 at the form's epochs and max LR, frozen when ImageNet weights are loaded,
2. unfreeze and one-cycle with discriminative rates (lo for the first layers, hi for the head),
3. optionally continue at a larger image size (progressive resizing, same model).

Each stage can run alone (stages 2 and 3 continue the model of the previous run when there is
one) or the "recipe" runs them in order. The plan itself is the engine's
(:func:`workbench.training.recipe.plan_stages`), the same the CLI uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
from workbench.training.recipe import FINE_TUNE_DIV, SPREAD, Stage, needs_lr, plan_stages
from workbench.training.weights import find_cached

MODES = (  # short texts: the combo box shows them in a narrow settings column
    ("recipe", "Recipe: all stages"),
    ("frozen", "Stage 1 only: frozen"),
    ("unfrozen", "Stage 2 only: unfrozen"),
    ("resize", "Stage 3 only: larger size"),
)


@dataclass
class StageSettings:
    """The stage widgets' model: written by the widgets, turned into the engine's recipe
    settings by :meth:`to_config` and planned by the engine's planner (the CLI's too)."""

    mode: str = "recipe"
    unfreeze_epochs: int = 2
    lo: float | None = None  # None: hi / 100
    hi: float | None = None  # None: max LR / 5, or the LR finder's value without a max LR
    resize_enabled: bool = False
    resize_size: int = 256
    resize_epochs: int = 2
    lr_find_each_stage: bool = False  # empty max LR: sweep before every stage, not once

    def discriminative(self, max_lr: float | None) -> tuple[float, float] | None:
        """Explicit (lo, hi) rates, or None to let the planner derive them from the max LR
        (or the LR finder). ``lo`` alone needs a max LR to derive ``hi`` from."""
        hi = self.hi
        if hi is None:
            if self.lo is None or max_lr is None:
                return None
            hi = max_lr / FINE_TUNE_DIV
        lo = self.lo if self.lo is not None else hi / SPREAD
        return (min(lo, hi), hi)

    def to_config(self, config: TrainConfig) -> TrainConfig:
        """``config`` (the form: stage 1's epochs and max LR) with these stages applied, in the
        terms the CLI flags set: --freeze-epochs, --epochs, --lrs, --resize, --resize-epochs."""
        resize = self.resize_enabled or self.mode == "resize"
        return replace(
            config, freeze_epochs=config.epochs, epochs=self.unfreeze_epochs, unfreeze=False,
            lrs=self.discriminative(config.lr),
            resize=[config.size, self.resize_size] if resize else None,
            resize_epochs=self.resize_epochs,
            only_stage=None if self.mode == "recipe" else self.mode,
            lr_find_each_stage=self.lr_find_each_stage,
        )

    def plan(self, config: TrainConfig, pretrained_loaded: bool | None = None) -> list[Stage]:
        """The engine's plan for these settings. ``pretrained_loaded`` None: guess from the hub
        cache (the job plans again with what the model really loaded)."""
        if pretrained_loaded is None:
            pretrained_loaded = weights_expected(config)
        return plan_stages(self.to_config(config), pretrained_loaded)

    def continues_model(self) -> bool:
        """Stages 2 and 3 alone build on the model trained before; the others start afresh."""
        return self.mode in ("unfrozen", "resize")


def weights_expected(config: TrainConfig) -> bool:
    """Whether building ``config``'s model will load ImageNet weights (torch-free check)."""
    if config.pretrained is None:
        return False
    if config.pretrained != "auto":
        return True
    return find_cached(config.arch) is not None


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
        self.each_stage_check = QCheckBox("LR finder before each stage")
        self.each_stage_check.setObjectName("lrFindEachStageCheck")
        self.each_stage_check.setToolTip(
            "With an empty Max LR the LR finder runs once, before stage 1, and the later "
            "stages' rates follow from it (head: a fifth, first layers: a hundredth of that). "
            "Tick this to sweep again on the model as each later stage starts.")
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
        form.addRow("", self.each_stage_check)
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
        self.each_stage_check.toggled.connect(lambda v: self._set("lr_find_each_stage", v))

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
        loaded = weights_expected(config)
        stages = self.settings.plan(config, loaded)
        swept = next((i for i, st in enumerate(stages) if needs_lr(st)), None)
        each = self.settings.lr_find_each_stage
        parts = [_describe(st, derived=needs_lr(st) and i != swept and not each)
                 for i, st in enumerate(stages)]
        text = "Start runs: " + " → ".join(parts)
        if not loaded:
            text += (" (no ImageNet weights: nothing is frozen)" if config.pretrained is None
                     else " (no ImageNet weights found: nothing is frozen; download them)")
        self.summary.setText(text)


def _describe(stage: Stage, derived: bool = False) -> str:
    """One stage in words; ``derived``: its rate follows from the first sweep's."""
    state = "frozen" if stage.frozen else "unfrozen"
    size = f" at {stage.size}px" if stage.size and stage.kind == "resize" else ""
    if isinstance(stage.lrs, tuple):
        lr = f"lr {format_value(stage.lrs[0])}…{format_value(stage.lrs[1])}"
    elif stage.lrs is not None:
        lr = f"lr {format_value(stage.lrs)} (head)"
    elif stage.lr is None and derived:
        lr = f"lr: the LR finder's × {stage.lr_factor:g}" + (
            f" (first layers /{stage.spread:g})" if stage.spread else "")
    elif stage.lr is None:
        lr = "lr from the LR finder" + (f" (first layers /{stage.spread:g})" if stage.spread
                                        else "")
    elif stage.spread:
        lr = f"lr {format_value(stage.lr / stage.spread)}…{format_value(stage.lr)}"
    else:
        lr = f"lr {format_value(stage.lr)}"
    return f"{stage.epochs} ep {state}{size}, {lr}"


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
