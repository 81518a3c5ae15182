"""Refit on the queue: loss on queued items falls, validation holds, the run names its parent."""

from __future__ import annotations

import pytest

from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.events import Callback
from workbench.training.refit import (
    REFIT_LR_FACTOR,
    RefitSampler,
    RefitSettings,
    refit,
    refit_lrs,
)
from workbench.training.session import train

# A short refit on 9 training images may move the validation Dice a little either way; it must
# not fall by more than this.
VALID_DICE_TOLERANCE = 0.05


class Events(Callback):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def before_fit(self, learn) -> None:
        self.seen.append(f"fit {learn.state.stage}")

    def after_epoch(self, learn) -> None:
        self.seen.append("epoch")


def test_refit_on_queue(seg_project, config_factory) -> None:
    parent = train(seg_project, config_factory(epochs=3, lr=3e-3)).run_id
    valid = seg_project.split()[1]
    queued = valid[:2]  # unseen by the parent: the images it would get wrong
    for name in queued:
        seg_project.queue.add(name, reason="test", run_id=parent)
    seg_project.clear_label(seg_project.split()[0][0])  # one unlabelled image to rank

    with pytest.raises(TrainingCancelled):
        refit(seg_project, parent, RefitSettings(epochs=1), should_stop=lambda: True)
    assert [i.image for i in seg_project.queue.pending()] == queued  # a stopped refit uses none

    events = Events()
    result = refit(seg_project, parent, RefitSettings(epochs=3), callbacks=[events])
    assert result.parent == parent and result.items == queued
    assert events.seen == ["fit refit", "epoch", "epoch", "epoch"]
    assert result.after["queue"]["loss"] < result.before["queue"]["loss"]
    assert result.after["valid"]["dice_mean"] >= (result.before["valid"]["dice_mean"]
                                                  - VALID_DICE_TOLERANCE)
    run = seg_project.db.get_run(result.run)
    assert run["parent"] == parent and run["queue_items"] == queued
    assert run["status"] == "finished" and run["config"]["extra"]["refit"]["parent"] == parent
    assert all(i.used_by == result.run for i in seg_project.queue.items()
               if i.image in queued)
    assert seg_project.queue.pending() == []
    preds = seg_project.predictions_dir / result.run
    assert sorted(p.name for p in preds.glob("*.png")) == sorted(seg_project.image_names())
    assert seg_project.db.uncertainty_run() == result.run
    js = result.to_json()
    assert set(js) == {"run", "parent", "items", "before", "after"}
    recorded = seg_project.db.get_run(result.run)["config"]["extra"]["refit"]
    assert recorded["base_lrs"] and recorded["lrs"] == pytest.approx(
        [v * REFIT_LR_FACTOR for v in recorded["base_lrs"]])  # the next refit starts from it
    assert set(js["before"]) == set(js["after"]) == {"queue", "valid"}

    with pytest.raises(TrainingError, match="no pending item"):
        refit(seg_project, result.run)


def test_refit_lrs_default_above_parent() -> None:
    ckpt = {"schedule": {"lr_max": [1e-5, 1e-4, 1e-3]}, "config": {}}
    assert refit_lrs(ckpt, None, 3) == pytest.approx([v * REFIT_LR_FACTOR for v in
                                                      (1e-5, 1e-4, 1e-3)])
    assert refit_lrs(ckpt, 5e-3, 3) == pytest.approx([5e-5, 5e-4, 5e-3])  # ratios kept


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
    result = refit(tag_project, parent, RefitSettings(epochs=1, lr=1e-3))
    assert result.items == [name] and result.parent == parent
    for when in (result.before, result.after):
        assert {"loss", "f2", "accuracy_thresh"} <= set(when["queue"])
        assert {"loss", "f2"} <= set(when["valid"])  # the other validation images
    assert (tag_project.predictions_dir / result.run / "predictions.csv").is_file()
    assert tag_project.queue.get(report.items[0].id).used_by == result.run


def test_refit_of_a_refit_does_not_double_the_rate_again() -> None:
    trained = {"schedule": {"lr_max": [1e-5, 1e-4, 1e-3]}, "config": {"lr": 1e-3, "extra": {}}}
    first = refit_lrs(trained, None, 3)
    refitted = {"schedule": {"lr_max": first},
                "config": {"lr": first[-1],
                           "extra": {"refit": {"lrs": first, "base_lrs": [1e-5, 1e-4, 1e-3]}}}}
    assert refit_lrs(refitted, None, 3) == pytest.approx(first)
