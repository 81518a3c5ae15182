"""The Learner loop: events, recording, one-cycle, freezing, NaN, cancel, OOM retry."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.training import checkpoints
from workbench.training.callbacks import SmoothLoss
from workbench.training.errors import NonFiniteLossError, NotEnoughLabelsError, OutOfMemoryError
from workbench.training.events import Callback, Event, FunctionCallback
from workbench.training.reports import (
    BatchEnd,
    EpochEnd,
    FitEnded,
    FitStarted,
    Notice,
    ReportCallback,
)
from workbench.training.schedules import one_cycle_lr, one_cycle_mom


class EventLog(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def __call__(self, event: Event, learn) -> None:
        self.events.append(event.value)


def test_event_order_and_recorder(make_learner) -> None:
    log = EventLog()
    learn = make_learner(callbacks=[log])
    learn.fit_one_cycle(2, 1e-3)
    n = len(learn.data.train_dl)
    # Setup notices (e.g. "training on the CPU" with a CUDA build) come when the learner is
    # built, before any fit; the fit's own events follow in order.
    ev = [e for e in log.events if e != "notice"]
    assert ev[0] == "before_fit" and ev[-1] == "after_fit"
    assert ev.count("before_epoch") == 2 and ev.count("before_step") == 2 * n
    first_batch = ev[ev.index("before_batch"):ev.index("after_batch") + 1]
    assert first_batch == ["before_batch", "after_pred", "after_loss", "before_step",
                           "after_step", "after_batch"]
    assert ev.index("before_validate") > ev.index("after_train")
    rec = learn.recorder
    assert len(rec.lrs) == len(rec.moms) == len(rec.losses) == len(rec.smooth_losses) == 2 * n
    assert [r["epoch"] for r in rec.epochs] == [0, 1]
    assert {"train_loss", "valid_loss", "dice_mean", "pixel_acc", "time"} <= set(rec.epochs[0])


def test_recorded_lr_and_momentum_follow_one_cycle(make_learner) -> None:
    learn = make_learner()
    learn.fit_one_cycle(3, 2e-3, pct_start=0.3)
    total = len(learn.recorder.lrs)
    f_lr, f_mom = one_cycle_lr(2e-3, 25, 1e5, 0.3), one_cycle_mom((0.95, 0.85, 0.95), 0.3)
    for i in range(total):
        assert learn.recorder.lrs[i] == pytest.approx(f_lr(i / total))
        assert learn.recorder.moms[i] == pytest.approx(f_mom(i / total))
    assert learn.opt.defaults["weight_decay"] == 0.01  # AdamW, decoupled decay


def test_smooth_loss_is_debiased_ema(make_learner) -> None:
    learn = make_learner()
    learn.fit_one_cycle(1, 1e-3)
    sm = SmoothLoss(0.98)
    expected = [sm.update(v) for v in learn.recorder.losses]
    assert learn.recorder.smooth_losses == pytest.approx(expected)
    assert learn.recorder.smooth_losses[0] == pytest.approx(learn.recorder.losses[0])


def test_discriminative_lrs_reach_each_group(make_learner) -> None:
    learn = make_learner()
    learn.fit_one_cycle(1, (1e-5, 1e-3), pct_start=0.99)
    peaks = [g["lr"] for g in learn.opt.param_groups]  # at p ~ 1 - 1/n, near each group's max
    assert peaks[0] < peaks[1] < peaks[2]
    assert peaks[2] / peaks[0] == pytest.approx(100, rel=1e-6)


def test_freeze_leaves_encoder_weights_untouched_but_trains_bn(make_learner) -> None:
    learn = make_learner()
    learn.freeze()
    conv = learn.model.encoder.layer2[0].conv1.weight.detach().clone()
    bn = learn.model.encoder.layer2[0].bn1.weight.detach().clone()
    head = learn.model.head.weight.detach().clone()
    learn.fit_one_cycle(1, 1e-2)
    assert torch.equal(conv, learn.model.encoder.layer2[0].conv1.weight)
    assert not torch.equal(bn, learn.model.encoder.layer2[0].bn1.weight)
    assert not torch.equal(head, learn.model.head.weight)
    learn.unfreeze()
    learn.fit_one_cycle(1, 1e-2)
    assert not torch.equal(conv, learn.model.encoder.layer2[0].conv1.weight)


def test_nan_loss_stops_with_the_batch_number_and_keeps_last_checkpoint(make_learner) -> None:
    learn = make_learner()
    n = len(learn.data.train_dl)
    calls = {"i": 0}
    real = learn.loss_func

    def poisoned(pred, targ):
        loss = real(pred, targ)
        if pred.requires_grad:
            calls["i"] += 1
            if calls["i"] == n + 2:  # second batch of the second epoch
                return loss * float("nan")
        return loss

    learn.loss_func = poisoned
    messages: list[object] = []
    learn.add_callback(ReportCallback(messages.append))
    with pytest.raises(NonFiniteLossError, match="epoch 2, batch 2") as info:
        learn.fit_one_cycle(3, 1e-3)
    assert (info.value.epoch, info.value.batch) == (1, 1)
    ckpt = checkpoints.load(learn.checkpoint_dir / checkpoints.LAST)
    assert ckpt["schedule"]["epoch_done"] == 1
    assert all(math.isfinite(v) for v in learn.recorder.losses)
    ended = [m for m in messages if isinstance(m, FitEnded)]
    assert ended and "batch 2" in ended[0].error and not ended[0].cancelled
    run = learn.project.db.get_run(learn.run_id)
    assert run.status.value == "failed" and "batch 2" in run.error


def test_cancel_stops_within_one_batch(make_learner) -> None:
    def after_batch(learn):
        if learn.state.training and learn.state.epoch == 1 and learn.state.iter == 0:
            learn.cancel()

    messages: list[object] = []
    learn = make_learner(callbacks=[FunctionCallback(after_batch=after_batch),
                                    ReportCallback(messages.append)])
    n = len(learn.data.train_dl)
    learn.fit_one_cycle(3, 1e-3)
    assert len(learn.recorder.losses) == n + 1  # stopped right after the requested batch
    assert learn.state.cancelled
    messages = [m for m in messages if not isinstance(m, Notice)]  # setup notices come first
    assert isinstance(messages[0], FitStarted) and isinstance(messages[-1], FitEnded)
    assert messages[-1].cancelled and messages[-1].error is None
    assert sum(isinstance(m, EpochEnd) for m in messages) == 1
    assert sum(isinstance(m, BatchEnd) for m in messages) == n + 1
    assert checkpoints.load(learn.checkpoint_dir / "last.pt")["schedule"]["epoch_done"] == 1
    assert learn.project.db.get_run(learn.run_id).status.value == "cancelled"


def test_out_of_memory_retries_at_half_batch(make_learner) -> None:
    def before_batch(learn):
        if learn.data.bs == 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")

    learn = make_learner(callbacks=[FunctionCallback(before_batch=before_batch)])
    learn.fit_one_cycle(1, 1e-3)
    assert learn.data.bs == 2
    assert len(learn.recorder.epochs) == 1
    assert len(learn.recorder.losses) == len(learn.data.train_dl)


def test_out_of_memory_restores_weights_and_optimizer(make_learner) -> None:
    """OOM part way through (after steps changed weights and optimizer state): the retry must
    start from exactly the state the fit started with, at half the batch size."""
    seen: dict[str, object] = {}

    def before_epoch(learn):
        if learn.state.epoch == 1 and learn.data.bs == 4:
            seen["changed"] = not torch.equal(learn.model.head.weight, start["head"])
            seen["opt_state"] = len(learn.opt.state)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    def before_fit(learn):
        if learn.data.bs == 2:  # the retry
            seen["restored"] = torch.equal(learn.model.head.weight, start["head"])
            seen["retry_opt_state"] = len(learn.opt.state)

    messages: list[object] = []
    learn = make_learner(callbacks=[FunctionCallback(before_epoch=before_epoch,
                                                     before_fit=before_fit),
                                    ReportCallback(messages.append)])
    learn.snapshot_weights = True  # what CUDA does; on the CPU only when asked
    start = {"head": learn.model.head.weight.detach().clone()}
    learn.fit_one_cycle(2, 1e-3)
    assert seen["changed"] and seen["opt_state"] > 0  # the first attempt did train
    assert seen["restored"] and seen["retry_opt_state"] == 0
    assert learn.data.bs == 2 and len(learn.recorder.epochs) == 2
    cut = [m for m in messages if isinstance(m, Notice) and m.kind == "batch_size"]
    assert len(cut) == 1 and "cut to 2" in cut[0].text


def test_snapshot_restore_round_trip(make_learner) -> None:
    learn = make_learner()
    snap = learn.snapshot()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    learn.fit_one_cycle(1, 1e-2)
    assert any(not torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    learn.restore(snap)
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    assert len(learn.opt.state) == 0 and learn.recorder.losses == []


def test_out_of_memory_twice_gives_clear_message(make_learner) -> None:
    def before_batch(learn):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    learn = make_learner(callbacks=[FunctionCallback(before_batch=before_batch)])
    with pytest.raises(OutOfMemoryError, match="batch size 2.*--bs"):
        learn.fit_one_cycle(1, 1e-3)


def test_not_enough_labels(seg_project, config_factory) -> None:
    from workbench.training.session import build_learner

    for name in seg_project.image_names()[1:]:
        seg_project.clear_label(name)
    with pytest.raises(NotEnoughLabelsError, match="1 labelled image") as info:
        build_learner(seg_project, config_factory())
    assert info.value.labelled == 1


def test_one_training_image_is_not_enough(seg_project, config_factory) -> None:
    # BatchNorm cannot train on a batch of one: ask for labels instead of crashing mid-fit.
    from workbench.training.session import build_learner

    for name in seg_project.image_names()[2:]:
        seg_project.clear_label(name)
    assert [len(s) for s in seg_project.split()] == [1, 1]
    with pytest.raises(NotEnoughLabelsError, match="1 for training.*at least 3") as info:
        build_learner(seg_project, config_factory())
    assert info.value.labelled == 2 and info.value.needed == 3


def test_ctrl_c_is_recorded_as_cancelled(make_learner) -> None:
    def before_batch(learn):
        if learn.state.train_iter == 1:
            raise KeyboardInterrupt

    learn = make_learner(callbacks=[FunctionCallback(before_batch=before_batch)])
    with pytest.raises(KeyboardInterrupt):
        learn.fit_one_cycle(2, 1e-3)
    assert learn.state.cancelled
    assert learn.project.db.get_run(learn.run_id).status.value == "cancelled"
