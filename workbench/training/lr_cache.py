"""LR sweeps remembered per project: the same model, data and settings give the same curve, so
a second Start (or the Start after pressing “LR finder”) reuses it instead of sweeping again.

A sweep's key is a hash of everything its curve depends on: the model's weights as they are
now (so a fresh model with the same seed matches, a trained one does not) and which of them
train, the training images and their labels (names, file sizes and times, tag vectors), and
the settings (architecture, size, batch, augmentation, seed, weight decay, precision, device
type, sweep range and length). The results live in ``<project>/models/lr_finder_cache.json``
(the last :data:`KEEP` sweeps, written atomically; safe to delete).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from workbench.core.atomic import atomic_write_text
from workbench.training.distributed import active as distributed_active
from workbench.training.lr_find import LRFindResult

if TYPE_CHECKING:
    from workbench.training.learner import Learner

log = logging.getLogger(__name__)
CACHE_NAME = "lr_finder_cache.json"
KEEP = 20
FORMAT = 1


def cache_path(learner: Learner) -> Path | None:
    """Where ``learner``'s project keeps its sweeps; None without a project (or under DDP,
    where every rank must sweep together rather than each read a file on its own)."""
    project = getattr(learner, "project", None)
    if project is None or distributed_active():
        return None
    return Path(project.root) / "models" / CACHE_NAME


def _hash_weights(learner: Learner, h: Any) -> None:
    for name, tensor in learner.model.state_dict().items():
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        h.update(str(t.dtype).encode())
        h.update(_tensor_bytes(t))
    h.update(bytes(p.requires_grad for p in learner.model.parameters()))


def _tensor_bytes(t: torch.Tensor) -> bytes:
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: hash its bit pattern
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def _hash_data(learner: Learner, h: Any) -> None:
    spec = learner.spec
    names = list(spec.train_names) if spec is not None else list(learner.data.train_names)
    for name in names:
        h.update(name.encode())
        if spec is None:
            continue
        for path in (spec.image_paths.get(name), spec.mask_paths.get(name)):
            if path is not None:
                try:
                    st = Path(path).stat()
                except OSError:
                    h.update(b"missing")
                    continue
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        vec = spec.tag_vectors.get(name)
        if vec is not None:
            h.update(np.asarray(vec, np.float32).tobytes())


def sweep_key(learner: Learner, start_lr: float, end_lr: float, num_it: int) -> str:
    """The hash of everything an LR sweep on ``learner`` now would depend on."""
    cfg = learner.config
    settings = {
        "format": FORMAT, "arch": cfg.arch, "task": learner.data.task,
        "classes": list(learner.data.classes), "size": learner.data.size, "bs": learner.data.bs,
        "top_down": cfg.top_down, "seed": cfg.seed, "wd": learner.opt.param_groups[0].get(
            "weight_decay"), "precision": learner.precision.name,
        "device": learner.device.type, "range": [start_lr, end_lr, num_it],
        "frozen": learner.frozen,
    }
    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps(settings, sort_keys=True).encode())
    _hash_data(learner, h)
    _hash_weights(learner, h)
    return h.hexdigest()


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # a damaged cache is only a cache: sweep again
        log.warning("ignoring the LR finder cache %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    sweeps = data.get("sweeps")
    return sweeps if isinstance(sweeps, dict) else {}


def lookup(learner: Learner, key: str) -> LRFindResult | None:
    """The cached sweep for ``key``, or None."""
    path = cache_path(learner)
    if path is None:
        return None
    entry = _read(path).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        losses = [math.nan if v is None else float(v) for v in entry["losses"]]
        raw = [math.nan if v is None else float(v) for v in entry.get("raw_losses", [])]
        return LRFindResult([float(v) for v in entry["lrs"]], losses,
                            {k: float(v) for k, v in entry["suggestions"].items()}, raw,
                            cached=True)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def store(learner: Learner, key: str, result: LRFindResult) -> None:
    """Remember ``result`` under ``key`` (the newest :data:`KEEP` sweeps are kept). A cache
    that cannot be written is logged and left alone: it only saves time."""
    path = cache_path(learner)
    if path is None:
        return
    sweeps = _read(path)
    sweeps.pop(key, None)

    def finite(values: list[float]) -> list[float | None]:
        return [v if math.isfinite(v) else None for v in values]

    sweeps[key] = {"lrs": list(result.lrs), "losses": finite(result.losses),
                   "raw_losses": finite(result.raw_losses),
                   "suggestions": dict(result.suggestions), "time": time.time()}
    newest = sorted(sweeps.items(), key=lambda kv: kv[1].get("time", 0))[-KEEP:]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"format": FORMAT, "sweeps": dict(newest)}) + "\n")
    except OSError as exc:
        log.warning("could not write the LR finder cache %s: %s", path, exc)


def find_lr(learner: Learner, num_it: int | None = None, *, reuse: bool = True,
            start_lr: float | None = None, end_lr: float = 10.0) -> LRFindResult:
    """An LR sweep of ``num_it`` batches from ``start_lr`` (None: the learner's config's
    ``lr_find_iters`` / ``lr_find_start``) on ``learner`` as it is now: the cached one when the
    same sweep was run before (``reuse``; announced with AFTER_LR_FIND like a fresh one, with
    ``cached`` set), else a new sweep, which is then remembered."""
    from workbench.training.events import Event

    num_it = num_it or learner.config.lr_find_iters
    start_lr = start_lr or learner.config.lr_find_start
    key = sweep_key(learner, start_lr, end_lr, num_it) if cache_path(learner) else None
    if key is not None and reuse:
        hit = lookup(learner, key)
        if hit is not None:
            log.info("LR finder: reusing the sweep cached for this model, data and settings")
            learner.state.lr_find_result = hit
            learner.fire(Event.AFTER_LR_FIND, learner.sorted_callbacks())
            return hit
    result = learner.lr_find(start_lr, end_lr, num_it)
    if key is not None:
        store(learner, key, result)
    return result
