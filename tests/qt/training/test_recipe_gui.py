"""The panel plans with the engine's recipe planner: the same settings give the CLI's stages.
And the panel's "Download…" button fetches ImageNet weights (from a server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

import pytest
import torch
import torchvision.models as tvm
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from workbench.cli import build_parser
from workbench.cli.train_cmds import _config
from workbench.qt.training import TrainingPanel
from workbench.qt.training.notices import NoticeBox
from workbench.qt.training.stages import StageControls, StageSettings
from workbench.training import weights
from workbench.training.config import TrainConfig
from workbench.training.session import stages_from_config

CASES = [
    # (form config, stage settings, the CLI flags a user would type for the same recipe)
    ({"epochs": 3, "lr": 1e-3}, {"unfreeze_epochs": 2},
     ["--freeze-epochs", "3", "--epochs", "2", "--lr", "1e-3"]),
    ({"epochs": 1, "lr": None}, {"unfreeze_epochs": 4},  # empty max LR: LR finder everywhere
     ["--freeze-epochs", "1", "--epochs", "4"]),
    ({"epochs": 2, "lr": 2e-3}, {"unfreeze_epochs": 3, "lo": 1e-6, "hi": 1e-4,
                                 "resize_enabled": True, "resize_size": 192, "resize_epochs": 1},
     ["--freeze-epochs", "2", "--epochs", "3", "--lr", "2e-3", "--lrs", "1e-6,1e-4",
      "--resize", "128,192", "--resize-epochs", "1"]),
    ({"epochs": 2, "lr": None}, {"unfreeze_epochs": 1, "hi": 3e-4},
     ["--freeze-epochs", "2", "--epochs", "1", "--lrs", "3e-6,3e-4"]),
]


def _rounded(stages: list) -> list:
    """Stages with rates rounded to 12 digits (hi / 100 vs a typed 3e-6 differ in the last bit)."""
    def r(v):
        if isinstance(v, float):
            return float(f"{v:.12g}")
        return tuple(r(x) for x in v) if isinstance(v, tuple) else v

    return [replace(s, lr=r(s.lr), lrs=r(s.lrs)) for s in stages]


@pytest.mark.parametrize(("form", "stage_settings", "flags"), CASES)
def test_gui_and_cli_plan_the_same_stages(qtbot, form, stage_settings, flags) -> None:
    controls = StageControls()  # the real widgets write StageSettings
    qtbot.addWidget(controls)
    controls.unfreeze_epochs.setValue(stage_settings["unfreeze_epochs"])
    for name, edit in (("lo", controls.lo_edit), ("hi", controls.hi_edit)):
        if name in stage_settings:
            qtbot.keyClicks(edit, f"{stage_settings[name]:g}")
    if stage_settings.get("resize_enabled"):
        controls.resize_check.setChecked(True)
        controls.resize_size.setValue(stage_settings["resize_size"])
        controls.resize_epochs.setValue(stage_settings["resize_epochs"])
    assert controls.settings == StageSettings(mode="recipe", **{
        "unfreeze_epochs": 2, "resize_epochs": 2, **stage_settings})
    config = TrainConfig(arch="resnet18", size=128, **form)
    args = build_parser().parse_args(["train", "proj", "--arch", "resnet18", "--size", "128",
                                      *flags])
    for loaded in (True, False):
        gui = controls.settings.plan(config, pretrained_loaded=loaded)
        cli = stages_from_config(_config(args), loaded)
        assert _rounded(gui) == _rounded(cli), (loaded, gui, cli)
        assert all(not s.frozen for s in gui) or loaded  # never a frozen random encoder
    if form["lr"] is None and "hi" not in stage_settings:
        assert all(s.lr is None and s.lrs is None for s in gui)  # the LR finder decides


def test_single_stage_modes_are_stages_of_the_recipe(qtbot) -> None:
    settings = StageSettings(unfreeze_epochs=2, resize_enabled=True, resize_size=256)
    config = TrainConfig(epochs=3, lr=1e-3, size=128)
    full = settings.plan(config, True)
    for mode, index in (("frozen", 0), ("unfrozen", 1), ("resize", 2)):
        settings.mode = mode
        assert settings.plan(config, True) == [full[index]]


def test_download_button_fetches_weights_into_the_hub_cache(qtbot, seg_project, hub,
                                                            weights_server, monkeypatch) -> None:
    base, handler = weights_server
    torch.manual_seed(3)
    buf = io.BytesIO()
    torch.save(tvm.resnet18(weights=None).state_dict(), buf)
    data = buf.getvalue()
    name = f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    handler.files["/" + name] = data
    monkeypatch.setattr(weights, "weights_url", lambda arch: f"{base}/{name}")
    panel = TrainingPanel(seg_project, config=TrainConfig(arch="resnet18", size=32))
    qtbot.addWidget(panel)
    panel.resize(1100, 400)  # wide enough for the settings beside the tabs
    panel.show()
    button = panel.findChild(QPushButton, "downloadWeightsButton")
    assert button.isVisibleTo(panel)
    assert "no ImageNet weights found" in panel.stages.summary.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = panel._weights_dialog
    with qtbot.waitSignal(dialog.ended, timeout=30000):
        pass
    assert (hub / name).read_bytes() == data
    level, text = panel.message()
    assert level == "ok" and str(hub / name) in text
    assert not button.isVisibleTo(panel)  # nothing left to download for this encoder
    assert "ep frozen" in panel.stages.summary.text()
    assert "nothing is frozen" not in panel.stages.summary.text()


def test_failed_download_says_why_and_leaves_nothing(qtbot, seg_project, hub,
                                                    weights_server) -> None:
    base, handler = weights_server
    handler.files["/resnet34-00000000.pth"] = b"x" * 5000  # the hash cannot match
    panel = TrainingPanel(seg_project, config=TrainConfig(arch="resnet34", size=32))
    qtbot.addWidget(panel)
    dialog = panel.download_weights("resnet34", f"{base}/resnet34-00000000.pth")
    with qtbot.waitSignal(dialog.ended, timeout=30000):
        pass
    level, text = panel.message()
    assert level == "error" and "SHA-256" in text
    assert list(hub.iterdir()) == []
    assert panel.findChild(QPushButton, "downloadWeightsButton").isVisibleTo(panel)


def test_notice_box_lists_each_notice_once_until_cleared(qtbot) -> None:
    box = NoticeBox()
    qtbot.addWidget(box)
    assert box.isHidden()
    box.add("Training on the CPU: no GPU.", "info")
    assert "#e8f4fd" in box.styleSheet()  # information colours
    box.add("Batch size 8 was cut to 3: <3 images>.", kind="batch_size")
    box.add("Batch size 8 was cut to 3: <3 images>.", kind="batch_size")
    assert box.has("batch_size") and not box.has("few_iterations")
    assert box.items() == [("info", "Training on the CPU: no GPU."),
                           ("warning", "Batch size 8 was cut to 3: <3 images>.")]
    assert "#fff4e5" in box.styleSheet() and "&lt;3 images&gt;" in box.text()
    box.clear_all()
    assert box.isHidden() and box.items() == [] and not box.has("batch_size")
