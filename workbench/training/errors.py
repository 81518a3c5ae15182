"""Training failures a user can act on; all are WorkbenchErrors so the CLI and GUI show them."""

from __future__ import annotations

from workbench.core.errors import WorkbenchError


class TrainingError(WorkbenchError):
    """Training could not start or could not go on (bad config, unusable checkpoint, ...)."""


class NotEnoughLabelsError(TrainingError):
    """Too few labelled images to build a training and a validation set."""

    def __init__(self, message: str, labelled: int, needed: int) -> None:
        super().__init__(message)
        self.labelled = labelled
        self.needed = needed


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; the run stops at that batch."""

    def __init__(self, message: str, epoch: int, batch: int, iteration: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.iteration = iteration


class OutOfMemoryError(TrainingError):
    """The accelerator ran out of memory even at a reduced batch size."""


class TrainingCancelled(TrainingError):
    """The user cancelled an operation whose result would be meaningless if partial (lr_find)."""
