"""Training really learns on the demo data (CPU, random init, small sizes, seeded), in the
default ``auto`` precision: bf16 with channels-last on a CPU that runs bf16 natively."""

import numpy as np
import torch

from workbench.core.demo import source_dir
from workbench.core.labels import read_labels_csv, stem_of
from workbench.training.config import TrainConfig
from workbench.training.device import cpu_bf16_native
from workbench.training.metrics import fbeta_samples
from workbench.training.session import build_learner


def assert_auto_precision(learn: object) -> None:
    assert learn.config.precision == "auto"
    assert learn.config.extra["precision_used"] == ("bf16" if cpu_bf16_native() else "fp32")


def test_nuclei_unet_beats_all_background(nuclei_project) -> None:
    # The demo leaves every third slice unlabelled: 32 training slices. 6 epochs of 4 batches
    # give the same 24 iterations (and images seen) as the 48 labelled slices x 4 epochs did.
    cfg = TrainConfig(arch="resnet18", size=64, bs=8, epochs=6, lr=1e-2, pretrained=None, seed=0)
    learn = build_learner(nuclei_project, cfg)
    assert_auto_precision(learn)
    # Trivial answer: every pixel background -> Dice 2N_bg/(2N_bg+N_fg) for bg, 0 for nuclei.
    targets = torch.cat([y for _, y in learn.data.valid_dl])
    n_fg, n_bg = int((targets == 1).sum()), int((targets == 0).sum())
    trivial = (2 * n_bg / (2 * n_bg + n_fg) + 0.0) / 2
    learn.fit_one_cycle(6, 1e-2)
    rows = learn.recorder.epochs
    assert rows[-1]["valid_loss"] < rows[0]["valid_loss"]
    assert rows[-1]["dice_mean"] > trivial + 0.2, (rows[-1]["dice_mean"], trivial)
    assert rows[-1]["dice_nucleus"] > 0.5


def test_fashion_tags_f2_beats_predicting_every_tag(fashion_project) -> None:
    # The demo leaves a third of the mosaics untagged; tag them from the bundled labels.csv,
    # as a user would, so the model learns from all 240 (192 train, 48 valid).
    bundled = read_labels_csv(source_dir("multilabel") / "labels.csv")
    fashion_project.set_many_tags({n: bundled[stem_of(n)] for n in fashion_project.image_names()
                                   if not fashion_project.has_label(n)})
    assert len(fashion_project.labelled_names()) == 240
    cfg = TrainConfig(arch="resnet18", size=64, bs=16, epochs=10, lr=3e-3, pretrained=None,
                      seed=0)
    learn = build_learner(fashion_project, cfg)
    assert_auto_precision(learn)
    targets = torch.cat([y for _, y in learn.data.valid_dl]).numpy()
    every_tag = fbeta_samples(np.ones_like(targets), targets, 0.2)
    learn.fit_one_cycle(10, 3e-3)
    rows = learn.recorder.epochs
    assert rows[-1]["valid_loss"] < rows[0]["valid_loss"]
    assert rows[-1]["f2"] > every_tag + 0.05, (rows[-1]["f2"], every_tag)
