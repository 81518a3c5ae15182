"""The corrections queue: images a person corrected, waiting for a refit on them.

A plain object over ``workbench.db`` (no Qt, no torch). The GUI's queue panel is an item model
over it and the CLI's ``workbench queue`` calls it; both see the same rows. Items are never
deleted by a refit: they are marked used by the run that consumed them, so the history of what
fed which model stays readable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.store import ProjectStore


@dataclass(frozen=True)
class QueueItem:
    """One queued correction.

    ``change`` says what the person changed: ``{"pixels": {class: n, ...}, "total": n}`` for a
    mask (pixels that now carry each class and did not before), ``{"added": [...],
    "removed": [...]}`` for tags, ``{}`` when unknown (added by hand).
    """

    id: int
    image: str
    reason: str
    score: float | None
    added_at: float
    run_id: str | None = None
    change: dict[str, Any] = field(default_factory=dict)
    used_by: str | None = None

    @property
    def used(self) -> bool:
        return self.used_by is not None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "image": self.image, "reason": self.reason, "score": self.score,
                "added_at": self.added_at, "run": self.run_id, "change": self.change,
                "used_by": self.used_by}


def mask_change(old: np.ndarray | None, new: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Pixels whose label changed, counted by the class they now carry (and erased ones)."""
    new = np.asarray(new)
    changed = np.ones(new.shape, bool) if old is None else np.asarray(old) != new
    values, counts = np.unique(new[changed], return_counts=True)
    pixels: dict[str, int] = {}
    for value, count in zip(values.tolist(), counts.tolist()):
        key = "unlabelled" if value == UNLABELLED_VALUE or value >= len(classes) else classes[value]
        pixels[key] = pixels.get(key, 0) + int(count)
    return {"pixels": pixels, "total": int(changed.sum())}


def tag_change(old: Iterable[str], new: Iterable[str]) -> dict[str, Any]:
    before, after = list(dict.fromkeys(old)), list(dict.fromkeys(new))
    return {"added": [t for t in after if t not in before],
            "removed": [t for t in before if t not in after]}


def describe_change(change: dict[str, Any]) -> str:
    """One short line for a list row: '+120 px nucleus, −30 px background' or '+cat −dog'."""
    if "pixels" in change:
        parts = [f"{n:,} px {name}" for name, n in
                 sorted(change["pixels"].items(), key=lambda kv: -kv[1])]
        return ", ".join(parts) if parts else "no pixel changed"
    if "added" in change or "removed" in change:
        parts = [f"+{t}" for t in change.get("added", [])]
        parts += [f"−{t}" for t in change.get("removed", [])]
        return " ".join(parts) if parts else "no tag changed"
    return ""


class RefitQueue:
    """The project's corrections queue. Thread-safe through its store (:class:`ProjectStore`).

    ``subscribe(callback)`` calls ``callback()`` after every change made through *this* object
    (the GUI model refreshes on it); it returns a function that unsubscribes.
    """

    def __init__(self, db: ProjectStore) -> None:
        self._db = db
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------
    def items(self, *, include_used: bool = True) -> list[QueueItem]:
        """In queue order (pending and used alike, as the person arranged them)."""
        items = [_item(row) for row in self._db.queue_list()]
        return items if include_used else [i for i in items if not i.used]

    def pending(self) -> list[QueueItem]:
        return self.items(include_used=False)

    def get(self, item_id: int) -> QueueItem | None:
        return next((i for i in self.items() if i.id == item_id), None)

    def __len__(self) -> int:
        return len(self.pending())

    # -- writing ---------------------------------------------------------------------------
    def add(self, image: str, *, reason: str = "", score: float | None = None,
            run_id: str | None = None, change: dict[str, Any] | None = None) -> QueueItem:
        """Queue ``image``. A pending item for the same image is replaced, not doubled."""
        old = [i.id for i in self.pending() if i.image == image]
        if old:
            self._db.queue_remove_many(old)
        new_id = self._db.queue_add(image, reason, score, run_id=run_id, change=change or {})
        self._notify()
        item = self.get(new_id)
        assert item is not None
        return item

    def add_many(self, entries: Iterable[dict[str, Any]], *, notify: bool = True
                 ) -> list[QueueItem]:
        """Queue several images in one database transaction (each entry holds :meth:`add`'s
        keyword arguments plus ``image``). With notify=False the caller notifies (via
        :meth:`changed`) once its own enclosing transaction has committed."""
        with self._db.write():
            pending = {i.image: i.id for i in self.pending()}
            ids = []
            for entry in entries:
                image = entry["image"]
                if image in pending:
                    self._db.queue_remove_many([pending.pop(image)])
                ids.append(self._db.queue_add(image, entry.get("reason", ""), entry.get("score"),
                                              run_id=entry.get("run_id"),
                                              change=entry.get("change") or {}))
            by_id = {i.id: i for i in self.items()}
        if notify:
            self._notify()
        return [by_id[i] for i in ids]

    def changed(self) -> None:
        """Tell the listeners the queue changed (after an add_many(notify=False))."""
        self._notify()

    def remove(self, ids: Iterable[int]) -> None:
        self._db.queue_remove_many(list(ids))
        self._notify()

    def clear(self) -> None:
        """Remove every pending item; used ones stay as the record of past refits."""
        self._db.queue_remove_many([i.id for i in self.pending()])
        self._notify()

    def move(self, item_id: int, row: int) -> None:
        """Move one item to ``row`` of :meth:`items` (clamped)."""
        ids = [i.id for i in self.items()]
        if item_id not in ids:
            raise KeyError(item_id)
        ids.remove(item_id)
        ids.insert(max(0, min(row, len(ids))), item_id)
        self._db.queue_set_positions({i: float(n + 1) for n, i in enumerate(ids)})
        self._notify()

    def mark_used(self, ids: Iterable[int], run_id: str) -> None:
        self._db.queue_mark_used(list(ids), run_id)
        self._notify()

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            callback()


def _item(row: dict[str, Any]) -> QueueItem:
    return QueueItem(id=int(row["id"]), image=row["name"], reason=row["reason"] or "",
                     score=row["score"], added_at=float(row["added_at"]),
                     run_id=row.get("run_id"), change=row.get("change") or {},
                     used_by=row.get("used_by"))
