"""Checkpoint files: everything needed to predict with, export, or resume a run.

A checkpoint is a plain dict of tensors, numbers, strings and lists, written atomically, read
back with ``torch.load(weights_only=True)`` so no code from the file ever runs.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from workbench.core.atomic import atomic_write_bytes
from workbench.core.runs import MODEL_FILE
from workbench.training.distributed import unwrap
from workbench.training.errors import TrainingError

if TYPE_CHECKING:
    from workbench.training.learner import Learner

log = logging.getLogger(__name__)
LAST = MODEL_FILE
FORMAT = 1


def checkpoint_dict(learn: Learner, *, optimizer: bool = True,
                    threshold: float | None = None) -> dict[str, Any]:
    """``optimizer`` False: the model alone (a finished run), which cannot be resumed."""
    rec = learn.recorder
    st = learn.state
    schedule = dict(st.schedule)
    if schedule:
        schedule["epoch_done"] = st.epoch + 1
        schedule["stage_index"] = learn.stage_index
    return {
        "format": FORMAT,
        "run_id": learn.run_id,
        "task": learn.data.task,
        "classes": list(learn.data.classes),
        "colors": [list(c) for c in learn.data.colors],
        "arch": learn.config.arch,
        "size": learn.data.size,
        "config": learn.config.to_dict(),
        "frozen": learn.frozen,
        "model": unwrap(learn.model).state_dict(),  # no DDP "module." prefix
        "optimizer": learn.opt.state_dict() if optimizer else None,
        "scaler": learn.scaler.state_dict() if learn.scaler is not None and optimizer else None,
        "threshold": threshold,
        "schedule": schedule,
        "history": {
            "epochs": [dict(r) for r in rec.epochs], "lrs": list(rec.lrs), "moms": list(rec.moms),
            "losses": list(rec.losses), "smooth_losses": list(rec.smooth_losses),
        },
    }


def save(learn: Learner, path: Path, *, optimizer: bool = True,
         threshold: float | None = None) -> None:
    buf = io.BytesIO()
    torch.save(checkpoint_dict(learn, optimizer=optimizer, threshold=threshold), buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    log.debug("Saved checkpoint %s", path)


def load(path: Path | str) -> dict[str, Any]:
    """Read a checkpoint safely; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"checkpoint {path} does not exist; train a model first")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, foreign pickle, not a checkpoint
        raise TrainingError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "model" not in ckpt:
        raise TrainingError(f"{path} is not a Workbench checkpoint (format {FORMAT})")
    return ckpt


def load_into(learn: Learner, ckpt: dict[str, Any]) -> None:
    """Restore weights, optimizer, scaler, freeze state and recorded history."""
    if list(ckpt["classes"]) != list(learn.data.classes):
        raise TrainingError(
            f"checkpoint classes {ckpt['classes']} differ from the project's "
            f"{learn.data.classes}; start a new run instead of resuming"
        )
    if ckpt.get("optimizer") is None:
        raise TrainingError(f"run {ckpt.get('run_id')} finished: its checkpoint keeps only the "
                            "model, so there is nothing to resume")
    learn.model.load_state_dict(ckpt["model"])
    learn.opt.load_state_dict(ckpt["optimizer"])
    if learn.scaler is not None and ckpt.get("scaler"):
        learn.scaler.load_state_dict(ckpt["scaler"])
    if ckpt.get("frozen"):
        learn.freeze()
    else:
        learn.unfreeze()
    hist, rec = ckpt["history"], learn.recorder
    rec.epochs[:] = [dict(r) for r in hist["epochs"]]
    rec.lrs[:], rec.moms[:] = hist["lrs"], hist["moms"]
    rec.losses[:], rec.smooth_losses[:] = hist["losses"], hist["smooth_losses"]


def resume_fit(learn: Learner, path: Path | str) -> None:
    """Load ``path`` into ``learn`` and finish the one-cycle fit it was saved from: the
    schedule continues at the next epoch with the same lr/momentum curves."""
    ckpt = load(path)
    load_into(learn, ckpt)
    sched = ckpt.get("schedule") or {}
    if not sched:
        raise TrainingError(f"{path} was not saved during a one-cycle fit; nothing to resume")
    done = int(sched["epoch_done"])
    if done >= int(sched["epochs"]):
        log.info("Checkpoint %s already finished its %d epochs.", path, sched["epochs"])
        return
    learn.fit_one_cycle(
        int(sched["epochs"]), list(sched["lr_max"]), div=sched["div"],
        div_final=sched["div_final"], pct_start=sched["pct_start"], moms=tuple(sched["moms"]),
        wd=sched["wd"], start_epoch=done, stage=str(sched.get("stage", "fit")),
    )
