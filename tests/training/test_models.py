"""One shared test base for every architecture and task: forward/backward, odd input sizes,
save/load round trip; plus freezing and pretrained-weight loading."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from workbench.training.errors import TrainingError
from workbench.training.models import (
    ENCODERS,
    MultilabelModel,
    SegmentationModel,
    build_model,
    find_pretrained,
    set_frozen,
)


class ModelContract:
    """Subclasses set ``task`` and ``n_out``; each test runs for every registered encoder."""

    task: str
    n_out: int

    def make(self, arch: str) -> nn.Module:
        torch.manual_seed(0)
        model, weights = build_model(self.task, arch, self.n_out, pretrained=None)
        assert weights is None
        return model

    def expected_shape(self, n: int, h: int, w: int) -> tuple[int, ...]:
        return (n, self.n_out, h, w) if self.task == "segmentation" else (n, self.n_out)

    @pytest.mark.parametrize("arch", sorted(ENCODERS))
    def test_forward_backward(self, arch: str) -> None:
        model = self.make(arch).train()
        x = torch.randn(2, 3, 64, 64)
        out = model(x)
        assert out.shape == self.expected_shape(2, 64, 64)
        out.float().pow(2).mean().backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)

    @pytest.mark.parametrize("arch", sorted(ENCODERS))
    @pytest.mark.parametrize("hw", [(37, 45)])
    def test_odd_input_sizes(self, arch: str, hw: tuple[int, int]) -> None:
        model = self.make(arch).eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, *hw))
        assert out.shape == self.expected_shape(1, *hw)

    @pytest.mark.parametrize("arch", sorted(ENCODERS))
    def test_save_load_round_trip(self, arch: str) -> None:
        model = self.make(arch).eval()
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        buf.seek(0)
        other, _ = build_model(self.task, arch, self.n_out, pretrained=None)
        other.load_state_dict(torch.load(buf, weights_only=True))
        other.eval()
        x = torch.randn(1, 3, 40, 40)
        with torch.no_grad():
            assert torch.equal(model(x), other(x))

    def test_three_parameter_groups_cover_everything_once(self) -> None:
        model = self.make("resnet18")
        groups = model.param_groups()
        assert len(groups) == 3
        ids = [id(p) for g in groups for p in g]
        assert len(ids) == len(set(ids)) == len(list(model.parameters()))


class TestSegmentationModels(ModelContract):
    task, n_out = "segmentation", 3


class TestMultilabelModels(ModelContract):
    task, n_out = "multilabel", 5


@pytest.mark.parametrize("cls", [SegmentationModel, MultilabelModel])
def test_freeze_trains_exactly_head_and_batchnorm(cls: type) -> None:
    model = cls("resnet18", 2)
    set_frozen(model, True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    bn_names = {f"encoder.{m}.{k}" for m, mod in model.encoder.named_modules()
                if isinstance(mod, nn.BatchNorm2d) for k in ("weight", "bias")}
    after_encoder = {n for n, _ in model.named_parameters() if not n.startswith("encoder.")}
    assert trainable == bn_names | after_encoder
    assert "encoder.conv1.weight" not in trainable and "encoder.bn1.weight" in trainable
    set_frozen(model, False)
    assert all(p.requires_grad for p in model.parameters())


def test_pretrained_from_file_and_hub_cache(tmp_path: Path, monkeypatch, caplog) -> None:
    torch.manual_seed(1)
    ref = tvm.resnet18(weights=None)
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    path = hub / "checkpoints" / "resnet18-f37072fd.pth"
    torch.save(ref.state_dict(), path)
    model, used = build_model("segmentation", "resnet18", 2, pretrained=str(path))
    assert used == path
    assert torch.equal(model.encoder.layer3[0].conv1.weight, ref.layer3[0].conv1.weight)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    assert find_pretrained("resnet18", "auto") == path
    assert find_pretrained("resnet34", "auto") is None
    with caplog.at_level(logging.INFO):
        _, used = build_model("multilabel", "resnet34", 3, pretrained="auto")
    assert used is None
    assert sum("random init" in r.message for r in caplog.records) == 1


def test_bad_pretrained_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="does not exist"):
        build_model("segmentation", "resnet18", 2, pretrained=str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"something": torch.zeros(1)}, bad)
    with pytest.raises(TrainingError, match="does not match"):
        build_model("segmentation", "resnet18", 2, pretrained=str(bad))
