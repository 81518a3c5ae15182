"""Uncertainty: a confident prediction scores below an unsure one; scores are stored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from workbench.training.uncertainty import (
    multilabel_uncertainty,
    rank_unlabelled,
    segmentation_uncertainty,
    uncertainty_scores,
)


class RedDecides(nn.Module):
    """Logit of class/tag 1 = 4 x the normalised red channel: a bright red image is called
    confidently, an image at the ImageNet mean red (normalised 0) sits at the decision point
    (probability 0.5 for segmentation, the threshold 0.2 for tags, through ``bias``)."""

    def __init__(self, spatial: bool, bias: float = 0.0) -> None:
        super().__init__()
        self.spatial, self.bias = spatial, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = 4 * x[:, :1]
        if self.spatial:
            return torch.cat([torch.zeros_like(red), red], 1)
        return red.mean((2, 3)) + self.bias


def test_pure_scores_order_confident_below_unsure() -> None:
    sure = torch.tensor([[[[8.0]], [[-8.0]]]])
    unsure = torch.tensor([[[[0.1]], [[0.0]]]])
    s = segmentation_uncertainty(torch.cat([sure, unsure]))
    assert s[0] < 0.01 and s[1] > 0.99
    probs = torch.tensor([[0.99, 0.01], [0.21, 0.01], [0.6, 0.0], [0.0, 1.0]])
    m = multilabel_uncertainty(probs, threshold=0.2)
    assert m[3] == 0 and m[0] < m[2] < m[1]
    assert m[0] == pytest.approx(0.05) and m[1] == pytest.approx(0.79 / 0.8)


@pytest.mark.parametrize("task", ["segmentation", "multilabel"])
def test_model_scores_confident_image_lower(tmp_path, task) -> None:
    paths = []
    for name, red in (("sure.png", 255), ("unsure.png", 124)):  # 124 ~ ImageNet mean red
        img = np.zeros((20, 24, 3), np.uint8)
        img[..., 0] = red
        Image.fromarray(img).save(tmp_path / name)
        paths.append(tmp_path / name)
    model = RedDecides(True) if task == "segmentation" else RedDecides(False, np.log(0.2 / 0.8))
    scores = uncertainty_scores(model, paths, task, 16,
                                torch.device("cpu"), bs=1)
    assert scores[0] < 0.2 and scores[1] > 0.9


def test_rank_unlabelled_stores_scores(seg_project, config_factory) -> None:
    from workbench.training.session import train

    names = seg_project.image_names()
    learner = train(seg_project, config_factory(epochs=1))
    for n in names[:2]:  # two images lose their label after the run: they get scored
        seg_project.clear_label(n)
    ranked = rank_unlabelled(seg_project, batch_size=2)
    assert sorted(n for n, _ in ranked) == sorted(names[:2])
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert all(0.0 <= s <= 1.0 for _, s in ranked)
    assert seg_project.db.uncertainty() == pytest.approx(dict(ranked))
    assert seg_project.db.uncertainty_run() == learner.run_id
