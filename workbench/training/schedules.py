"""Hyper-parameter schedules as pure functions of training progress ``p`` in [0, 1].

A schedule is any ``Callable[[float], float]``. One-cycle is two combined cosine schedules
(learning rate and momentum); the LR finder uses :func:`sched_exp`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Schedule = Callable[[float], float]


def sched_lin(start: float, end: float) -> Schedule:
    """Straight line from ``start`` (p=0) to ``end`` (p=1)."""
    return lambda p: start + p * (end - start)


def sched_cos(start: float, end: float) -> Schedule:
    """Half cosine from ``start`` to ``end``: flat at both ends, steepest in the middle."""
    return lambda p: start + (1 + math.cos(math.pi * (1 - p))) * (end - start) / 2


def sched_exp(start: float, end: float) -> Schedule:
    """Geometric interpolation: equal steps on a log scale (the LR finder's sweep)."""
    return lambda p: start * (end / start) ** p


def combine_scheds(pcts: Sequence[float], scheds: Sequence[Schedule]) -> Schedule:
    """Run ``scheds[i]`` over a fraction ``pcts[i]`` of training, each seeing its own 0..1.

    The boundary point belongs to the later phase, so ``p == pct_start`` gives that phase's
    start value (which equals the previous phase's end value for continuous schedules).
    """
    if len(pcts) != len(scheds) or not scheds:
        raise ValueError("combine_scheds needs one fraction per schedule")
    if abs(sum(pcts) - 1.0) > 1e-6 or any(pc < 0 for pc in pcts):
        raise ValueError(f"phase fractions must be >= 0 and sum to 1, got {list(pcts)}")
    bounds = [0.0]
    for pc in pcts:
        bounds.append(bounds[-1] + pc)

    def schedule(p: float) -> float:
        p = min(max(p, 0.0), 1.0)
        idx = len(scheds) - 1
        for i in range(len(scheds)):
            if p < bounds[i + 1] and pcts[i] > 0:
                idx = i
                break
        width = pcts[idx]
        local = (p - bounds[idx]) / width if width > 0 else 1.0
        return scheds[idx](min(max(local, 0.0), 1.0))

    return schedule


def one_cycle_lr(
    lr_max: float, div: float = 25.0, div_final: float = 1e5, pct_start: float = 0.25
) -> Schedule:
    """LR warm-up by cosine from ``lr_max/div`` to ``lr_max``, then cosine to ``lr_max/div_final``."""
    return combine_scheds(
        [pct_start, 1 - pct_start],
        [sched_cos(lr_max / div, lr_max), sched_cos(lr_max, lr_max / div_final)],
    )


def one_cycle_mom(
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95), pct_start: float = 0.25
) -> Schedule:
    """Momentum moves opposite to the LR: ``moms[0] -> moms[1]`` then back to ``moms[2]``."""
    return combine_scheds(
        [pct_start, 1 - pct_start],
        [sched_cos(moms[0], moms[1]), sched_cos(moms[1], moms[2])],
    )


def spread_lrs(lr: float | Sequence[float], n_groups: int) -> list[float]:
    """Discriminative learning rates, one per parameter group (early layers first).

    A ``(lo, hi)`` pair is spread geometrically from ``lo`` (earliest group) to ``hi`` (head);
    a single value gives the head that value and every earlier group a tenth of it; a sequence
    of exactly ``n_groups`` values is used as is.
    """
    if isinstance(lr, (int, float)):
        return [float(lr) / 10] * (n_groups - 1) + [float(lr)]
    values = [float(v) for v in lr]
    if len(values) == n_groups and n_groups != 2:
        return values
    if len(values) != 2:
        raise ValueError(f"expected one learning rate, a (lo, hi) pair or {n_groups} values")
    lo, hi = values
    if lo <= 0 or hi <= 0:
        raise ValueError(f"learning rates must be positive, got ({lo}, {hi})")
    if n_groups == 1:
        return [hi]
    return [lo * (hi / lo) ** (i / (n_groups - 1)) for i in range(n_groups)]
