import copy
import math

import numpy as np
import pytest
import torch

from workbench.training.config import LR_FIND_START
from workbench.training.errors import TrainingCancelled, TrainingError
from workbench.training.events import FunctionCallback
from workbench.training.lr_find import (
    minimum,
    smoothing_for,
    steep,
    suggest,
    suggestion_series,
    valley,
)
from workbench.training.reports import LRFindDone, ReportCallback


def _assert_same(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def test_lr_find_restores_model_and_optimizer_bit_for_bit(make_learner) -> None:
    messages: list[object] = []
    learn = make_learner(callbacks=[ReportCallback(messages.append)])
    learn.fit_one_cycle(1, 1e-3)  # so the optimizer has moments to restore
    model_before = copy.deepcopy(learn.model.state_dict())
    opt_before = copy.deepcopy(learn.opt.state_dict())
    n_losses = len(learn.recorder.losses)
    res = learn.lr_find(num_it=12)
    _assert_same(model_before, learn.model.state_dict())
    _assert_same(opt_before, learn.opt.state_dict())
    assert len(learn.recorder.losses) == n_losses  # the sweep is not training history
    assert len(res.lrs) == len(res.losses) == 12  # more than one epoch of 2 batches
    assert res.lrs[0] == pytest.approx(LR_FIND_START) and res.lrs[-1] == pytest.approx(10.0)
    assert np.all(np.diff(np.log(res.lrs)) > 0)
    assert set(res.suggestions) == {"valley", "steep", "minimum"}
    assert next(m for m in messages if isinstance(m, LRFindDone)).suggestions == res.suggestions


def test_lr_find_stops_when_loss_diverges(make_learner) -> None:
    learn = make_learner()
    res = learn.lr_find(start_lr=1e-4, end_lr=1e6, num_it=80)
    assert len(res.lrs) < 80
    last = res.losses[-1]
    best = min(v for v in res.losses if math.isfinite(v))
    assert not math.isfinite(last) or last > 4 * best


def test_lr_find_cancel_restores_and_raises(make_learner) -> None:
    def after_batch(learn):
        if learn.state.train_iter == 3:
            learn.cancel()

    cb = FunctionCallback(after_batch=after_batch)
    cb.during_lr_find = True
    learn = make_learner(callbacks=[cb])
    before = copy.deepcopy(learn.model.state_dict())
    with pytest.raises(TrainingCancelled):
        learn.lr_find(num_it=20)
    _assert_same(before, learn.model.state_dict())


def test_valley_on_a_constructed_curve() -> None:
    lrs = np.logspace(-6, 0, 61)
    x = np.log10(lrs)
    # rises to index 10, falls steadily to index 40, then shoots up
    losses = np.where(x < -5, 2.0 + (x + 6), np.where(x <= -2, 3.0 - (x + 5) * 0.8, 0.6 + (x + 2) ** 2 * 5))
    s, e = 10, 40
    assert np.all(np.diff(losses[s:e + 1]) < 0)
    sections = (e - s + 1) / 3
    expected = s - 1 + int(sections) + int(sections / 2)
    assert valley(lrs, losses) == pytest.approx(lrs[expected])
    assert lrs[s] < valley(lrs, losses) < lrs[e]


def test_steep_and_minimum_rules() -> None:
    lrs = np.logspace(-5, -1, 41)
    losses = 1.0 / (1 + np.exp(6 * (np.log10(lrs) + 3)))  # sigmoid drop centred at 1e-3
    losses[-5:] += np.linspace(0.5, 3, 5)
    assert steep(lrs, losses) == pytest.approx(1e-3, rel=0.3)
    lo = int(np.argmin(losses))
    assert minimum(lrs, losses) == pytest.approx(lrs[lo] / 10)


def test_steep_ignores_drops_after_the_minimum() -> None:
    # A divergence spike that falls back again has a steeper drop than the real learning slope.
    lrs = np.logspace(-5, 1, 61)
    losses = np.linspace(2.0, 1.0, 61)
    losses[45:] = 1.5 + np.array([3.0, 0.0] * 8)[:16]
    assert int(np.argmin(losses)) == 44
    assert steep(lrs, losses) < lrs[45]


def test_series_drops_first_tenth_last_five_and_cuts_at_nan() -> None:
    lrs = list(np.logspace(-7, 1, 50))
    losses = list(np.linspace(3, 1, 50))
    losses[30] = float("nan")
    lr_s, loss_s = suggestion_series(lrs, losses)
    assert lr_s[0] == lrs[5] and len(lr_s) == 25  # indices 5..29
    assert np.all(np.isfinite(loss_s))
    full = suggest(lrs, losses)
    assert lrs[5] <= full["valley"] <= lrs[29]


def test_too_short_series_is_an_error() -> None:
    with pytest.raises(TrainingError, match="usable"):
        suggest([1e-3], [float("nan")])


def test_a_shorter_sweep_smooths_over_the_same_span_of_learning_rates() -> None:
    assert smoothing_for(100, 1e-7, 10.0) == pytest.approx(0.98)  # fastai's sweep
    # The EMA's memory, in decades of learning rate: the same for any length and range.
    def memory_decades(n: int, start: float) -> float:
        return 1 / (1 - smoothing_for(n, start)) / (n / math.log10(10.0 / start))

    assert memory_decades(20, 1e-5) == pytest.approx(memory_decades(100, 1e-7), rel=0.05)
    assert smoothing_for(20, 1e-5) < smoothing_for(30, 1e-5) < 0.98
