"""Training settings shared by the CLI, the GUI and checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

ARCHS = ("resnet18", "resnet34", "resnet50")
# The LR sweep's length in batches (it stops sooner when the loss diverges): the shortest that
# found the same valley as fastai's 100 on the demo projects (benchmarks/lr_find_length.py).
LR_FIND_ITERS = 40
LR_FIND_START = 1e-5  # below this Adam barely moves: fastai's 1e-7 spends a fifth of a sweep there


@dataclass
class TrainConfig:
    """Everything needed to rebuild a run: stored in every checkpoint and in the run history.

    ``pretrained``: "auto" uses ImageNet weights from the local torch hub cache when present,
    None trains from random init, any other string is a path to a torchvision state dict.
    ``lr_find_iters``: batches of the LR sweep an empty max LR runs, from ``lr_find_start`` up
    to 10 (it stops earlier when the loss diverges); ``lr_find_each_stage``: sweep again before every stage without a rate
    instead of deriving their rates from the first sweep's (see ``recipe.with_found_lr``).
    ``precision``: "auto", "fp32" or "bf16" (see ``device.resolve_precision``); the precision
    a run really used is recorded as ``extra["precision_used"]``.
    """

    arch: str = "resnet34"
    size: int = 128
    bs: int = 8
    epochs: int = 4
    lr: float | None = None
    wd: float = 0.01
    pct_start: float = 0.25
    top_down: bool = False
    device: str = "auto"
    freeze_epochs: int = 0
    unfreeze: bool = False
    lrs: tuple[float, float] | float | None = None  # float: head lr, earlier groups / 10
    resize: list[int] | None = None
    resize_epochs: int | None = None  # epochs at each later size (None: ``epochs``)
    only_stage: str | None = None  # train only this kind of recipe stage (see recipe.py)
    seed: int = 0
    num_workers: int = 0
    pretrained: str | None = "auto"
    precision: str = "auto"
    lr_find_iters: int = LR_FIND_ITERS
    lr_find_start: float = LR_FIND_START
    lr_find_each_stage: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/`weights_only`-safe dict (tuples become lists)."""
        out = asdict(self)
        if isinstance(out["lrs"], (tuple, list)):
            out["lrs"] = [float(v) for v in out["lrs"]]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("lrs"), (tuple, list)):
            kwargs["lrs"] = tuple(float(v) for v in kwargs["lrs"])
        if kwargs.get("resize") is not None:
            kwargs["resize"] = [int(v) for v in kwargs["resize"]]
        return cls(**kwargs)

    def sizes(self) -> list[int]:
        """Training sizes in order: the progressive-resizing list, else just ``size``."""
        return list(self.resize) if self.resize else [self.size]
