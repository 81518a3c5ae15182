"""Named training events, the Callback base class and the control-flow exceptions.

The Learner fires events in a fixed order; a callback implements a method named after each
event it cares about (``def after_batch(self, learn)``). Callbacks run sorted by ``order``
(lower first), so any dependency between them is explicit in that number, not hidden.
Raising :class:`CancelFitException` (or the epoch/batch variants) from a callback stops that
level of the loop cleanly: fastai's idea, kept because it needs no flags threaded through code.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.training.learner import Learner


class Event(str, Enum):
    BEFORE_FIT = "before_fit"
    BEFORE_EPOCH = "before_epoch"
    BEFORE_TRAIN = "before_train"
    BEFORE_BATCH = "before_batch"
    AFTER_PRED = "after_pred"
    AFTER_LOSS = "after_loss"
    BEFORE_STEP = "before_step"
    AFTER_STEP = "after_step"
    AFTER_BATCH = "after_batch"
    AFTER_TRAIN = "after_train"
    BEFORE_VALIDATE = "before_validate"
    AFTER_VALIDATE = "after_validate"
    AFTER_EPOCH = "after_epoch"
    AFTER_CANCEL_FIT = "after_cancel_fit"
    AFTER_FIT = "after_fit"
    AFTER_LR_FIND = "after_lr_find"
    NOTICE = "notice"  # the engine adjusted something on its own: learn.notices[-1]
    PLANNED = "planned"  # a job announced what it will do: learn.plan


class CancelFitException(Exception):
    """Stop the whole fit; the Learner reports it as cancelled, not as an error."""


class CancelEpochException(Exception):
    """Skip the rest of this epoch (training and validation)."""


class CancelTrainException(Exception):
    """Skip the rest of this epoch's training batches and go on to validation."""


class CancelBatchException(Exception):
    """Skip the rest of this batch (no backward/step)."""


class Callback:
    """Base class: override any method named like an :class:`Event` value.

    ``order`` decides who runs first for the same event. Methods receive the Learner; what a
    callback may read is listed on :class:`workbench.training.learner.FitState`.
    """

    order: int = 0

    def __call__(self, event: Event, learn: Learner) -> None:
        method = getattr(self, event.value, None)
        if method is not None:
            method(learn)


class FunctionCallback(Callback):
    """Wrap plain functions per event: ``FunctionCallback(after_epoch=lambda learn: ...)``."""

    def __init__(self, order: int = 0, **handlers: Callable[[Learner], None]) -> None:
        valid = {e.value for e in Event}
        unknown = set(handlers) - valid
        if unknown:
            raise ValueError(f"unknown event name(s): {sorted(unknown)}")
        self.order = order
        self._handlers = handlers

    def __call__(self, event: Event, learn: Learner) -> None:
        handler = self._handlers.get(event.value)
        if handler is not None:
            handler(learn)
