"""The LR sweep reports every batch (LRFindStep) through the same ReportCallback as training,
so a window or terminal can show "batch i/n" and draw the curve while it runs."""

from __future__ import annotations

from workbench.training.reports import FitStarted, LRFindDone, LRFindStep, ReportCallback


def test_sweep_reports_each_step_then_the_result(make_learner):
    messages: list[object] = []
    learner = make_learner(callbacks=[ReportCallback(messages.append)])
    result = learner.lr_find(num_it=12, stop_div=False)
    steps = [m for m in messages if isinstance(m, LRFindStep)]
    # The batch that ends the sweep stops it before it is reported; LRFindDone has it all.
    assert len(steps) >= len(result.lrs) - 1 >= 10
    assert [s.iteration for s in steps] == list(range(1, len(steps) + 1))
    assert {s.num_it for s in steps} == {12}
    assert [s.lr for s in steps] == result.lrs[:len(steps)]
    assert [s.loss for s in steps] == result.losses[:len(steps)]
    assert isinstance(messages[-1], LRFindDone)
    assert not any(isinstance(m, FitStarted) for m in messages)  # not a training fit
