"""QUndoStack commands wrapping core mask and tag edits; mask undo memory is bounded in bytes.

The core :class:`EditHistory` of the session does the byte accounting; when it forgets old
edits, the matching commands are marked obsolete so QUndoStack drops them when reached.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from workbench.core.annotation import AnnotationSession, BBox, Edit, TagEdit


class MaskEditCommand(QUndoCommand):
    """One undo step: a brush stroke, fill, polygon or "start from prediction".

    Created only after the session has recorded ``edit`` (see :meth:`MaskUndoStack.push_edit`).
    """

    def __init__(self, session: AnnotationSession, edit: Edit, text: str,
                 on_change: Callable[[BBox], None]) -> None:
        super().__init__(text)
        self.session = session
        self.edit = edit
        self._on_change = on_change
        self._skip_redo = True
        self.evicted = False

    def redo(self) -> None:
        if self._skip_redo:
            # The first redo() is QUndoStack.push(); the session has recorded the edit already.
            self._skip_redo = False
            return
        if self.evicted:
            return
        edit = self.session.redo()
        assert edit is self.edit, "undo stack and edit history out of step"
        self._on_change(edit.bbox)

    def undo(self) -> None:
        if self.evicted:
            return
        edit = self.session.undo()
        assert edit is self.edit, "undo stack and edit history out of step"
        self._on_change(edit.bbox)


class MaskUndoStack(QUndoStack):
    """QUndoStack that keeps commands in step with the session's byte-bounded history."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._live: list[MaskEditCommand] = []

    def push_edit(
        self,
        session: AnnotationSession,
        edit: Edit,
        text: str,
        on_change: Callable[[BBox], None],
        *,
        already_applied: bool,
    ) -> None:
        """Record ``edit`` in the session (applying it unless done) and push its command."""
        # Commands above the current index are about to be discarded by push(); forgotten
        # (obsolete) commands only ever sit at the bottom of the stack.
        evicted = session.commit(edit) if already_applied else session.do(edit)
        forgotten = self.count() - len(self._live)
        self._live = self._live[: max(0, self.index() - forgotten)]
        cmd = MaskEditCommand(session, edit, text, on_change)
        self.push(cmd)
        self._live.append(cmd)
        for old in self._live[:evicted]:
            old.evicted = True
            old.edit = None  # type: ignore[assignment] - free the pixels now
            old.setObsolete(True)
        self._live = self._live[evicted:]

    def can_really_undo(self) -> bool:
        """False when only forgotten (obsolete) steps are left."""
        idx = self.index()
        return idx > 0 and not self.command(idx - 1).isObsolete()

    def undo_step(self) -> None:
        if self.can_really_undo():
            self.undo()
        # Drop forgotten steps so the next Ctrl+Z is not a silent no-op.
        while self.index() > 0 and self.command(self.index() - 1).isObsolete():
            self.undo()

    def reset(self) -> None:
        self.clear()
        self._live = []


class TagEditCommand(QUndoCommand):
    """One tag change (a tick, "same as previous", "take predicted tags") as one undo step.

    ``write(edit, forward)`` stores the change and refreshes the view; its failure (a full disk,
    a read-only project) is reported there, and the step is marked obsolete so the stack never
    claims a state that is not on disk.
    """

    def __init__(self, edit: TagEdit, text: str,
                 write: Callable[[TagEdit, bool], bool]) -> None:
        super().__init__(text)
        self.edit = edit
        self._write = write

    def redo(self) -> None:
        if not self._write(self.edit, True):
            self.setObsolete(True)

    def undo(self) -> None:
        if not self._write(self.edit, False):
            self.setObsolete(True)
