"""Thumbnails: made off the GUI thread, cached on disk by mtime+size, bad files reported."""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from workbench.qt.browser.thumbnails import (
    THUMB_SIZE,
    ThumbnailCache,
    ThumbnailLoader,
    make_thumbnail,
)


def test_thumbnail_is_made_on_a_worker_thread_and_fits_the_size(qtbot, folder_source, tmp_path):
    threads: list[int] = []
    loader = ThumbnailLoader(_recording(folder_source.image_path, threads),
                             ThumbnailCache(tmp_path / "thumbs", size=16))
    name = folder_source.names[0]
    with qtbot.waitSignal(loader.thumbnailReady, timeout=5000) as blocker:
        loader.request(name)
    got_name, image = blocker.args
    assert got_name == name
    assert isinstance(image, QImage) and max(image.width(), image.height()) == 16
    assert threads and threading.get_ident() not in threads
    loader.stop()


def _recording(resolve, threads):
    def wrapped(name):
        threads.append(threading.get_ident())
        return resolve(name)
    return wrapped


def test_disk_cache_is_reused_and_invalidated_by_a_changed_file(qtbot, folder_source, tmp_path):
    cache_dir = tmp_path / "thumbs"
    name = folder_source.names[0]
    first = ThumbnailLoader(folder_source.image_path, ThumbnailCache(cache_dir))
    with qtbot.waitSignal(first.thumbnailReady, timeout=5000):
        first.request(name)
    first.stop()
    assert first.decoded == 1 and len(list(cache_dir.glob("*.png"))) == 1

    second = ThumbnailLoader(folder_source.image_path, ThumbnailCache(cache_dir))
    with qtbot.waitSignal(second.thumbnailReady, timeout=5000):
        second.request(name)
    assert second.decoded == 0  # served from the cache

    path = folder_source.image_path(name)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    with qtbot.waitSignal(second.thumbnailReady, timeout=5000) as blocker:
        second.request(name)
    assert second.decoded == 1
    assert blocker.args[1].pixelColor(0, 0).red() == 0  # the new content, not the stale one
    second.stop()


def test_corrupt_image_reports_failure_naming_the_file(qtbot, tmp_path):
    bad = tmp_path / "images" / "broken.png"
    bad.parent.mkdir()
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    loader = ThumbnailLoader(lambda n: tmp_path / "images" / n, ThumbnailCache(tmp_path / "c"))
    with qtbot.waitSignal(loader.thumbnailFailed, timeout=5000) as blocker:
        loader.request("broken.png")
    assert blocker.args[0] == "broken.png"
    assert "broken.png" in blocker.args[1]
    loader.stop()


def test_sixteen_bit_image_is_stretched_like_core_does(tmp_path):
    path = tmp_path / "deep.png"
    ramp = np.tile(np.linspace(1000, 3000, 64).astype(np.uint16), (32, 1))
    Image.fromarray(ramp).save(path)
    image = make_thumbnail(path, THUMB_SIZE)
    # Qt alone would map 3000/65535 to near black; core stretches min..max to 0..255.
    assert image.pixelColor(63, 0).red() > 240
    assert image.pixelColor(0, 0).red() < 15


def test_unwritable_cache_folder_still_gives_thumbnails(qtbot, folder_source, tmp_path):
    blocker_file = tmp_path / "not_a_dir"
    blocker_file.write_text("x")
    loader = ThumbnailLoader(folder_source.image_path, ThumbnailCache(blocker_file / "thumbs"))
    with qtbot.waitSignal(loader.thumbnailReady, timeout=5000):
        loader.request(folder_source.names[0])
    loader.stop()


def test_duplicate_requests_are_decoded_once_newest_first(qtbot, folder_source):
    gate = threading.Event()

    def resolve(name):
        gate.wait(5)  # hold the worker until every request is queued
        return folder_source.image_path(name)

    loader = ThumbnailLoader(resolve, ThumbnailCache(None), threads=1)
    received: list[str] = []
    loader.thumbnailReady.connect(lambda name, _img: received.append(name))
    for _ in range(5):
        for name in folder_source.names[:4]:
            loader.request(name)
    gate.set()
    qtbot.waitUntil(lambda: len(received) == 4, timeout=5000)
    loader.stop()
    assert loader.decoded == 4
    # newest first; the worker may already have taken the very first request
    orders = ([folder_source.names[i] for i in (3, 2, 1, 0)],
              [folder_source.names[i] for i in (0, 3, 2, 1)])
    assert received in orders
