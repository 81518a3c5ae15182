"""Append-only journal of finished strokes, so a killed process loses no finished stroke.

Each record holds the rectangles a stroke (or an undo/redo) wrote and their new values; it is
flushed and fsynced before the stroke counts as done. Records are absolute ("set these pixels to
these values"), so replaying a journal onto a mask that already contains some of the changes is
harmless. Layout: ``WBJ1`` + height + width, then records ``len, crc32, payload``; a record torn
by a crash fails its length or CRC check and ends the replay.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from workbench.core.annotation.edit import BBox
from workbench.core.atomic import translate_os_error
from workbench.core.errors import MaskError

log = logging.getLogger(__name__)

MAGIC = b"WBJ1"
_HEADER = struct.Struct("<4sII")
_RECORD = struct.Struct("<II")
_PART = struct.Struct("<IIIII")

Region = tuple[BBox, np.ndarray]


def journal_path(project_root: Path, name: str) -> Path:
    """Where the journal of image ``name`` lives: ``<project>/.journal/<stem>.jrnl``."""
    return Path(project_root) / ".journal" / f"{Path(name).stem}.jrnl"


def _encode(regions: Iterable[Region]) -> bytes:
    chunks = []
    for (y0, x0, y1, x1), values in regions:
        data = zlib.compress(np.ascontiguousarray(values, dtype=np.uint8).tobytes(), 1)
        chunks.append(_PART.pack(y0, x0, y1, x1, len(data)) + data)
    return struct.pack("<I", len(chunks)) + b"".join(chunks)


def _decode(payload: bytes) -> list[Region]:
    (count,) = struct.unpack_from("<I", payload, 0)
    pos, regions = 4, []
    for _ in range(count):
        y0, x0, y1, x1, size = _PART.unpack_from(payload, pos)
        pos += _PART.size
        raw = zlib.decompress(payload[pos : pos + size])
        pos += size
        values = np.frombuffer(raw, dtype=np.uint8).reshape(y1 - y0, x1 - x0)
        regions.append(((y0, x0, y1, x1), values))
    return regions


class StrokeJournal:
    """The journal file of one image whose mask has shape ``shape``."""

    def __init__(self, path: Path, shape: tuple[int, int]) -> None:
        self.path = Path(path)
        self.shape = (int(shape[0]), int(shape[1]))
        self._file = None
        self.records = 0

    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > _HEADER.size

    def read(self) -> list[list[Region]]:
        """All complete records; a torn tail (crash mid-append) is ignored."""
        data = self.path.read_bytes()
        magic, h, w = _HEADER.unpack_from(data, 0) if len(data) >= _HEADER.size else (b"", 0, 0)
        if magic != MAGIC:
            raise MaskError(f"{self.path} is not a Workbench stroke journal; move it away")
        if (h, w) != self.shape:
            raise MaskError(
                f"journal {self.path} is for a {w}x{h} mask but the image is "
                f"{self.shape[1]}x{self.shape[0]}; it cannot be replayed"
            )
        pos, records = _HEADER.size, []
        while pos + _RECORD.size <= len(data):
            size, crc = _RECORD.unpack_from(data, pos)
            payload = data[pos + _RECORD.size : pos + _RECORD.size + size]
            if len(payload) != size or zlib.crc32(payload) != crc:
                log.warning("%s: ignoring a torn record at byte %d", self.path, pos)
                break
            records.append(_decode(payload))
            pos += _RECORD.size + size
        return records

    def replay(self, mask: np.ndarray) -> int:
        """Write every journalled region into ``mask``; return the number of records."""
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
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.path.exists() or self.path.stat().st_size < _HEADER.size
            self._file = open(self.path, "wb" if fresh else "ab")  # noqa: SIM115 - kept open
            if fresh:
                self._file.write(_HEADER.pack(MAGIC, *self.shape))
        self._file.write(_RECORD.pack(len(payload), zlib.crc32(payload)) + payload)
        self._file.flush()
        os.fsync(self._file.fileno())

    def clear(self) -> None:
        """Forget all records (call only after the mask they describe is safely on disk)."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.records = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
