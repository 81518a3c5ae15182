"""Downloading ImageNet weights: a local HTTP server on 127.0.0.1 (``weights_server`` in
tests/conftest.py) stands in for torchvision's; ``hub`` is an empty torch hub cache."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch
import torchvision.models as tvm

from workbench.cli import main
from workbench.training.models import build_model
from workbench.training.weights import WeightsError, download_weights, find_cached


def _state_dict_bytes(model: torch.nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def _named(data: bytes, arch: str) -> str:
    """torchvision's naming: <arch>-<first 8 hex digits of the SHA-256>.pth"""
    return f"/{arch}-{hashlib.sha256(data).hexdigest()[:8]}.pth"


def test_download_then_the_model_builds_with_those_weights(weights_server, hub) -> None:
    base, handler = weights_server
    torch.manual_seed(5)
    ref = tvm.resnet18(weights=None)
    data = _state_dict_bytes(ref)
    path = _named(data, "resnet18")
    handler.files[path] = data
    seen: list[tuple[int, int | None]] = []
    saved = download_weights("resnet18", url=base + path, progress=lambda d, t: seen.append((d, t)))
    assert saved == hub / path[1:] and saved.read_bytes() == data
    assert seen[-1] == (len(data), len(data)) and len(seen) > 1
    assert sorted(p.name for p in hub.iterdir()) == [path[1:]]  # no temporary file left
    assert find_cached("resnet18") == saved
    model, used = build_model("segmentation", "resnet18", 2, pretrained="auto")
    assert used == saved
    assert torch.equal(model.encoder.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)


def test_truncated_download_leaves_nothing(weights_server, hub) -> None:
    base, handler = weights_server
    data = bytes(range(256)) * 4096
    path = _named(data, "resnet34")
    handler.files[path] = data
    handler.cut.add(path)
    with pytest.raises(WeightsError, match="cut off"):
        download_weights("resnet34", url=base + path)
    assert list(hub.iterdir()) == [] and find_cached("resnet34") is None


def test_wrong_hash_leaves_nothing(weights_server, hub) -> None:
    base, handler = weights_server
    data = b"not the weights the name promises" * 1000
    path = "/resnet50-0123abcd.pth"
    handler.files[path] = data
    with pytest.raises(WeightsError, match="SHA-256 starts with .* the name says 0123abcd"):
        download_weights("resnet50", url=base + path)
    assert list(hub.iterdir()) == [] and find_cached("resnet50") is None


def test_offline_message_says_where_to_put_the_file(hub, capsys) -> None:
    url = "http://127.0.0.1:9/resnet18-f37072fd.pth"  # port 9 (discard): refused
    assert main(["weights", "download", "resnet18", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "Could not download" in err and "offline or behind a proxy" in err
    assert str(hub / "resnet18-f37072fd.pth") in err
    assert not hub.exists() or list(hub.iterdir()) == []


def test_cli_download_and_where(weights_server, hub, capsys) -> None:
    base, handler = weights_server
    data = b"weights" * 100
    path = _named(data, "resnet34")
    handler.files[path] = data
    assert main(["weights", "download", "resnet34", "--url", base + path]) == 0
    assert f"resnet34: saved {hub / path[1:]}" in capsys.readouterr().out
    assert main(["weights", "download", "resnet34"]) == 0  # already there: no network needed
    assert "already downloaded" in capsys.readouterr().out
    assert main(["weights", "where"]) == 0
    out = capsys.readouterr().out
    assert f"weights folder: {hub}" in out and path[1:] in out and "resnet18: not downloaded" in out
