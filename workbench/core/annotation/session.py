"""Editing one image's mask safely: document + undo history + crash journal + saving.

Everything that decides *what* is kept and *when* it reaches disk lives here, without Qt, so it
can be tested headless; the Qt workspace only adds timers and widgets on top.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from workbench.core.annotation.document import MaskDocument
from workbench.core.annotation.edit import Edit, diff_edit
from workbench.core.annotation.history import DEFAULT_MAX_BYTES, EditHistory
from workbench.core.annotation.journal import (
    UNKNOWN_BASE,
    StrokeJournal,
    journal_path,
    mask_fingerprint,
    set_aside,
)
from workbench.core.annotation.predictions import newest_prediction, read_prediction
from workbench.core.errors import MaskError
from workbench.core.imageio import UNLABELLED_VALUE

log = logging.getLogger(__name__)

#: Save this long after the last edit at the latest ...
AUTOSAVE_DELAY_S = 2.0
#: ... and no later than this after the first unsaved edit, even while the user keeps painting.
AUTOSAVE_MAX_DELAY_S = 10.0


class MaskStore(Protocol):
    """The part of :class:`workbench.core.project.Project` a session needs."""

    root: Path
    classes: list[str]

    def read_mask(self, name: str) -> np.ndarray | None: ...

    def write_mask(self, name: str, mask: np.ndarray) -> None: ...


class AutosavePolicy:
    """When to save: ``delay_s`` after the last edit, but at most ``max_delay_s`` after the first."""

    def __init__(self, delay_s: float = AUTOSAVE_DELAY_S, max_delay_s: float = AUTOSAVE_MAX_DELAY_S):
        self.delay_s = delay_s
        self.max_delay_s = max_delay_s
        self._first: float | None = None
        self._last: float | None = None

    def note_edit(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._first = now if self._first is None else self._first
        self._last = now

    def note_saved(self) -> None:
        self._first = self._last = None

    def seconds_until_save(self, now: float | None = None) -> float | None:
        """Seconds left before a save is due (0 = now), None when nothing is pending."""
        if self._first is None or self._last is None:
            return None
        now = time.monotonic() if now is None else now
        due = min(self._last + self.delay_s, self._first + self.max_delay_s)
        return max(0.0, due - now)


class AnnotationSession:
    """One open image's mask. Every finished edit is journalled before this returns, the mask is
    written by :meth:`save`, and an interrupted earlier session is recovered on open.
    """

    def __init__(
        self,
        store: MaskStore,
        name: str,
        shape: tuple[int, int],
        *,
        max_history_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.store = store
        self.name = name
        num_classes = len(store.classes)
        saved = store.read_mask(name)
        if saved is None:
            self.document = MaskDocument.blank(shape[0], shape[1], num_classes)
        else:
            self.document = MaskDocument(saved.copy(), num_classes)
        self.history = EditHistory(max_history_bytes)
        # A team project journals into this user's local folder, not the shared one.
        root = getattr(store, "local_root", store.root)
        self.journal = StrokeJournal(journal_path(root, name), self.document.shape,
                                     base=mask_fingerprint(saved), num_classes=num_classes)
        self.journal.claim()
        self.autosave = AutosavePolicy()
        #: Set when a journal found on open could not be replayed: where it was moved and why.
        self.set_aside_message: str | None = None
        self.recovered = self._recover()

    @property
    def mask(self) -> np.ndarray:
        return self.document.mask

    def _recover(self) -> int:
        """Replay a journal left by a session that ended without saving; save the result.

        A journal that cannot be read, that is a symbolic link, or that was recorded against
        another mask than the one saved now (replaced by an import or feedback since) is set
        aside, never replayed: its strokes would land on the wrong picture.
        """
        if not self.journal.exists():
            return 0
        why = "unreadable"
        try:
            recorded = self.journal.recorded_base()
            if recorded not in (UNKNOWN_BASE, self.journal.base):
                why = "stale"
                raise MaskError(f"{self.name}: the saved mask was replaced after these strokes "
                                "were painted, so they were not applied")
            records = self.journal.read()
        except MaskError as exc:
            self._set_aside(why, str(exc))
            return 0
        for regions in records:
            for (y0, x0, y1, x1), values in regions:
                self.document.mask[y0:y1, x0:x1] = values
        if records:
            log.warning("%s: recovered %d unsaved edit(s) from the journal", self.name,
                        len(records))
            self.document.dirty = True
            self.save()
        else:
            self.journal.clear()
        return len(records)

    def _set_aside(self, why: str, problem: str) -> None:
        path = self.journal.path
        try:
            aside = set_aside(path, why)
        except OSError as exc:
            self.set_aside_message = f"{problem}; could not move {path} aside ({exc})"
        else:
            self.set_aside_message = f"{problem}; the journal was kept as {aside}"
        log.error("%s", self.set_aside_message)

    def _journal(self, edit: Edit, *, undone: bool = False) -> None:
        self.journal.append(
            (part.bbox, part.old if undone else part.new) for part in edit.parts()
        )
        self.autosave.note_edit()

    def commit(self, edit: Edit) -> int:
        """Record an edit that is already in the mask (a finished brush stroke).

        Returns the number of old undo steps dropped to stay within the memory budget.
        """
        self.document.touch(edit.bbox)
        self._journal(edit)
        return self.history.push(edit)

    def do(self, edit: Edit) -> int:
        """Apply a tool's edit to the mask and record it as one undo step."""
        self.document.apply(edit)
        return self.commit(edit)

    def undo(self) -> Edit | None:
        edit = self.history.undo()
        if edit is not None:
            self.document.revert(edit)
            self._journal(edit, undone=True)
        return edit

    def redo(self) -> Edit | None:
        edit = self.history.redo()
        if edit is not None:
            self.document.apply(edit)
            self._journal(edit)
        return edit

    def prediction_edit(self, prefer: str | None = None) -> Edit | None:
        """Edit replacing the mask by the model's prediction: run ``prefer``'s (the current
        model) if it predicted this image, else the newest (None if there is none)."""
        path = newest_prediction(self.store.root, self.name, prefer)
        if path is None:
            return None
        pred = read_prediction(path, self.document.shape, self.document.num_classes)
        return diff_edit(self.document.mask, pred)

    @property
    def dirty(self) -> bool:
        return self.document.dirty

    def save(self) -> bool:
        """Write the mask atomically if it changed, then drop the journal. True if written."""
        if not self.document.dirty:
            return False
        self.store.write_mask(self.name, self.document.mask)
        # Only after the mask is safely on disk may the journal go; the next one starts from it.
        self.journal.clear()
        # A mask of only "not labelled" is stored as no mask file at all (write_mask).
        blank = bool((self.document.mask == UNLABELLED_VALUE).all())
        self.journal.base = None if blank else mask_fingerprint(self.document.mask)
        self.document.mark_saved()
        self.autosave.note_saved()
        return True

    def settle_refused(self) -> None:
        """The store refused the save and kept this mask elsewhere (a team project's conflict
        copy, for review): nothing is pending any more, so drop the journal."""
        self.journal.clear()
        self.document.mark_saved()
        self.autosave.note_saved()

    def close(self) -> None:
        """Save pending changes and release the journal file."""
        self.save()
        self.journal.close()
