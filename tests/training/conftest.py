"""Helpers for training tests: tiny, fast learners on the shared synthetic projects."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import torch

from workbench.training.config import TrainConfig
from workbench.training.learner import Learner
from workbench.training.session import build_learner

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # set by tests/conftest.py


def tiny_config(**overrides: object) -> TrainConfig:
    base = {"arch": "resnet18", "size": 32, "bs": 4, "epochs": 1, "lr": 1e-3, "pretrained": None, "seed": 0}
    base.update(overrides)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def config_factory() -> Callable[..., TrainConfig]:
    """config_factory(**overrides) -> a tiny, fast TrainConfig."""
    return tiny_config


@pytest.fixture
def make_learner(seg_project, tag_project) -> Callable[..., Learner]:
    """make_learner(task="segmentation", callbacks=(), **config) -> Learner on a tiny project."""

    def make(task: str = "segmentation", callbacks=(), **overrides: object) -> Learner:
        project = seg_project if task == "segmentation" else tag_project
        return build_learner(project, tiny_config(**overrides), callbacks)

    return make
