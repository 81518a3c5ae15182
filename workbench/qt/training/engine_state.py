"""What the next training stage continues from; kept apart from jobs.py so the panel can hold it
without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.training.learner import Learner


@dataclass
class EngineState:
    """The model the next stage continues. Only the job that currently runs touches it."""

    learner: Learner | None = None
    trained: bool = False  # False: built (e.g. for the LR finder) but not fitted yet
    config: dict[str, Any] = field(default_factory=dict)
    fits: int = 0  # training jobs run on ``learner``: each changes the weights
