"""Training-panel tests run real (tiny) training on the CPU.

With other test processes sharing the 2 cores, torch's default of one intra-op thread per core
makes each batch several times slower (threads spin waiting for each other), so these tests
use one thread.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from workbench.core.project import Project
from workbench.qt.training import TrainingPanel
from workbench.training.config import TrainConfig


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    torch.set_num_threads(1)


TINY = {"arch": "resnet18", "size": 32, "bs": 8, "lr": 1e-3, "pretrained": None,
        "device": "cpu"}


@pytest.fixture
def make_panel(qtbot) -> Iterator:
    panels: list[TrainingPanel] = []

    def make(project: Project, **overrides: object) -> TrainingPanel:
        panel = TrainingPanel(project, config=TrainConfig(**{**TINY, **overrides}))
        qtbot.addWidget(panel)
        panel.resize(1200, 760)
        panel.stages.set_mode("frozen")  # one stage: the form's epochs at its max LR
        panels.append(panel)
        return panel

    yield make
    for panel in panels:  # never leave a training thread behind a destroyed panel
        assert panel.stop_and_wait(20000)
