"""Datasets and loaders over a Project: lazy decoding, joint augmentation, device transfer.

Datasets hold file paths and tag vectors, never the Project itself, so worker processes can
pickle them and never touch the project database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision import tv_tensors
from torchvision.transforms import v2

from workbench.core.imageio import UNLABELLED_VALUE, load_image, read_mask
from workbench.training.ddp import shard_samplers
from workbench.training.errors import NotEnoughLabelsError, TrainingError
from workbench.training.transforms import normalize_batch, train_transforms, valid_transforms

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)


def task_name(task: object) -> str:
    """"segmentation" or "multilabel" from a Task enum or a string."""
    return str(getattr(task, "value", task))


def image_tensor(img: np.ndarray) -> tv_tensors.Image:
    return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1))


class SegmentationDataset(Dataset):
    """(uint8 image 3xHxW, int64 mask HxW) pairs; a missing mask file counts as all-unlabelled."""

    def __init__(self, images: Sequence[Path], masks: Sequence[Path], tfms: v2.Transform):
        self.images, self.masks, self.tfms = list(images), list(masks), tfms

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = load_image(self.images[i])
        if self.masks[i].exists():
            mask = read_mask(self.masks[i])
        else:
            mask = np.full(img.shape[:2], UNLABELLED_VALUE, np.uint8)
        if mask.shape != img.shape[:2]:
            raise TrainingError(
                f"mask {self.masks[i]} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                f"{img.shape[1]}x{img.shape[0]}; redraw or delete the mask"
            )
        x, y = self.tfms(image_tensor(img), tv_tensors.Mask(torch.from_numpy(mask)))
        return x.as_subclass(torch.Tensor), y.as_subclass(torch.Tensor).long()


class MultilabelDataset(Dataset):
    """(uint8 image 3xHxW, float multi-hot vector) pairs."""

    def __init__(self, images: Sequence[Path], targets: np.ndarray, tfms: v2.Transform):
        self.images, self.targets, self.tfms = list(images), targets.astype(np.float32), tfms

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tfms(image_tensor(load_image(self.images[i])))
        return x.as_subclass(torch.Tensor), torch.from_numpy(self.targets[i])


LabelledDataset = SegmentationDataset | MultilabelDataset


class DeviceLoader:
    """A DataLoader whose batches arrive on ``device``, normalised, channels-last on CUDA."""

    def __init__(self, dl: DataLoader, device: torch.device) -> None:
        self.dl, self.device = dl, device
        self.channels_last = device.type == "cuda"

    def __len__(self) -> int:
        return len(self.dl)

    @property
    def dataset(self) -> LabelledDataset:
        return cast(LabelledDataset, self.dl.dataset)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.dl:
            x = normalize_batch(x.to(self.device, non_blocking=True))
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y.to(self.device, non_blocking=True)


@dataclass
class DataBunch:
    """Train and valid loaders bound to the class list (fast.ai's DataBunch)."""

    train_dl: DeviceLoader
    valid_dl: DeviceLoader
    task: str
    classes: list[str]
    colors: list[tuple[int, int, int]]
    size: int
    bs: int
    train_names: list[str] = field(default_factory=list)
    valid_names: list[str] = field(default_factory=list)

    @property
    def c(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return self.train_dl.device

    def one_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return next(iter(self.train_dl))


@dataclass
class DataSpec:
    """What is needed to (re)build loaders at any size or batch size without the Project."""

    task: str
    classes: list[str]
    colors: list[tuple[int, int, int]]
    train_names: list[str]
    valid_names: list[str]
    image_paths: dict[str, Path]
    mask_paths: dict[str, Path]
    tag_vectors: dict[str, np.ndarray]
    top_down: bool = False
    num_workers: int = 0
    seed: int = 0
    # Optional: builds the training sampler from the training set's length (a refit's mix of
    # oversampled queue items and replayed images); None shuffles the training set.
    train_sampler: Callable[[int], Sampler] | None = None
    # The label version of each image (team projects; empty for a local project's files): the
    # run pins and records them, so its metrics can be reproduced while labelling goes on.
    label_versions: dict[str, int] = field(default_factory=dict)

    def datasets(self, size: int) -> tuple[LabelledDataset, LabelledDataset]:
        tt, vt = train_transforms(size, top_down=self.top_down), valid_transforms(size)
        return self._dataset(self.train_names, tt), self._dataset(self.valid_names, vt)

    def eval_dataset(self, names: Sequence[str], size: int) -> LabelledDataset:
        """Any of the spec's images with validation transforms (resize only)."""
        return self._dataset(list(names), valid_transforms(size))

    def augmented_dataset(self, names: Sequence[str], size: int) -> LabelledDataset:
        """Any of the spec's images with the training augmentations."""
        return self._dataset(list(names), train_transforms(size, top_down=self.top_down))

    def _dataset(self, names: list[str], tfms: v2.Transform) -> LabelledDataset:
        images = [self.image_paths[n] for n in names]
        if self.task == "segmentation":
            return SegmentationDataset(images, [self.mask_paths[n] for n in names], tfms)
        targets = np.stack([self.tag_vectors[n] for n in names]) if names else np.zeros((0, 1))
        return MultilabelDataset(images, targets, tfms)

    def build(self, size: int, bs: int, device: torch.device) -> DataBunch:
        train_ds, valid_ds = self.datasets(size)
        # Under torchrun each rank loads its shard (workbench.training.ddp); the refit sampler
        # (train_sampler) is for runs in one process.
        shard, valid_idx = shard_samplers(train_ds, len(valid_ds), self.seed)
        sampler: Sampler[int] | None = shard
        if sampler is not None and self.train_sampler is not None:
            raise TrainingError("refit's sampler runs in one process, not under torchrun")
        if sampler is None and self.train_sampler is not None:
            sampler = self.train_sampler(len(train_ds))
        n_train = len(cast(Sized, sampler)) if sampler is not None else len(train_ds)
        bs = max(1, min(bs, n_train))
        cuda = device.type == "cuda"
        common: dict[str, Any] = {"num_workers": self.num_workers, "pin_memory": cuda,
                                  "persistent_workers": self.num_workers > 0}
        gen = torch.Generator().manual_seed(self.seed)
        # drop_last avoids a final batch of 1, which BatchNorm cannot train on.
        train = DataLoader(train_ds, bs, shuffle=sampler is None, sampler=sampler,
                           drop_last=n_train > bs, generator=gen, **common)
        valid = DataLoader(valid_ds, bs * 2, shuffle=False, sampler=valid_idx, **common)
        return DataBunch(DeviceLoader(train, device), DeviceLoader(valid, device), self.task,
                         self.classes, self.colors, size, bs, self.train_names, self.valid_names)


def data_spec(project: Project, *, top_down: bool = False, num_workers: int = 0,
              seed: int = 0, min_train: int = 2, min_valid: int = 1) -> DataSpec:
    """Collect paths and labels of the project's labelled images, split by its split rule.

    Training needs two images: BatchNorm cannot train on a batch of one."""
    task = task_name(project.task)
    train, valid = project.split()
    labelled = len(train) + len(valid)
    if len(train) < min_train or len(valid) < min_valid:
        needed = min_train + min_valid
        raise NotEnoughLabelsError(
            f"{project.root} has {labelled} labelled image(s): {len(train)} for training and "
            f"{len(valid)} for validation. Label at least {max(needed, labelled + 1)} images "
            f"so training gets at least {min_train} and validation at least {min_valid} "
            "(or change the validation split).",
            labelled=labelled, needed=needed,
        )
    names = train + valid
    classes = list(project.classes)
    tags: dict[str, np.ndarray] = {}
    masks: dict[str, Path] = {}
    versions = project.label_versions(names)  # one snapshot: what tags() and the files hold
    if task == "segmentation":
        masks = project.mask_files(names, versions)
    else:
        index = {c: i for i, c in enumerate(classes)}
        for n in names:
            vec = np.zeros(len(classes), np.float32)
            for t in project.tags(n):
                if t in index:
                    vec[index[t]] = 1.0
            tags[n] = vec
    return DataSpec(
        task=task, classes=classes, colors=[(c[0], c[1], c[2]) for c in project.colors],
        train_names=list(train), valid_names=list(valid),
        image_paths={n: Path(project.image_path(n)) for n in names},
        mask_paths=masks, tag_vectors=tags, top_down=top_down, num_workers=num_workers, seed=seed,
        label_versions=versions,
    )
