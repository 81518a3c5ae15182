"""The window's "All N GPUs (DDP)" choice: offered only with several GPUs (a faked device
list here), and a run started from the panel goes to torchrun child processes (CPU + gloo on
this machine) whose rank-0 log drives the panel; Stop ends every child process."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from workbench.core.project import Project
from workbench.qt.training import TrainingPanel
from workbench.qt.training.devices import DevicePicker
from workbench.training import checkpoints, session
from workbench.training.config import TrainConfig

CPU = {"id": "cpu", "name": "CPU", "threads": 2, "cores": 2}
GPUS = [{"id": f"cuda:{i}", "name": "Fake GPU", "memory_gb": 80.0} for i in range(2)]


def test_all_gpus_choice_only_with_several_gpus(qtbot) -> None:
    picker = DevicePicker()
    qtbot.addWidget(picker)
    picker.set_devices([CPU, *GPUS], "ddp")
    labels = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert "All 2 GPUs (DDP)" in labels
    assert picker.device() == "ddp" and picker.gpu_count() == 2
    picker.set_devices([CPU, GPUS[0]])
    assert not any("DDP" in picker.combo.itemText(i) for i in range(picker.combo.count()))


def _our_processes(root: Path) -> list[str]:
    """Live processes whose command line names the project (torchrun and its ranks)."""
    found = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmd.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in text and "workbench" in text:
            found.append(text)
    return found


def test_ddp_run_from_the_panel_reports_and_stop_ends_every_process(
        qtbot, seg_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(session, "describe_devices", lambda: [CPU, *GPUS])
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[3]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    config = TrainConfig(arch="resnet18", size=32, bs=4, epochs=40, lr=1e-3, pretrained=None,
                         device="ddp")
    panel = TrainingPanel(seg_project, config=config)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.form.device_picker.gpu_count() == 2, timeout=20000)
    assert panel.form.config.device == "ddp"
    root = seg_project.root
    with qtbot.waitSignal(panel.runner.busyChanged, timeout=5000):
        qtbot.mouseClick(panel.findChild(QPushButton, "trainStartButton"),
                         Qt.MouseButton.LeftButton)
    # rank 0's epoch rows reach the table and the plots as in a single-process run
    qtbot.waitUntil(lambda: panel.table.table_model.rowCount() >= 1, timeout=180000)
    assert panel.plots.raw_loss_curve.getData()[1] is not None
    assert len(_our_processes(root)) >= 3  # torchrun + 2 ranks
    qtbot.mouseClick(panel.findChild(QPushButton, "trainStopButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=60000)
    qtbot.waitUntil(lambda: not _our_processes(root), timeout=10000)
    assert panel.progress.format() == "Stopped", panel.message()
    run = seg_project.db.list_runs()[0]
    assert run.status == "cancelled"
    ckpt = checkpoints.load(root / "models" / run.run_id / checkpoints.LAST)
    assert len(ckpt["history"]["epochs"]) >= 1
    # `import torch` loads the torch.distributed module; the window never joins a group.
    assert not torch.distributed.is_initialized()
