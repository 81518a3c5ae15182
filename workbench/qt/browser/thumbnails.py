"""Thumbnails made on worker threads and cached on disk, keyed by file name, mtime and size.

Requests are served newest first: when the user scrolls, the rows now on screen are decoded
before the ones scrolled past. Nothing here touches widgets, so the work is safe off the GUI
thread (QImage, unlike QPixmap, may be used from any thread).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader

from workbench.core.errors import WorkbenchError

log = logging.getLogger(__name__)

_F = QImage.Format
_HIGH_DEPTH = frozenset({_F.Format_Grayscale16, _F.Format_RGBA64, _F.Format_RGBX64,
                         _F.Format_RGBA64_Premultiplied})
THUMB_SIZE = 96  # pixels on the long side; the list shows them at 48 px (sharp on HiDPI)


class ThumbnailCache:
    """PNG files under ``folder``; a changed source file gets a new key, so no stale thumbnails."""

    def __init__(self, folder: Path | None, size: int = THUMB_SIZE) -> None:
        self.folder = folder
        self.size = size

    def key(self, name: str, source: Path) -> str | None:
        try:
            st = source.stat()
        except OSError:
            return None
        raw = f"{name}\0{st.st_mtime_ns}\0{st.st_size}\0{self.size}".encode()
        return hashlib.sha1(raw).hexdigest()[:24]

    def load(self, key: str) -> QImage | None:
        if self.folder is None:
            return None
        path = self.folder / f"{key}.png"
        if not path.exists():
            return None
        image = QImage(str(path))
        return None if image.isNull() else image

    def store(self, key: str, image: QImage) -> None:
        """Best effort: a read-only or full disk only costs re-decoding next time."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{key}.{threading.get_ident()}.tmp.png"
            if image.save(str(tmp), "PNG"):
                os.replace(tmp, self.folder / f"{key}.png")
            else:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("thumbnail cache not writable (%s); continuing without it", exc)


def make_thumbnail(path: Path, size: int) -> QImage:
    """Decode ``path`` scaled down to fit ``size``; raises WorkbenchError when unreadable."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)  # EXIF orientation, as core.imageio does
    full = reader.size()
    if full.isValid() and (full.width() > size or full.height() > size):
        # Decoders such as JPEG can scale while decoding, far cheaper than decode-then-resize.
        reader.setScaledSize(full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull() or image.format() in _HIGH_DEPTH:
        # Unreadable for Qt, or 16-bit: core stretches 16-bit by min/max as training sees it.
        image = _via_core(path)
    if image.width() > size or image.height() > size:
        image = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image.convertToFormat(QImage.Format.Format_RGB32)


def _via_core(path: Path) -> QImage:
    from workbench.core.imageio import load_image  # raises ImageReadError naming the file

    rgb = np.ascontiguousarray(load_image(path))
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class _Worker(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        self._loader._work()


class ThumbnailLoader(QObject):
    """Makes thumbnails for image names on a private thread pool; results arrive as signals."""

    thumbnailReady = Signal(str, QImage)
    thumbnailFailed = Signal(str, str)

    def __init__(self, resolve: Callable[[str], Path], cache: ThumbnailCache,
                 threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._resolve = resolve
        self._cache = cache
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._threads = threads
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self._pending: set[str] = set()
        self._active = 0
        self._stopped = False
        self.decoded = 0  # thumbnails made from source files (not from the cache); for tests

    def request(self, name: str) -> None:
        """Queue ``name`` unless already queued; the newest request is served first."""
        with self._lock:
            if self._stopped or name in self._pending:
                return
            self._pending.add(name)
            self._queue.append(name)
            start = self._active < self._threads
            if start:
                self._active += 1
        if start:
            self._pool.start(_Worker(self))

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self, timeout_ms: int = 5000) -> None:
        """Drop queued work and wait for the running decodes to end (call before teardown)."""
        with self._lock:
            self._stopped = True
            self._queue.clear()
        self._pool.waitForDone(timeout_ms)

    def _next(self) -> str | None:
        with self._lock:
            if self._stopped or not self._queue:
                self._active -= 1
                return None
            return self._queue.pop()

    def _work(self) -> None:
        while (name := self._next()) is not None:
            try:
                image = self._thumbnail(name)
            except (WorkbenchError, OSError) as exc:
                self._finish(name)
                self.thumbnailFailed.emit(name, str(exc))
                continue
            self._finish(name)
            self.thumbnailReady.emit(name, image)

    def _finish(self, name: str) -> None:
        with self._lock:
            self._pending.discard(name)

    def _thumbnail(self, name: str) -> QImage:
        source = self._resolve(name)
        key = self._cache.key(name, source)
        if key is not None and (cached := self._cache.load(key)) is not None:
            return cached
        image = make_thumbnail(source, self._cache.size)
        with self._lock:
            self.decoded += 1
        if key is not None:
            self._cache.store(key, image)
        return image
