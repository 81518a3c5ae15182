"""Refit on the queue: loss on queued items falls, validation holds, the run names its parent."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.demo import source_dir
from workbench.core.imageio import read_mask
from workbench.core.runs import RunStatus, current_model
from workbench.training.config import TrainConfig
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.events import Callback
from workbench.training.lr_find import LRFindResult
from workbench.training.refit import (
    RefitSampler,
    RefitSettings,
    base_lrs,
    recalibrate_batchnorm,
    refit,
)
from workbench.training.refit_policy import (
    CAP,
    LOSS_TOLERANCE,
    METRIC_TOLERANCE,
    given_rate,
    judge,
    measured_rate,
)
from workbench.training.session import train


class Events(Callback):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def before_fit(self, learn) -> None:
        self.seen.append(f"fit {learn.state.stage}")

    def after_epoch(self, learn) -> None:
        self.seen.append("epoch")


def test_refit_on_queue(nuclei_project) -> None:
    """On the nuclei demo: the annotator corrects two slices the model never saw (their true
    masks from the demo data), and the default refit learns them without losing validation."""
    project = nuclei_project
    parent = train(project, TrainConfig(arch="resnet18", size=64, bs=8, epochs=6, lr=1e-2,
                                        pretrained=None, seed=0)).run_id
    train_block = set(project.split(project.image_names())[0])
    truth = {n: read_mask(source_dir("segmentation") / "masks" / n)
             for n in project.image_names() if n in train_block and not project.has_label(n)}
    queued = sorted(truth, key=lambda n: -int((truth[n] == 1).sum()))[:2]  # the most nuclei
    for name in queued:
        project.write_mask(name, truth[name])
        project.queue.add(name, reason="corrected", run_id=parent)

    with pytest.raises(TrainingCancelled):
        refit(project, parent, RefitSettings(epochs=1), should_stop=lambda: True)
    assert [i.image for i in project.queue.pending()] == queued  # a stopped refit uses none
    assert current_model(project).run_id == parent

    events = Events()
    result = refit(project, settings=RefitSettings(epochs=2), callbacks=[events])
    assert result.parent == parent and result.items == queued  # the current model's refit
    assert events.seen == ["fit refit", "epoch", "epoch"]  # the LR sweep is apart
    parent_head = project.db.get_run(parent).config["lr"]
    assert result.rate.rule == "measured (edge)"
    assert 0 < result.rate.lrs[-1] <= CAP * parent_head + 1e-12
    assert result.rate.sweep["iterations"] > 0
    assert result.after["queue"]["loss"] < result.before["queue"]["loss"]
    assert result.after["queue"]["dice_mean"] > result.before["queue"]["dice_mean"]
    assert result.accepted and result.verdict.accepted, result.verdict.reasons
    record = project.db.get_run(result.run)  # the kept model's score is the guard's
    assert record.best_metric == pytest.approx(result.after["valid"]["dice_mean"])
    assert result.after["valid"]["dice_mean"] >= (result.before["valid"]["dice_mean"]
                                                  - METRIC_TOLERANCE)
    run = project.db.get_run(result.run)
    assert run.parent == parent and run.queue_items == queued
    assert run.status is RunStatus.FINISHED and run.config["extra"]["refit"]["parent"] == parent
    assert run.guard["accepted"] and run.guard["before"] == result.before["valid"]
    assert current_model(project).run_id == result.run
    assert all(i.used_by == result.run for i in project.queue.items() if i.image in queued)
    assert project.queue.pending() == []
    preds = project.predictions_dir / result.run
    assert sorted(p.name for p in preds.glob("*.png")) == sorted(project.image_names())
    assert project.db.uncertainty_run() == result.run
    js = result.to_json()
    assert set(js) == {"run", "parent", "items", "before", "after", "accepted", "guard", "lr"}
    assert set(js["before"]) == set(js["after"]) == {"queue", "valid"}
    # the next refit is bounded by the same parent rates, not by this refit's (no creeping up)
    assert run.config["extra"]["refit"]["base_lrs"] == result.rate.parent_lrs
    assert result.rate.parent_lrs[-1] == pytest.approx(parent_head)

    with pytest.raises(TrainingError, match="no pending item"):
        refit(project, result.run)


def test_a_refit_that_hurts_validation_is_rejected_and_the_parent_stays(
        seg_project, config_factory) -> None:
    parent = train(seg_project, config_factory(epochs=3, lr=3e-3)).run_id
    queued = seg_project.split()[1][:1]
    seg_project.queue.add(queued[0], reason="test", run_id=parent)
    parent_preds = sorted((seg_project.predictions_dir).glob("*"))
    # A rate thirty times the parent's wrecks the model: the guard must catch it.
    result = refit(seg_project, parent, RefitSettings(epochs=2, lr=0.1))
    assert not result.accepted and result.verdict.reasons
    assert result.rate.rule == "--lr"
    run = seg_project.db.get_run(result.run)
    assert run.status is RunStatus.REJECTED and not run.guard["accepted"]
    assert current_model(seg_project).run_id == parent
    assert [i.image for i in seg_project.queue.pending()] == queued  # back to pending
    assert sorted((seg_project.predictions_dir).glob("*")) == parent_preds  # none written

    kept = refit(seg_project, parent, RefitSettings(epochs=2, lr=0.1, keep_worse=True))
    assert kept.accepted and kept.verdict.kept_anyway and not kept.verdict.accepted
    assert seg_project.db.get_run(kept.run).status is RunStatus.FINISHED
    assert current_model(seg_project).run_id == kept.run
    assert seg_project.queue.pending() == []


def test_judge_rejects_a_metric_drop_or_a_loss_rise_past_the_tolerance() -> None:
    before = {"loss": 0.20, "dice_mean": 0.90}
    assert judge(before, {"loss": 0.21, "dice_mean": 0.89}, "dice_mean").accepted
    drop = judge(before, {"loss": 0.21, "dice_mean": 0.87}, "dice_mean")
    assert not drop.accepted and "dice_mean fell by 0.030" in drop.reasons[0]
    rise = judge(before, {"loss": 0.20 * (1 + LOSS_TOLERANCE) + 0.01, "dice_mean": 0.91},
                 "dice_mean")
    assert not rise.accepted and "validation loss rose" in rise.reasons[0]
    nan = judge(before, {"loss": None, "dice_mean": None}, "dice_mean")
    assert not nan.accepted and "non-finite" in nan.reasons[0]
    nothing = judge({}, {}, "dice_mean")
    assert nothing.accepted and "nothing to compare" in nothing.reasons[0]


def test_judge_rejects_a_refit_that_does_not_improve_its_queued_images() -> None:
    valid = {"loss": 0.20, "dice_mean": 0.90}
    learned = judge(valid, valid, "dice_mean", {"loss": 0.3, "dice_mean": 0.70},
                    {"loss": 0.2, "dice_mean": 0.80})
    assert learned.accepted and learned.reasons == []
    unlearned = judge(valid, valid, "dice_mean", {"loss": 0.03, "dice_mean": 0.960},
                      {"loss": 0.03, "dice_mean": 0.959})
    assert not unlearned.accepted
    assert unlearned.reasons == ["the queued images did not improve (dice_mean 0.960 -> 0.959)"]
    perfect = {"loss": 0.05, "dice_mean": 1.0}  # at an equal metric the loss decides
    assert judge(valid, valid, "dice_mean", perfect, {"loss": 0.04, "dice_mean": 1.0}).accepted
    assert not judge(valid, valid, "dice_mean", perfect, {"loss": 0.06, "dice_mean": 1.0}).accepted
    alone = judge({}, {}, "dice_mean", {"loss": 0.3, "dice_mean": 0.7},
                  {"loss": 0.4, "dice_mean": 0.6})  # no validation: the queue still counts
    assert not alone.accepted and "did not improve" in alone.reasons[0]


class _Sweeping:
    """The part of a Learner that measured_rate uses, with a canned sweep: flat and noisy,
    taking off at ``edge_lr`` (never, for None)."""

    def __init__(self, edge_lr: float | None, valley: float = 1e-6) -> None:
        self.edge_lr, self.valley, self.n_groups, self.asked = edge_lr, valley, 3, {}

    def lr_find(self, start_lr: float, end_lr: float, num_it: int) -> LRFindResult:
        self.asked = {"start": start_lr, "end": end_lr, "num_it": num_it}
        lrs = list(np.geomspace(start_lr, end_lr, num_it))
        noise = np.random.default_rng(0).uniform(0.9, 1.1, num_it)
        losses = [float(n) * (5.0 if self.edge_lr and lr >= self.edge_lr else 1.0)
                  for lr, n in zip(lrs, noise, strict=True)]
        losses[num_it // 2] *= 6  # one batch much worse than the rest: noise, no take-off
        return LRFindResult(lrs, losses, {"minimum": self.valley, "valley": self.valley,
                                          "steep": self.valley}, raw_losses=losses)


def test_measured_rate_is_a_tenth_of_the_edge_below_the_cap_with_the_parents_ratios() -> None:
    parent = [1e-5, 1e-4, 1e-3]
    flat = _Sweeping(None)  # never takes off: the cap, a tenth of the parent's rates
    capped = measured_rate(flat, parent)
    assert capped.lrs == pytest.approx([v * CAP for v in parent])
    assert capped.rule == "measured (edge)" and capped.sweep["edge"] is None
    assert flat.asked["start"] < 1e-3 < flat.asked["end"] and flat.asked["num_it"] == 30
    early = measured_rate(_Sweeping(2e-5), parent)  # takes off below the parent's rate
    head = early.lrs[-1]
    assert 2e-6 <= head <= 1e-5 and early.lrs == pytest.approx([head / 100, head / 10, head])
    assert measured_rate(_Sweeping(None, valley=5e-6), parent, "valley").lrs[-1] == 5e-6
    assert given_rate(5e-3, parent, 3).lrs == pytest.approx([5e-5, 5e-4, 5e-3])



def test_sampler_oversamples_queue_and_replays_a_fresh_sample() -> None:
    sampler = RefitSampler(n_queue=2, n_rest=10, oversample=3, n_replay=4, seed=0)
    epochs = [list(sampler) for _ in range(3)]
    for idx in epochs:
        assert len(idx) == len(sampler) == 10
        assert idx.count(0) == idx.count(1) == 3
        assert len({i for i in idx if i >= 2}) == 4
    assert len({tuple(sorted(i for i in e if i >= 2)) for e in epochs}) > 1


def test_feedback_csv_then_refit_multilabel(tag_project, config_factory, tmp_path) -> None:
    from workbench.core.feedback import import_feedback

    parent = train(tag_project, config_factory(epochs=1, bs=4)).run_id
    name = tag_project.split()[1][0]
    feedback = tmp_path / "fb.csv"
    feedback.write_text(f"image_name,tags\n{name},red green blue\n")
    report = import_feedback(tag_project, csv_path=feedback, run_id=parent)
    assert report.ok and [i.image for i in report.items] == [name]
    result = refit(tag_project, parent, RefitSettings(epochs=1, lr=1e-3, keep_worse=True))
    assert result.items == [name] and result.parent == parent and result.accepted
    for when in (result.before, result.after):
        assert {"loss", "f2", "accuracy_thresh"} <= set(when["queue"])
        assert {"loss", "f2"} <= set(when["valid"])  # the other validation images
    assert (tag_project.predictions_dir / result.run / "predictions.csv").is_file()
    assert tag_project.queue.get(report.items[0].id).used_by == result.run


def test_a_refit_of_a_refit_is_bounded_by_the_first_parent() -> None:
    trained = {"schedule": {"lr_max": [1e-5, 1e-4, 1e-3]}, "config": {"extra": {}}}
    refitted = {"schedule": {"lr_max": [2e-6, 2e-5, 2e-4]},
                "config": {"extra": {"refit": {"base_lrs": [1e-5, 1e-4, 1e-3]}}}}
    assert base_lrs(trained) == base_lrs(refitted) == [1e-5, 1e-4, 1e-3]


def test_batchnorm_statistics_are_recomputed_from_the_training_images(make_learner) -> None:
    import torch

    learn = make_learner()
    learn.fit_one_cycle(1, 1e-3)
    bns = [m for m in learn.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:  # as a refit's oversampled batches drag them off
        bn.running_mean.fill_(5.0)
        bn.running_var.fill_(100.0)
    weights = [p.detach().clone() for p in learn.model.parameters()]
    recalibrate_batchnorm(learn, learn.data.train_names)
    assert all(not torch.allclose(bn.running_mean, torch.full_like(bn.running_mean, 5.0))
               for bn in bns)
    assert all(bn.running_var.max() < 100.0 for bn in bns[:1])
    assert all(torch.equal(a, b) for a, b in zip(learn.model.parameters(), weights))
    assert bns[0].momentum == 0.1  # the layers' own settings are left as they were
