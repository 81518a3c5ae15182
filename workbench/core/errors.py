"""Exceptions for everything a user can get wrong: each message names the file and what to do.

All of them derive from :class:`WorkbenchError`, which the CLI prints as one line and the GUI
shows in a message box, so no code path needs to know about the concrete subclasses.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error caused by input, files or environment (not by a bug)."""


class ProjectError(WorkbenchError):
    """The project folder or its manifest is missing, invalid, or cannot be written."""


class ProjectLockedError(ProjectError):
    """Another process has the project open for writing."""

    def __init__(self, message: str, pid: int | None = None, host: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.host = host


class DatabaseDamagedError(ProjectError):
    """workbench.db cannot be read or holds values this version cannot use (see repair)."""


class ReadOnlyError(ProjectError):
    """A file or folder cannot be written (permissions, read-only mount, read-only open)."""


class DiskFullError(WorkbenchError):
    """A write failed because the disk is full; the previous file is left untouched."""


class ImageReadError(WorkbenchError):
    """An image is missing, corrupt, truncated, of an unsupported format, or too large."""


class MaskError(WorkbenchError):
    """A mask does not fit its image (size) or the class list (values), or cannot be read."""


class LabelError(WorkbenchError):
    """Tags or class names are invalid (unknown tag, malformed labels.csv or codes.txt)."""


class ClaimError(WorkbenchError):
    """Team projects: the image is held by someone else (names the holder), or not held."""


class ConflictError(WorkbenchError):
    """Team projects: a save was refused because the label changed since its base version;
    the refused version was kept as a conflict copy for review."""
