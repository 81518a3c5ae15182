"""Joint image/mask augmentations with torchvision.transforms.v2, like fast.ai's aug_transforms.

Images stay uint8 here (cheap to collate, pin and transfer); the device loader converts to
float and applies ImageNet normalisation on the target device. Masks are ``tv_tensors.Mask`` so
every geometric transform uses nearest interpolation and fills uncovered corners with 255
(ignored by the loss and the metrics) instead of inventing background pixels.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FILL = {tv_tensors.Image: 0, tv_tensors.Mask: 255}


class RandomRot90(v2.Transform):
    """Rotate by a random multiple of 90 degrees (top-down imagery has no "up")."""

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"k": int(torch.randint(0, 4, ()).item())}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["k"] == 0 or not isinstance(inpt, torch.Tensor):
            return inpt
        out = torch.rot90(inpt.as_subclass(torch.Tensor), params["k"], dims=(-2, -1))
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


def train_transforms(
    size: int,
    *,
    top_down: bool = False,
    max_rotate: float = 10.0,
    max_zoom: float = 1.1,
    max_lighting: float = 0.2,
    max_warp: float = 0.2,
    p_affine: float = 0.75,
    p_lighting: float = 0.75,
) -> v2.Compose:
    """Resize to ``size`` then augment: flip, (top-down: vertical flip + 90° turns), rotation
    and zoom in one affine resample, perspective warp, brightness/contrast.

    Resizing first keeps every later transform working on few pixels; rotation and zoom share
    one resample (with probability ``p_affine``) to avoid blurring twice.
    """
    tfms: list[v2.Transform] = [v2.Resize((size, size), antialias=True), v2.RandomHorizontalFlip()]
    if top_down:
        tfms += [v2.RandomVerticalFlip(), RandomRot90()]
    if max_rotate > 0 or max_zoom > 1:
        affine = v2.RandomAffine(degrees=max_rotate, scale=(1.0, max_zoom), fill=FILL)
        tfms.append(v2.RandomApply([affine], p=p_affine))
    if max_warp > 0:
        tfms.append(v2.RandomPerspective(distortion_scale=max_warp, p=p_affine, fill=FILL))
    if max_lighting > 0:
        jitter = v2.ColorJitter(brightness=max_lighting, contrast=max_lighting)
        tfms.append(v2.RandomApply([jitter], p=p_lighting))
    return v2.Compose(tfms)


def valid_transforms(size: int) -> v2.Compose:
    return v2.Compose([v2.Resize((size, size), antialias=True)])


def normalize_batch(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float32 normalised with ImageNet statistics, on x's device."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


def denormalize_batch(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_batch`, as uint8."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return ((x * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8)
