"""Append-only journal of finished strokes, so a killed process loses no finished stroke.

Each record holds the rectangles a stroke (or an undo/redo) wrote and their new values; it is
flushed and fsynced before the stroke counts as done. Records are absolute ("set these pixels to
these values"), so replaying a journal onto a mask that already contains some of the changes is
harmless. Layout: ``WBJ2`` + height + width + the fingerprint of the saved mask the strokes were
painted on, then records ``len, crc32, payload``; a record torn by a crash fails its length or
CRC check and ends the replay. A journal replays only onto the mask it was recorded against: if
that mask was replaced since (an import, feedback), the journal is set aside, not replayed.
Journals of the older ``WBJ1`` layout carry no fingerprint and replay as before.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import struct
import weakref
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from workbench.core.annotation.edit import BBox
from workbench.core.atomic import short_name, translate_os_error
from workbench.core.errors import MaskError
from workbench.core.faultpoints import fault_point

log = logging.getLogger(__name__)

MAGIC = b"WBJ2"
_MAGIC_V1 = b"WBJ1"
_HEADER_V1 = struct.Struct("<4sII")
_HEADER = struct.Struct("<4sIIBI")  # magic, height, width, has a saved mask, its fingerprint
_RECORD = struct.Struct("<II")
_PART = struct.Struct("<IIIII")
UNKNOWN_BASE = "unknown"  # a WBJ1 journal: recorded against an unknown mask
_SUFFIX = ".jrnl"

Region = tuple[BBox, np.ndarray]
# Journals that a live session in this process is writing: a mask write through the store
# must not set those aside (the session itself is saving).
_live: weakref.WeakValueDictionary[Path, StrokeJournal] = weakref.WeakValueDictionary()


def journal_path(project_root: Path, name: str) -> Path:
    """Where the journal of image ``name`` lives: ``<project>/.journal/<stem>.jrnl`` (a stem
    too long for one file name is cut and given a hash, so every image has a journal)."""
    stem = Path(name).stem
    if len(stem.encode("utf-8", "surrogateescape")) + len(_SUFFIX) > 255:
        digest = hashlib.sha1(stem.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        stem = short_name(stem, len(_SUFFIX) + 13) + "-" + digest
    return Path(project_root) / ".journal" / f"{stem}{_SUFFIX}"


def mask_fingerprint(mask: np.ndarray | None) -> int | None:
    """What a journal remembers of the saved mask it was painted on (None: no mask saved)."""
    if mask is None:
        return None
    return zlib.crc32(np.ascontiguousarray(mask, dtype=np.uint8).tobytes())


def set_aside(path: Path, why: str) -> Path:
    """Rename the journal (or a link in its place) to ``<stem>.<why>[-N]`` beside it, so its
    strokes are kept for inspection but never replayed; return the new path."""
    stem = path.name.removesuffix(_SUFFIX)
    for n in range(1, 1000):
        tail = f".{why}" if n == 1 else f".{why}-{n}"
        aside = path.with_name(short_name(stem, len(tail)) + tail)
        if not os.path.lexists(aside):
            break
    os.replace(path, aside)
    return aside


def set_aside_unless_live(project_root: Path, name: str, why: str) -> Path | None:
    """After the store replaced the mask of ``name``: set its journal aside unless a session
    in this process is writing it. Returns where it went (None: nothing to do)."""
    path = journal_path(project_root, name)
    if not os.path.lexists(path) or _live.get(path) is not None:
        return None
    try:
        aside = set_aside(path, why)
    except OSError as exc:
        raise translate_os_error(exc, path, "set aside the stale journal") from exc
    log.warning("%s: the mask was replaced (%s); its unsaved strokes were recorded against the "
                "old mask and were set aside in %s", name, why, aside)
    return aside


def _encode(regions: Iterable[Region]) -> bytes:
    chunks = []
    for (y0, x0, y1, x1), values in regions:
        data = zlib.compress(np.ascontiguousarray(values, dtype=np.uint8).tobytes(), 1)
        chunks.append(_PART.pack(y0, x0, y1, x1, len(data)) + data)
    return struct.pack("<I", len(chunks)) + b"".join(chunks)


def _decode(payload: bytes, shape: tuple[int, int], num_classes: int | None) -> list[Region]:
    """The regions of one record; MaskError if any lies outside the mask or holds a value
    that is not a class (a record can pass its CRC and still be nonsense)."""
    try:
        (count,) = struct.unpack_from("<I", payload, 0)
        pos, regions = 4, []
        for _ in range(count):
            y0, x0, y1, x1, size = _PART.unpack_from(payload, pos)
            pos += _PART.size
            if not (y0 < y1 <= shape[0] and x0 < x1 <= shape[1]):
                raise ValueError(f"rectangle {(y0, x0, y1, x1)} is outside the "
                                 f"{shape[1]}x{shape[0]} mask")
            raw = zlib.decompress(payload[pos : pos + size])
            pos += size
            values = np.frombuffer(raw, dtype=np.uint8).reshape(y1 - y0, x1 - x0)
            regions.append(((y0, x0, y1, x1), values))
    except (struct.error, zlib.error, ValueError) as exc:
        raise MaskError(f"a record is damaged ({exc})") from exc
    if num_classes is not None:
        for _, values in regions:
            bad = (values >= num_classes) & (values != 255)
            if bad.any():
                raise MaskError(f"a record holds value {int(values[bad][0])}, not one of the "
                                f"{num_classes} classes")
    return regions


def _read_nofollow(path: Path) -> bytes:
    """The file's bytes, refusing a symbolic link (it could point outside the project)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MaskError(f"{path} is a symbolic link, not a journal") from exc
        raise MaskError(f"cannot read {path} ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


class StrokeJournal:
    """The journal file of one image whose mask has shape ``shape``; ``base`` is the
    fingerprint (:func:`mask_fingerprint`) of the saved mask new records are painted on."""

    def __init__(self, path: Path, shape: tuple[int, int], base: int | None = None,
                 num_classes: int | None = None) -> None:
        self.path = Path(path)
        self.shape = (int(shape[0]), int(shape[1]))
        self.base = base
        self.num_classes = num_classes
        self._file: BinaryIO | None = None
        self.records = 0

    def claim(self) -> None:
        """Mark this journal as written by a live session in this process (see _live)."""
        _live[self.path] = self

    def exists(self) -> bool:
        try:
            return self.path.lstat().st_size > _HEADER_V1.size or self.path.is_symlink()
        except FileNotFoundError:
            return False

    def recorded_base(self) -> int | None | str:
        """The fingerprint the file was recorded against (UNKNOWN_BASE for a WBJ1 file)."""
        return self._parse()[0]

    def read(self) -> list[list[Region]]:
        """All complete records; a torn tail (crash mid-append) is ignored. Every record is
        checked before any is returned (MaskError names the journal and the problem)."""
        return self._parse()[1]

    def _parse(self) -> tuple[int | None | str, list[list[Region]]]:
        data = _read_nofollow(self.path)
        magic = data[:4]
        if magic == MAGIC and len(data) >= _HEADER.size:
            _, h, w, has_base, crc = _HEADER.unpack_from(data, 0)
            base: int | None | str = crc if has_base else None
            pos = _HEADER.size
        elif magic == _MAGIC_V1 and len(data) >= _HEADER_V1.size:
            _, h, w = _HEADER_V1.unpack_from(data, 0)
            base, pos = UNKNOWN_BASE, _HEADER_V1.size
        else:
            raise MaskError(f"{self.path} is not a Workbench stroke journal; move it away")
        if (h, w) != self.shape:
            raise MaskError(
                f"journal {self.path} is for a {w}x{h} mask but the image is "
                f"{self.shape[1]}x{self.shape[0]}; it cannot be replayed"
            )
        records = []
        while pos + _RECORD.size <= len(data):
            size, crc = _RECORD.unpack_from(data, pos)
            payload = data[pos + _RECORD.size : pos + _RECORD.size + size]
            if len(payload) != size or zlib.crc32(payload) != crc:
                log.warning("%s: ignoring a torn record at byte %d", self.path, pos)
                break
            try:
                records.append(_decode(payload, self.shape, self.num_classes))
            except MaskError as exc:
                raise MaskError(f"journal {self.path}, byte {pos}: {exc}") from exc
            pos += _RECORD.size + size
        return base, records

    def replay(self, mask: np.ndarray) -> int:
        """Write every journalled region into ``mask``; return the number of records. All
        records are read and checked first, so a bad one leaves ``mask`` untouched."""
        records = self.read()
        for regions in records:
            for (y0, x0, y1, x1), values in regions:
                mask[y0:y1, x0:x1] = values
        return len(records)

    def append(self, regions: Iterable[Region]) -> None:
        """Durably add one record (flushed and fsynced before returning)."""
        payload = _encode(regions)
        try:
            self._write(payload)
        except OSError as exc:
            self.close()
            raise translate_os_error(exc, self.path, "write the stroke journal") from exc
        self.records += 1

    def _write(self, payload: bytes) -> None:
        fault_point("write.journal")
        if self._file is None:
            self._file = self._open_for_append()
        fh = self._file
        fh.write(_RECORD.pack(len(payload), zlib.crc32(payload)) + payload)
        fh.flush()
        os.fsync(fh.fileno())

    def _open_for_append(self) -> BinaryIO:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        if folder.is_symlink():
            raise MaskError(f"{folder} is a symbolic link; Workbench writes stroke journals "
                            "only inside the project. Remove the link.")
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise MaskError(f"{self.path} is a symbolic link; Workbench writes stroke "
                                "journals only inside the project. Remove the link.") from exc
            raise
        fh = os.fdopen(fd, "ab")
        if os.fstat(fd).st_size < _HEADER_V1.size:  # new (or torn before its header): start
            os.ftruncate(fd, 0)
            base = 0 if self.base is None else self.base
            fh.write(_HEADER.pack(MAGIC, *self.shape, self.base is not None, base))
        return fh

    def clear(self) -> None:
        """Forget all records (call only after the mask they describe is safely on disk)."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.records = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
