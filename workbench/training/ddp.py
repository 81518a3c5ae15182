"""DistributedDataParallel training: data shards and the callback that wraps the model.

- Training data: a ``DistributedSampler`` per rank (seeded, reshuffled every epoch with
  ``set_epoch``; padded so every rank runs the same number of steps, which DDP needs).
- Validation data: rank r takes images r, r+W, r+2W, ... (no padding, no duplicates); the
  metrics are then gathered so they cover the whole validation set exactly once.
- The model is wrapped in DDP for each fit (after freezing/unfreezing, so DDP registers exactly
  the parameters that train) and unwrapped afterwards, so checkpoints, snapshots and predict
  always see the plain model.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from workbench.training import distributed
from workbench.training.errors import TrainingError
from workbench.training.events import Callback

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from workbench.training.learner import Learner

log = logging.getLogger(__name__)


def shard_samplers(train_ds: Dataset, n_valid: int, seed: int
                   ) -> tuple[DistributedSampler | None, list[int] | None]:
    """(training sampler, validation indices) for this rank; (None, None) without a group."""
    if not distributed.active():
        return None, None
    rank, world = distributed.rank(), distributed.world_size()
    train: DistributedSampler = DistributedSampler(train_ds, num_replicas=world, rank=rank,
                                                   shuffle=True, seed=seed)
    return train, list(range(rank, n_valid, world))


def seed_rank(seed: int) -> None:
    """Different augmentation streams per rank (rank 0 keeps ``seed``); the weights need no
    seed: DDP copies rank 0's to every rank when it wraps the model."""
    s = seed + 1000 * distributed.rank()
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


def use_sync_batchnorm(learn: Learner) -> None:
    """Batch statistics over the global batch instead of each rank's (``--sync-bn``)."""
    if learn.device.type != "cuda":
        raise TrainingError("--sync-bn needs GPUs (PyTorch's SyncBatchNorm has no CPU version); "
                            "leave it off for CPU runs")
    # The converted modules reuse the same Parameter objects, so the optimizer stays valid.
    learn.model = nn.SyncBatchNorm.convert_sync_batchnorm(learn.model)


class DistributedCallback(Callback):
    """Wraps the model in DDP for each fit, reshuffles the shard each epoch, validates with
    rank 0's BatchNorm statistics and gathers validation loss and metrics over all ranks.

    ``during_lr_find``: the LR sweep also runs on every rank with the global batch, so its
    suggestion is for the batch the training will use."""

    order = -30
    during_lr_find = True

    def __init__(self, sync_bn: bool = False) -> None:
        self.sync_bn = sync_bn
        self._prepared = False

    def before_fit(self, learn: Learner) -> None:
        if not self._prepared:  # once per learner, before its first fit or LR sweep
            self._prepared = True
            seed_rank(learn.config.seed)
            if self.sync_bn:
                use_sync_batchnorm(learn)
            world = distributed.world_size()
            log.info("DDP: %d processes x batch %d = global batch %d; the learning rate applies "
                     "to the global batch as given (no automatic scaling)%s", world, learn.data.bs,
                     world * learn.data.bs, "; SyncBatchNorm" if self.sync_bn else "")
        model = distributed.unwrap(learn.model)
        if not any(p.requires_grad for p in model.parameters()):
            raise TrainingError("nothing to train: every parameter is frozen")
        device_ids = None
        if learn.device.type == "cuda":  # "cuda" without index: this rank's current GPU
            index = learn.device.index
            device_ids = [torch.cuda.current_device() if index is None else index]
        learn.model = DistributedDataParallel(model, device_ids=device_ids)

    def before_epoch(self, learn: Learner) -> None:
        sampler = getattr(learn.data.train_dl.dl, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            # Running epoch number over all stages (kept on resume): a new order every epoch.
            st = learn.state
            sampler.set_epoch(st.epoch if st.lr_find else len(learn.recorder.epochs))

    def before_validate(self, learn: Learner) -> None:
        distributed.broadcast_buffers(learn.model)

    def after_validate(self, learn: Learner) -> None:
        learn.recorder.gather_validation(distributed.all_gather_object)

    def after_fit(self, learn: Learner) -> None:
        learn.model = distributed.unwrap(learn.model)
