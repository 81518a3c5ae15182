"""The one recipe planner: which stages a run trains, frozen or not, at which learning rates.

The CLI (``stages_from_config``) and the training panel (``StageSettings.plan``) both turn their
settings into a :class:`TrainConfig` and call :func:`plan_stages`, so the same settings give the
same stages from either side. Torch-free: the panel calls it to describe the plan before Start.

The fast.ai recipe, as planned here:

1. ``freeze_epochs`` > 0: a first stage at the max LR, with the encoder frozen only when
   pretrained weights were loaded (a random encoder kept fixed would train the head on noise).
2. ``epochs`` of the main stage. After stage 1 it is the fine-tuning stage: unfrozen, with
   discriminative rates (``lrs``, or ``max LR / 5`` spread down to a hundredth of it for the
   first layer group: fast.ai's ``slice(lr/500, lr/5)``). Without stage 1 it is frozen only for
   pretrained weights without ``unfreeze``, at the max LR (or ``lrs``).
3. Each further size in ``resize`` (progressive resizing): ``resize_epochs`` (default
   ``epochs``) unfrozen at the fine-tuning rates.

An empty max LR (``lr`` None) means the LR finder measures it once, for the first stage, on the
model as that stage trains it; every later stage without explicit rates follows from that rate
by the same rules as a typed max LR (:func:`with_found_lr`: the fine-tuning stages at a fifth
of it, spread down to a hundredth for the first layers). ``lr_find_each_stage`` sweeps again
before each such stage instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from workbench.training.config import TrainConfig

__all__ = ["FINE_TUNE_DIV", "SPREAD", "STAGE_KINDS", "Stage", "needs_lr", "plan_stages",
           "with_found_lr"]

FINE_TUNE_DIV = 5.0  # fine-tuning max LR = stage-1 max LR / 5
SPREAD = 100.0  # first layer group's rate = head's rate / 100
STAGE_KINDS = ("frozen", "unfrozen", "resize")  # the panel's "stage N only" modes


@dataclass
class Stage:
    """One one-cycle fit of the recipe.

    ``lr``: max LR (None: the LR finder's valley). ``lrs``: explicit discriminative rates, a
    (lo, hi) pair spread geometrically over the parameter groups, or one value for the head
    with a tenth of it for the earlier groups. ``spread``: without ``lrs``, spread the max LR
    from ``lr / spread`` (first group) to ``lr`` (head). ``kind``: the recipe step it is.
    ``lr_factor``: the stage's max LR as a multiple of the run's max LR (1 for stage 1,
    ``1 / FINE_TUNE_DIV`` for the fine-tuning stages): how a rate found for one stage carries
    over to the others.
    """

    name: str
    epochs: int
    lr: float | None = None
    lrs: tuple[float, float] | float | None = None
    frozen: bool = False
    size: int | None = None
    spread: float | None = None
    kind: str = "unfrozen"
    lr_factor: float = 1.0


def plan_stages(config: TrainConfig, pretrained_loaded: bool) -> list[Stage]:
    """The recipe's stages for ``config`` (see the module docstring). ``config.only_stage``
    keeps just the stages of one kind ("frozen", "unfrozen" or "resize"): the panel's
    single-stage modes."""
    sizes = config.sizes()
    first = sizes[0]
    stages: list[Stage] = []
    if config.freeze_epochs > 0:
        stages.append(Stage("frozen" if pretrained_loaded else "random init",
                            config.freeze_epochs, lr=config.lr, frozen=pretrained_loaded,
                            size=first, kind="frozen"))
    fine_tune = _fine_tune_rates(config)
    if config.epochs > 0:
        if stages:  # after stage 1: fine-tune the whole network
            stages.append(Stage("unfrozen", config.epochs, size=first,
                                kind="unfrozen", **fine_tune))
        else:
            frozen = pretrained_loaded and not config.unfreeze
            stages.append(Stage("frozen" if frozen else "unfrozen", config.epochs,
                                lr=config.lr, lrs=config.lrs, frozen=frozen, size=first,
                                kind="unfrozen"))
    resize_epochs = config.epochs if config.resize_epochs is None else config.resize_epochs
    if resize_epochs > 0:
        for size in sizes[1:]:
            stages.append(Stage(f"{size}px", resize_epochs, size=size, kind="resize",
                                **fine_tune))
    only = config.only_stage
    if only is not None:
        if only not in STAGE_KINDS:
            raise ValueError(f"unknown stage kind {only!r}; one of {STAGE_KINDS}")
        stages = [s for s in stages if s.kind == only]
    return stages


def _fine_tune_rates(config: TrainConfig) -> dict[str, Any]:
    if config.lrs is not None:
        return {"lrs": config.lrs}
    lr = None if config.lr is None else config.lr / FINE_TUNE_DIV
    return {"lr": lr, "spread": SPREAD, "lr_factor": 1 / FINE_TUNE_DIV}


def needs_lr(stage: Stage) -> bool:
    """A stage with neither a max LR nor explicit rates: the LR finder must give it one."""
    return stage.lr is None and stage.lrs is None


def with_found_lr(stages: Sequence[Stage], index: int, found: float,
                  each_stage: bool = False) -> list[Stage]:
    """``stages`` after the LR finder found ``found`` for ``stages[index]``: that stage gets it,
    and (unless ``each_stage``: they sweep for themselves) every later stage without a rate gets
    the run's max LR implied by it times its own ``lr_factor``, exactly what a typed max LR of
    ``found / stages[index].lr_factor`` would have planned."""
    out = list(stages)
    out[index] = replace(out[index], lr=found)
    if each_stage:
        return out
    base = found / out[index].lr_factor
    for i in range(index + 1, len(out)):
        if needs_lr(out[i]):
            out[i] = replace(out[i], lr=base * out[i].lr_factor)
    return out
