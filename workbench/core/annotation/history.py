"""Undo/redo history whose memory is bounded in bytes, not in steps."""

from __future__ import annotations

from workbench.core.annotation.edit import Edit

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class EditHistory:
    """A linear undo stack of edits; the oldest are dropped once their total size exceeds
    ``max_bytes``. The newest edit is always kept, however large.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._edits: list[Edit] = []
        self._index = 0  # edits[:index] are done, edits[index:] can be redone
        self.nbytes = 0
        self.dropped = 0  # how many old steps were forgotten to stay within the budget

    def __len__(self) -> int:
        return len(self._edits)

    @property
    def index(self) -> int:
        return self._index

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._edits)

    def push(self, edit: Edit) -> int:
        """Record a done edit, discarding the redo tail; return how many old edits were dropped."""
        for gone in self._edits[self._index :]:
            self.nbytes -= gone.nbytes
        del self._edits[self._index :]
        self._edits.append(edit)
        self.nbytes += edit.nbytes
        evicted = 0
        while self.nbytes > self.max_bytes and len(self._edits) > 1:
            self.nbytes -= self._edits.pop(0).nbytes
            evicted += 1
        self._index = len(self._edits)
        self.dropped += evicted
        return evicted

    def undo(self) -> Edit | None:
        """The edit to revert, or None when there is nothing to undo."""
        if not self.can_undo():
            return None
        self._index -= 1
        return self._edits[self._index]

    def redo(self) -> Edit | None:
        """The edit to apply again, or None when there is nothing to redo."""
        if not self.can_redo():
            return None
        self._index += 1
        return self._edits[self._index - 1]

    def clear(self) -> None:
        self._edits.clear()
        self._index = 0
        self.nbytes = 0
