"""Terminal sinks for report messages: a progress bar with a fast.ai-like epoch table, and a
JSON-lines log. Both consume :mod:`workbench.training.reports` messages, like the GUI does."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from typing import IO

from workbench.training.eta import RunEstimate
from workbench.training.reports import (
    BatchEnd,
    EpochEnd,
    FitEnded,
    FitStarted,
    LRFindDone,
    LRFindStep,
    Notice,
)

BAR_WIDTH = 30


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:.6f}" if abs(v) < 1000 else f"{v:.1f}"


class ConsoleProgress:
    """On a terminal, draws one line with the whole job's progress and what the window's bar
    says (``[####....] Stage 1 of 2 · epoch 2/3 · batch 3/4 · about 1 min left · loss
    0.1234``, the same :class:`RunEstimate`); prints one table row per epoch."""

    def __init__(self, stream: IO[str] | None = None, columns: list[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.columns = columns
        self.clock = clock
        self.estimate = RunEstimate(clock, predict_label="Predicting · image")
        self._last_draw = -math.inf
        self._names: list[str] = []
        self._loss = ""

    def __call__(self, msg: object) -> None:
        self.estimate(msg)
        if isinstance(msg, FitStarted):
            self._names = self.columns or [n for n in msg.metric_names
                                           if not n.startswith(("dice_", "iou_"))
                                           or n.endswith("_mean")]
            head = ["epoch", "train_loss", "valid_loss", *self._names, "time"]
            self._line(f"\nstage {msg.stage}: {msg.epochs} epoch(s) x {msg.batches_per_epoch} "
                       f"batches\n" + "  ".join(f"{h:>12}" for h in head) + "\n")
        elif isinstance(msg, BatchEnd):
            self._loss = f"loss {msg.smooth_loss:.4f}"
            self._draw(final=msg.iteration + 1 == msg.total_iters)
        elif isinstance(msg, LRFindStep):
            self._loss = ""
            self._draw(final=msg.iteration >= msg.num_it)
        elif isinstance(msg, EpochEnd):
            cells = [str(msg.epoch), _fmt(msg.train_loss), _fmt(msg.valid_loss)]
            cells += [_fmt(msg.metrics.get(n, math.nan)) for n in self._names]
            cells.append(f"{int(msg.seconds // 60):02d}:{int(msg.seconds % 60):02d}")
            self._line("  ".join(f"{c:>12}" for c in cells) + "\n")
        elif isinstance(msg, FitEnded):
            if msg.cancelled:
                self._line("\ncancelled; the last completed epoch's checkpoint is kept\n")
            elif msg.error:
                self._line(f"\nstopped: {msg.error}\n")
        elif isinstance(msg, Notice):
            prefix = "warning" if msg.level == "warning" else "note"
            self._line(f"{prefix}: {msg.text}\n")
        elif isinstance(msg, LRFindDone):
            sugg = ", ".join(f"{k} {v:.2e}" for k, v in msg.suggestions.items())
            self._line(f"LR finder: {len(msg.lrs)} steps; suggestions: {sugg}\n")

    def _draw(self, final: bool) -> None:
        """The progress line, at most ten times a second (a terminal only)."""
        now = self.clock()
        if not self.tty or (now - self._last_draw < 0.1 and not final):
            return
        self._last_draw = now
        bar = "#" * int(self.estimate.fraction() * BAR_WIDTH)
        text = " · ".join(t for t in (self.estimate.text(), self._loss) if t)
        self._write(f"\r[{bar:<{BAR_WIDTH}}] {text}\x1b[K")

    def _line(self, text: str) -> None:
        """Printed lines replace the progress line (redrawn at the next batch)."""
        self._write(("\r\x1b[K" if self.tty else "") + text)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _finite(rec: dict[str, object]) -> dict[str, object]:
    """NaN/inf are not JSON; write them as null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in rec.items()}


class JsonlLogger:
    """One JSON object per training batch and per epoch (and per stage start/end)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, msg: object) -> None:
        if isinstance(msg, BatchEnd):
            rec = {"type": "batch", "epoch": msg.epoch, "batch": msg.batch, "iter": msg.iteration,
                   "lr": msg.lr, "mom": msg.mom, "loss": msg.loss, "smooth_loss": msg.smooth_loss}
        elif isinstance(msg, EpochEnd):
            rec = {"type": "epoch", "epoch": msg.epoch, "train_loss": msg.train_loss,
                   "valid_loss": msg.valid_loss, **msg.metrics, "seconds": msg.seconds}
        elif isinstance(msg, FitStarted):
            rec = {"type": "stage", "stage": msg.stage, "epochs": msg.epochs,
                   "batches_per_epoch": msg.batches_per_epoch, "run_id": msg.run_id,
                   "total_iters": msg.total_iters, "metric_names": msg.metric_names}
        elif isinstance(msg, Notice):
            rec = {"type": "notice", "kind": msg.kind, "level": msg.level, "text": msg.text}
        elif isinstance(msg, FitEnded):
            rec = {"type": "end", "cancelled": msg.cancelled, "error": msg.error,
                   "best_metric": msg.best_metric}
        else:
            return
        self.stream.write(json.dumps(_finite(rec)) + "\n")
        self.stream.flush()
