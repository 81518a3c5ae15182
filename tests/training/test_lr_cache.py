"""One short LR sweep per run, remembered per project: the same model, data and settings reuse
it; anything that changes what the sweep measures sweeps again."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.training import checkpoints
from workbench.training.config import TrainConfig
from workbench.training.events import FunctionCallback
from workbench.training.lr_cache import CACHE_NAME, find_lr, sweep_key
from workbench.training.reports import FitStarted, LRFindDone, LRFindStep, ReportCallback
from workbench.training.session import (
    build_learner,
    resume_run,
    run_stages,
    stages_from_config,
    train,
)

SWEEP = 12  # a short sweep keeps the tests fast


def sweeps_in(messages: list[object]) -> list[list[LRFindStep]]:
    """The LR sweeps that ran batches, as lists of their steps."""
    out: list[list[LRFindStep]] = []
    for m in messages:
        if isinstance(m, LRFindStep):
            if m.iteration == 1:
                out.append([])
            out[-1].append(m)
    return out


def test_a_second_identical_sweep_comes_from_the_cache(seg_project, config_factory) -> None:
    messages: list[object] = []
    first = build_learner(seg_project, config_factory(lr=None),
                          [ReportCallback(messages.append)])
    fresh = find_lr(first, SWEEP)
    assert not fresh.cached and len(sweeps_in(messages)) == 1
    assert (seg_project.root / "models" / CACHE_NAME).is_file()
    messages.clear()
    second = build_learner(seg_project, config_factory(lr=None),
                           [ReportCallback(messages.append)])
    again = find_lr(second, SWEEP)
    assert again.cached and sweeps_in(messages) == []  # not one batch ran
    assert again.suggestions == fresh.suggestions and again.lrs == fresh.lrs
    done = [m for m in messages if isinstance(m, LRFindDone)]
    assert len(done) == 1 and done[0].cached and done[0].suggestions == fresh.suggestions
    # Asked for a new sweep (the LR finder button, `workbench lr-find`): it runs.
    assert not find_lr(second, SWEEP, reuse=False).cached


def test_what_the_sweep_depends_on_changes_its_key(seg_project, config_factory) -> None:
    learner = build_learner(seg_project, config_factory(lr=None))
    key = sweep_key(learner, 1e-7, 10.0, SWEEP)
    assert sweep_key(learner, 1e-7, 10.0, SWEEP) == key
    assert sweep_key(learner, 1e-7, 10.0, SWEEP + 1) != key
    assert sweep_key(build_learner(seg_project, config_factory(lr=None, seed=1)),
                     1e-7, 10.0, SWEEP) != key  # another random init
    assert sweep_key(build_learner(seg_project, config_factory(lr=None, bs=2)),
                     1e-7, 10.0, SWEEP) != key
    learner.set_size(48)
    assert sweep_key(learner, 1e-7, 10.0, SWEEP) != key
    learner.set_size(32)
    assert sweep_key(learner, 1e-7, 10.0, SWEEP) == key
    learner.freeze()
    assert sweep_key(learner, 1e-7, 10.0, SWEEP) != key
    learner.unfreeze()
    name = learner.data.train_names[0]  # a label changes
    mask = seg_project.read_mask(name)
    mask[:4, :4] = 1 - mask[:4, :4]
    seg_project.write_mask(name, mask)
    assert sweep_key(learner, 1e-7, 10.0, SWEEP) != key
    learner.fit_one_cycle(1, 1e-3)  # trained: other weights
    assert sweep_key(learner, 1e-7, 10.0, SWEEP) != key


def test_tag_changes_change_the_key(tag_project, config_factory) -> None:
    learner = build_learner(tag_project, config_factory(lr=None))
    key = sweep_key(learner, 1e-7, 10.0, SWEEP)
    spec = learner.spec
    name = spec.train_names[0]
    spec.tag_vectors[name] = 1 - np.asarray(spec.tag_vectors[name])
    assert sweep_key(learner, 1e-7, 10.0, SWEEP) != key


def test_a_damaged_cache_is_swept_past(seg_project, config_factory) -> None:
    path = seg_project.root / "models" / CACHE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    learner = build_learner(seg_project, config_factory(lr=None))
    assert not find_lr(learner, SWEEP).cached
    data = json.loads(path.read_text())
    assert len(data["sweeps"]) == 1  # rewritten whole, with this sweep


def test_one_sweep_per_run_and_the_later_rates_follow_from_it(seg_project,
                                                              config_factory) -> None:
    messages: list[object] = []
    config = config_factory(lr=None, freeze_epochs=1, epochs=1, resize=[32, 40],
                            resize_epochs=1, lr_find_iters=SWEEP)
    learner = build_learner(seg_project, config, [ReportCallback(messages.append)])
    peaks: list[object] = []
    fit = learner.fit_one_cycle

    def spy(epochs: int, lr_max: object, **kw: object) -> None:
        peaks.append(lr_max)
        fit(epochs, lr_max, **kw)

    learner.fit_one_cycle = spy
    stages = stages_from_config(config, False)
    assert len(stages) == 3
    run_stages(learner, stages)
    assert len(sweeps_in(messages)) == 1
    valley = next(m for m in messages if isinstance(m, LRFindDone)).suggestions["valley"]
    fits = [m.stage for m in messages if isinstance(m, FitStarted)]
    assert fits == ["random init", "unfrozen", "40px"]
    assert peaks[0] == valley
    # Stages 2 and 3: the head at a fifth of it, the first layers a hundredth of that (the
    # recipe's rule, as for a typed max LR).
    for later in peaks[1:]:
        assert later[-1] == pytest.approx(valley / 5) and later[0] == pytest.approx(
            valley / 500)
    assert learner.config.extra["lr_found"] == {"random init": pytest.approx(valley)}


def test_a_sweep_before_each_stage_when_asked(seg_project, config_factory) -> None:
    messages: list[object] = []
    config = config_factory(lr=None, freeze_epochs=1, epochs=1, lr_find_iters=SWEEP,
                            lr_find_each_stage=True)
    learner = build_learner(seg_project, config, [ReportCallback(messages.append)])
    run_stages(learner, stages_from_config(config, False))
    assert len(sweeps_in(messages)) == 2


def test_the_next_run_reuses_the_sweep(seg_project, config_factory) -> None:
    config = config_factory(lr=None, lr_find_iters=SWEEP)
    first: list[object] = []
    train(seg_project, config, [ReportCallback(first.append)])
    second: list[object] = []
    train(seg_project, TrainConfig(**{**config.to_dict(), "extra": {}}),
          [ReportCallback(second.append)])
    assert len(sweeps_in(first)) == 1 and sweeps_in(second) == []
    done = [m for m in second if isinstance(m, LRFindDone)]
    assert done and done[0].cached


def test_a_resumed_run_keeps_the_rate_of_its_one_sweep(seg_project, config_factory) -> None:
    config = config_factory(lr=None, freeze_epochs=1, epochs=1, resize=[32, 40],
                            resize_epochs=1, lr_find_iters=SWEEP)

    def stop_at_second_stage(learn: object) -> None:
        if learn.stage_index == 1 and not learn.state.lr_find:
            learn.cancel()

    learner = build_learner(seg_project, config,
                            [FunctionCallback(before_fit=stop_at_second_stage)])
    run_stages(learner, stages_from_config(config, False))
    valley = learner.config.extra["lr_found"]["random init"]
    messages: list[object] = []
    resumed = resume_run(seg_project, learner.run_id, [ReportCallback(messages.append)])
    assert not [m for m in messages if isinstance(m, (LRFindStep, LRFindDone))]  # no sweep
    assert len(resumed.recorder.epochs) == 3 and resumed.data.size == 40
    ckpt = checkpoints.load(resumed.checkpoint_dir / checkpoints.LAST)
    assert ckpt["schedule"]["lr_max"][-1] == pytest.approx(valley / 5)
