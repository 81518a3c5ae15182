"""Models: a ResNet encoder registry, a U-Net decoder for segmentation, a pooled multilabel head.

Split like segmentation_models_pytorch (encoder / decoder / head) so freezing and
discriminative learning rates work on three parameter groups: encoder early (stem, layer1,
layer2), encoder late (layer3, layer4), and everything after the encoder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

from workbench.training.errors import TrainingError
from workbench.training.weights import find_cached, hub_checkpoint_dir

log = logging.getLogger(__name__)

# arch -> (constructor, channels of the five feature maps at strides 2, 4, 8, 16, 32)
ENCODERS: dict[str, tuple[Callable[..., nn.Module], list[int]]] = {
    "resnet18": (tvm.resnet18, [64, 64, 128, 256, 512]),
    "resnet34": (tvm.resnet34, [64, 64, 128, 256, 512]),
    "resnet50": (tvm.resnet50, [64, 256, 512, 1024, 2048]),
}
DECODER_CHANNELS = (256, 128, 64, 32, 16)


class ResNetEncoder(nn.Module):
    """torchvision ResNet without its classifier; attribute names match torchvision's so an
    ImageNet state dict loads directly."""

    conv1: nn.Module
    bn1: nn.Module
    relu: nn.Module
    maxpool: nn.Module
    layer1: nn.Module
    layer2: nn.Module
    layer3: nn.Module
    layer4: nn.Module

    def __init__(self, arch: str) -> None:
        super().__init__()
        if arch not in ENCODERS:
            raise TrainingError(f"unknown architecture {arch!r}; choose one of {sorted(ENCODERS)}")
        builder, self.out_channels = ENCODERS[arch]
        net: Any = builder(weights=None)  # a torchvision ResNet: its layers are typed Module
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1, net.layer2, net.layer3, net.layer4,
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f0 = self.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(self.maxpool(f0))
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        f4 = self.layer4(f3)
        return [f0, f1, f2, f3, f4]

    def groups(self) -> list[list[nn.Module]]:
        return [[self.conv1, self.bn1, self.layer1, self.layer2], [self.layer3, self.layer4]]


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class DecoderBlock(nn.Module):
    """Upsample to the skip connection's size (works for odd sizes), concatenate, two convs."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(cin + cskip, cout)
        self.conv2 = conv_bn_relu(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.conv2(self.conv1(torch.cat([x, skip], dim=1)))


class UNetDecoder(nn.Module):
    def __init__(self, enc_channels: list[int], channels: tuple[int, ...] = DECODER_CHANNELS):
        super().__init__()
        skips = enc_channels[-2::-1]  # stride 16, 8, 4, 2
        ins = [enc_channels[-1], *channels[:3]]
        self.blocks = nn.ModuleList(
            DecoderBlock(cin, cs, cout) for cin, cs, cout in zip(ins, skips, channels[:4], strict=True)
        )
        self.final = nn.Sequential(conv_bn_relu(channels[3], channels[4]))
        self.out_channels = channels[4]

    def forward(self, feats: list[torch.Tensor], size: torch.Size) -> torch.Tensor:
        x = feats[-1]
        for block, skip in zip(self.blocks, feats[-2::-1], strict=True):
            x = block(x, skip)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.final(x)


class SegmentationModel(nn.Module):
    """U-Net: logits (B, n_classes, H, W) at the input's own size."""

    def __init__(self, arch: str, n_classes: int) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(arch)
        self.decoder = UNetDecoder(self.encoder.out_channels)
        self.head = nn.Conv2d(self.decoder.out_channels, n_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder(x), x.shape[-2:]))

    def param_groups(self) -> list[list[nn.Parameter]]:
        return _groups(self.encoder, [self.decoder, self.head])


class AdaptiveConcatPool2d(nn.Module):
    """Average and max pooling side by side (fastai): the head sees both summaries."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], dim=1)


class MultilabelModel(nn.Module):
    """ResNet encoder + pooled head: one logit per tag (train with BCE-with-logits)."""

    def __init__(self, arch: str, n_tags: int, hidden: int = 512) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(arch)
        nf = self.encoder.out_channels[-1] * 2
        self.head = nn.Sequential(
            AdaptiveConcatPool2d(), nn.Flatten(),
            nn.BatchNorm1d(nf), nn.Dropout(0.25), nn.Linear(nf, hidden, bias=False),
            nn.ReLU(inplace=True), nn.BatchNorm1d(hidden), nn.Dropout(0.5), nn.Linear(hidden, n_tags),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[-1])

    def param_groups(self) -> list[list[nn.Parameter]]:
        return _groups(self.encoder, [self.head])


def _groups(encoder: ResNetEncoder, rest: list[nn.Module]) -> list[list[nn.Parameter]]:
    early, late = ([p for m in mods for p in m.parameters()] for mods in encoder.groups())
    return [early, late, [p for m in rest for p in m.parameters()]]


def set_frozen(model: nn.Module, frozen: bool) -> None:
    """Frozen: only what follows the encoder trains, plus every BatchNorm (their statistics
    must adapt to the new data, as fastai's ``train_bn``). Unfrozen: everything trains."""
    for name, child in model.named_children():
        if name != "encoder":
            child.requires_grad_(True)
            continue
        for module in child.modules():
            is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)
            for p in module.parameters(recurse=False):
                p.requires_grad_(is_bn or not frozen)


def find_pretrained(arch: str, pretrained: str | None) -> Path | None:
    """The weights file to use: an explicit path, or for "auto" a torchvision file in the torch
    hub cache (``<hub>/checkpoints/<arch>-*.pth``). Never downloads (see weights.py)."""
    if pretrained is None:
        return None
    if pretrained != "auto":
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise TrainingError(
                f"pretrained weights file {path} does not exist; give a torchvision ResNet "
                "state dict (.pth) or use --pretrained none"
            )
        return path
    return find_cached(arch)


def load_encoder_weights(encoder: ResNetEncoder, path: Path) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, pickle with code, wrong format
        raise TrainingError(f"cannot read pretrained weights {path}: {exc}") from exc
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise TrainingError(
            f"{path} does not match the encoder: missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}; is it a torchvision state dict for this architecture?"
        )


def build_model(
    task: str, arch: str, n_out: int, pretrained: str | None = "auto"
) -> tuple[SegmentationModel | MultilabelModel, Path | None]:
    """Create the model for ``task`` ("segmentation" or "multilabel") and load encoder weights.

    Returns the model and the weights file used (None: random init, logged once).
    """
    task = str(getattr(task, "value", task))
    if task == "segmentation":
        model: SegmentationModel | MultilabelModel = SegmentationModel(arch, n_out)
    elif task == "multilabel":
        model = MultilabelModel(arch, n_out)
    else:
        raise TrainingError(f"unknown task {task!r}")
    path = find_pretrained(arch, pretrained)
    if path is None and pretrained == "auto":
        # Said to the user as a notice by the session; here only for the log.
        log.info("No pretrained %s weights found in %s; training from random init.", arch,
                 hub_checkpoint_dir())
    elif path is None:
        log.debug("Building %s without pretrained weights.", arch)
    else:
        load_encoder_weights(model.encoder, path)
        log.info("Loaded pretrained %s encoder weights from %s", arch, path)
    return model, path
