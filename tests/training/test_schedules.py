import math

import pytest

from workbench.training.schedules import (
    combine_scheds,
    one_cycle_lr,
    one_cycle_mom,
    sched_cos,
    sched_exp,
    sched_lin,
    spread_lrs,
)


def closed_form_cos(a: float, b: float, p: float) -> float:
    return a + (b - a) * (1 - math.cos(math.pi * p)) / 2


@pytest.mark.parametrize("p", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_basic_schedules_match_closed_forms(p: float) -> None:
    assert sched_lin(2, 4)(p) == pytest.approx(2 + 2 * p)
    assert sched_cos(1e-3, 1e-1)(p) == pytest.approx(closed_form_cos(1e-3, 1e-1, p))
    assert sched_exp(1e-7, 10)(p) == pytest.approx(1e-7 * (1e8) ** p)


def test_one_cycle_lr_boundaries_and_closed_form() -> None:
    lr_max, div, div_final, pct = 0.01, 25.0, 1e5, 0.25
    f = one_cycle_lr(lr_max, div, div_final, pct)
    assert f(0.0) == pytest.approx(lr_max / div)
    assert f(pct) == pytest.approx(lr_max)
    assert f(1.0) == pytest.approx(lr_max / div_final)
    for p in [0.05, 0.2, 0.3, 0.6, 0.95]:
        if p < pct:
            expected = closed_form_cos(lr_max / div, lr_max, p / pct)
        else:
            expected = closed_form_cos(lr_max, lr_max / div_final, (p - pct) / (1 - pct))
        assert f(p) == pytest.approx(expected)
    # continuous at the phase boundary
    assert f(pct - 1e-9) == pytest.approx(f(pct), rel=1e-6)


def test_one_cycle_momentum_goes_down_then_up() -> None:
    f = one_cycle_mom((0.95, 0.85, 0.95), 0.3)
    assert f(0) == pytest.approx(0.95)
    assert f(0.3) == pytest.approx(0.85)
    assert f(1) == pytest.approx(0.95)
    assert f(0.15) == pytest.approx(closed_form_cos(0.95, 0.85, 0.5))


def test_combine_rejects_bad_fractions_and_handles_zero_phase() -> None:
    with pytest.raises(ValueError):
        combine_scheds([0.5, 0.6], [sched_lin(0, 1), sched_lin(1, 0)])
    f = combine_scheds([0.0, 1.0], [sched_lin(5, 5), sched_lin(0, 1)])
    assert f(0.0) == 0.0 and f(0.5) == pytest.approx(0.5)


def test_spread_lrs() -> None:
    lo, hi = 1e-5, 1e-3
    assert spread_lrs((lo, hi), 3) == pytest.approx([1e-5, 1e-4, 1e-3])
    assert spread_lrs(0.01, 3) == pytest.approx([0.001, 0.001, 0.01])
    assert spread_lrs([1, 2, 3], 3) == [1, 2, 3]
    with pytest.raises(ValueError):
        spread_lrs((1e-3, -1), 3)
