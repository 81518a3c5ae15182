"""Mixed precision on the CPU: detected from PyTorch's view of the CPU, recorded with the run,
weights kept in fp32, checkpoints that load the same whatever precision wrote them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.cli import main
from workbench.core.imageio import read_mask
from workbench.training import checkpoints, device
from workbench.training.device import cpu_bf16_native, resolve_precision
from workbench.training.errors import TrainingError
from workbench.training.predict import predict_project
from workbench.training.session import build_learner

CPU = torch.device("cpu")


@pytest.mark.parametrize(("caps", "native"), [
    ({"architecture": "x86_64", "avx512_f": True, "avx512_bf16": False, "amx_bf16": False},
     False),
    ({"architecture": "x86_64", "avx512_bf16": True}, True),
    ({"architecture": "x86_64", "amx_bf16": True}, True),
    ({"architecture": "aarch64", "neon": True}, False),
    ({"architecture": "aarch64", "bf16": True}, True),
])
def test_auto_is_bf16_only_where_the_cpu_runs_it_natively(monkeypatch, caps, native) -> None:
    monkeypatch.setattr(device.torch.cpu, "get_capabilities", lambda: caps)
    assert cpu_bf16_native() is native
    auto = resolve_precision(CPU, "auto")
    assert (auto.name, auto.dtype, auto.channels_last) == (
        ("bf16", torch.bfloat16, True) if native else ("fp32", None, False))
    assert resolve_precision(CPU, "fp32").dtype is None
    assert resolve_precision(CPU, "bf16").dtype is torch.bfloat16  # asked for: even emulated


def test_this_machine_is_read_through_pytorch() -> None:
    caps = torch.cpu.get_capabilities()
    expected = any(caps.get(k, False) for k in ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16"))
    assert cpu_bf16_native() is (expected and torch.backends.mkldnn.is_available())


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(TrainingError, match="unknown precision 'fp8'; use one of auto, fp32, "
                                            "bf16"):
        resolve_precision(CPU, "fp8")


def test_bf16_run_keeps_fp32_weights_and_records_its_precision(seg_project,
                                                               config_factory) -> None:
    learner = build_learner(seg_project, config_factory(precision="bf16", epochs=1))
    assert learner.precision.name == "bf16"
    assert learner.config.extra["precision_used"] == "bf16"
    learner.fit_one_cycle(1, 1e-3)
    assert all(p.dtype == torch.float32 for p in learner.model.parameters())
    ckpt = checkpoints.load(learner.checkpoint_dir / checkpoints.LAST)
    assert ckpt["config"]["precision"] == "bf16"
    assert ckpt["config"]["extra"]["precision_used"] == "bf16"
    floats = [t for t in ckpt["model"].values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float32 for t in floats)
    run = seg_project.db.get_run(learner.run_id)
    assert run.config["extra"]["precision_used"] == "bf16"
    # The same checkpoint predicts in fp32 and in bf16, with (almost) the same masks.
    out32 = predict_project(seg_project, learner.run_id, "valid", seg_project.root / "p32",
                            device="cpu", precision="fp32")
    out16 = predict_project(seg_project, learner.run_id, "valid", seg_project.root / "p16",
                            device="cpu", precision="bf16")
    agree = [np.mean(read_mask(path) == read_mask(out16 / path.name))
             for path in sorted(out32.glob("*.png"))]
    assert agree and np.mean(agree) > 0.95


def test_fp32_run_records_fp32(seg_project, config_factory) -> None:
    learner = build_learner(seg_project, config_factory(precision="fp32"))
    assert learner.precision.dtype is None and not learner.precision.channels_last
    assert learner.config.extra["precision_used"] == "fp32"


def test_cli_precision_option(seg_project, capsys) -> None:
    code = main(["train", str(seg_project.root), "--epochs", "1", "--size", "32", "--bs", "4",
                 "--arch", "resnet18", "--lr", "1e-3", "--pretrained", "none",
                 "--precision", "fp32"])
    assert code == 0
    run = seg_project.db.list_runs()[0]
    assert run.config["precision"] == "fp32"
    assert run.config["extra"]["precision_used"] == "fp32"
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(seg_project.root), "--precision", "fp16"])
    assert exc.value.code == 2
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
