"""How a refit chooses its learning rate, and when its result is kept.

**Learning rate (measured).** A short LR sweep (``SWEEP_ITERS`` batches) on the refit's own
mix — the queue oversampled plus the replay sample — from the parent's weights, which
``lr_find`` restores afterwards. Its *edge* is the rate where the loss takes off: the running
median of 5 batch losses passes ``EDGE_RISE`` times its level at the start of the sweep. The head's rate is a tenth of the
edge, but never more than ``CAP`` (a tenth) of the head rate of the parent's last stage; the
other layer groups keep the parent's ratios to the head. ``--lr`` overrides the measurement.

Why this rule (benchmarks/refit_quality.py, README "Refit"): a refit fine-tunes trained weights
with a fresh optimizer, and its sweep is flat and noisy until it diverges, usually near the
parent's own rate or above. On both demos a tenth of the parent's rate improved the queued
images and kept validation, a third of it was borderline on the nuclei demo and the parent's
rate (or twice it, the old default) made validation worse. The sweep's one robust reading is
where the loss takes off, so it only ever lowers the rate below the cap. fastai's ``valley``
and ``minimum`` read a flat, noisy curve's noise: on the nuclei demo ``minimum`` took the
sweep's first point (2e-7) and ``valley`` once took 5e-6, a refit that learns nothing.

**Guard.** After the refit the validation images outside the queue are scored again. The refit
is rejected, and the parent stays the current model, when the task metric (Dice for masks, F2
at each run's own threshold for tags) falls by more than METRIC_TOLERANCE, or the validation
loss rises by more than LOSS_TOLERANCE of its value before. Without validation images outside
the queue there is nothing to compare: the refit is kept and the verdict says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.training.lr_find import LRFindResult

if TYPE_CHECKING:
    from workbench.training.learner import Learner

METRIC_TOLERANCE = 0.02
LOSS_TOLERANCE = 0.5
SWEEP_ITERS = 30
SWEEP_DECADES_BELOW, SWEEP_DECADES_ABOVE = 4, 2  # around the parent's head rate
CAP = 1 / 30  # of the parent's head rate
EDGE_RISE = 2.0  # the loss "takes off" at this multiple of its starting level
EDGE_WINDOW = 5
DEFAULT_RULE = "edge"
RULES = ("edge", "valley", "minimum", "steep")


@dataclass(frozen=True)
class RefitRate:
    """The refit's per-group max LRs and how they were chosen (stored with the run)."""

    lrs: list[float]
    rule: str  # "measured (edge)", "--lr", ...
    parent_lrs: list[float]
    sweep: dict[str, Any] | None = None  # suggestions and the sweep's range

    def to_json(self) -> dict[str, Any]:
        return {"lrs": self.lrs, "rule": self.rule, "parent_lrs": self.parent_lrs,
                "sweep": self.sweep}


def scaled(parent_lrs: Sequence[float], head: float, n_groups: int) -> list[float]:
    """Per-group rates with ``head`` for the last group and the parent's ratios below it."""
    if len(parent_lrs) != n_groups or not parent_lrs[-1]:
        return [float(head)] * n_groups
    return [float(v) * head / float(parent_lrs[-1]) for v in parent_lrs]


def edge(lrs: Sequence[float], raw_losses: Sequence[float]) -> float | None:
    """The rate where the loss takes off: the first whose running median of EDGE_WINDOW batch
    losses exceeds EDGE_RISE times the median of the sweep's first quarter. Medians, because a
    refit's batches differ a lot (one holding a queued image can cost five times another), and
    a single such batch is no divergence. None when the loss never takes off."""
    values = np.asarray(raw_losses, np.float64)
    n0 = max(EDGE_WINDOW, len(values) // 4)
    if len(values) <= n0:
        return None
    base = float(np.median(values[:n0]))
    for i in range(n0, len(values)):
        window = values[max(0, i - EDGE_WINDOW + 1):i + 1]
        if not np.isfinite(window).all() or np.median(window) > EDGE_RISE * base:
            return float(lrs[i])
    return None


def measured_rate(learner: Learner, parent_lrs: Sequence[float], rule: str = DEFAULT_RULE,
                  num_it: int = SWEEP_ITERS) -> RefitRate:
    """Sweep on the learner's current (refit) loaders and apply ``rule`` (``edge``: a tenth
    of the edge; the others: that suggestion), clamped to ``CAP`` of the parent's head."""
    if rule not in RULES:
        raise ValueError(f"unknown refit LR rule {rule!r}; use one of {', '.join(RULES)}")
    parent_head = float(parent_lrs[-1]) if parent_lrs else 1e-3
    start = parent_head * 10 ** -SWEEP_DECADES_BELOW
    result = learner.lr_find(start_lr=start, end_lr=parent_head * 10 ** SWEEP_DECADES_ABOVE,
                             num_it=num_it)
    found = edge(result.lrs, result.raw_losses or result.losses)
    suggestion = ((found / 10 if found is not None else math.inf) if rule == "edge"
                  else float(result.suggestions[rule]))
    head = min(suggestion, CAP * parent_head)
    sweep = {**_sweep_json(result, start), "edge": found}
    return RefitRate(scaled(parent_lrs, head, learner.n_groups), f"measured ({rule})",
                     list(parent_lrs), sweep)


def given_rate(lr: float, parent_lrs: Sequence[float], n_groups: int) -> RefitRate:
    return RefitRate(scaled(parent_lrs, lr, n_groups), "--lr", list(parent_lrs))


def _sweep_json(result: LRFindResult, start: float) -> dict[str, Any]:
    return {"suggestions": dict(result.suggestions), "start_lr": start,
            "end_lr": result.lrs[-1] if result.lrs else None, "iterations": len(result.lrs)}


@dataclass
class Verdict:
    """The guard's decision on a refit, with the numbers it was made on."""

    accepted: bool
    metric: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    kept_anyway: bool = False

    @property
    def metric_change(self) -> float | None:
        b, a = _finite(self.before.get(self.metric or "")), _finite(self.after.get(self.metric or ""))
        return None if b is None or a is None else a - b

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "metric": self.metric, "before": self.before,
                "after": self.after, "reasons": list(self.reasons),
                "kept_anyway": self.kept_anyway, "metric_tolerance": METRIC_TOLERANCE,
                "loss_tolerance": LOSS_TOLERANCE}


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def judge(before: dict[str, Any], after: dict[str, Any], metric: str,
          queue_before: dict[str, Any] | None = None,
          queue_after: dict[str, Any] | None = None) -> Verdict:
    """Compare validation scores (``evaluate``'s dicts) before and after a refit, and the
    queued images' scores when given: a refit must learn the corrections it was made for."""
    queue_reasons = _queue_not_improved(queue_before or {}, queue_after or {}, metric)
    if not before or not after:
        notes = ["no validation image outside the queue: nothing to compare"]
        return Verdict(not queue_reasons, metric, before, after, queue_reasons or notes)
    verdict = Verdict(True, metric, before, after, queue_reasons)
    change = verdict.metric_change
    if change is not None and change < -METRIC_TOLERANCE:
        verdict.reasons.append(f"validation {metric} fell by {-change:.3f} (more than "
                               f"{METRIC_TOLERANCE})")
    loss_b, loss_a = _finite(before.get("loss")), _finite(after.get("loss"))
    if loss_b is not None and (loss_a is None or loss_a > loss_b * (1 + LOSS_TOLERANCE)):
        ratio = None if loss_a is None else loss_a / loss_b
        rise = ("became non-finite" if ratio is None else
                f"rose {ratio - 1:.0%}" if ratio < 10 else f"rose {ratio:.3g}-fold")
        verdict.reasons.append(f"validation loss {rise} (more than {LOSS_TOLERANCE:.0%})")
    verdict.accepted = not verdict.reasons
    return verdict


def _queue_not_improved(before: dict[str, Any], after: dict[str, Any], metric: str) -> list[str]:
    """Why the queued images did not improve (their metric did not rise, or at an equal metric
    their loss did not fall), or nothing. A refit that leaves its corrections unlearned only
    risks the model: the parent is better kept and the items stay pending."""
    m_b, m_a = _finite(before.get(metric)), _finite(after.get(metric))
    l_b, l_a = _finite(before.get("loss")), _finite(after.get("loss"))
    if m_b is not None and m_a is not None:
        if m_a > m_b or (m_a == m_b and l_b is not None and l_a is not None and l_a < l_b):
            return []
        return [f"the queued images did not improve ({metric} {m_b:.3f} -> {m_a:.3f})"]
    if l_b is not None and l_a is not None and l_a >= l_b:
        return [f"the queued images did not improve (loss {l_b:.4f} -> {l_a:.4f})"]
    return []
