"""ImageListModel and ImageFilterProxy: Qt model rules (qtmodeltester), statuses, filtering."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt

from workbench.qt.browser.model import (
    ImageFilterProxy,
    ImageListModel,
    StatusRole,
    ThumbnailStateRole,
)
from workbench.qt.browser.thumbnails import ThumbnailCache, ThumbnailLoader

NAMES = ["a.png", "b.png", "c.png", "d.png"]
STATUSES = {"b.png": "labelled", "c.png": "reviewed"}


def test_model_passes_qtmodeltester(qtbot, qtmodeltester, folder_source):
    loader = ThumbnailLoader(folder_source.image_path, ThumbnailCache(None))
    model = ImageListModel(folder_source.image_names(), folder_source.statuses(), loader)
    qtmodeltester.check(model, force_py=True)
    for row in range(model.rowCount()):
        model.index(row).data(Qt.ItemDataRole.DecorationRole)  # starts the thumbnail loads
    qtbot.waitUntil(lambda: all(model.index(r).data(ThumbnailStateRole) == "ready"
                                for r in range(model.rowCount())), timeout=5000)
    model.set_status(folder_source.names[0], "labelled")
    model.reset(folder_source.names[:3], {})
    qtmodeltester.check(model, force_py=True)
    loader.stop()


def test_proxy_passes_qtmodeltester(qtmodeltester):
    model = ImageListModel(NAMES, STATUSES)
    proxy = ImageFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_mode("labelled")
    qtmodeltester.check(proxy, force_py=True)


def test_rows_roles_and_counts():
    model = ImageListModel(NAMES, STATUSES)
    assert model.rowCount() == 4
    index = model.index(1)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "b.png"
    assert index.data(StatusRole) == "labelled"
    assert "labelled" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.data(ThumbnailStateRole) == "loading"  # no loader: never ready
    assert model.counts() == {"unlabelled": 2, "labelled": 1, "reviewed": 1}


def test_set_status_emits_data_changed_for_that_row_only(qtbot):
    model = ImageListModel(NAMES, STATUSES)
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.set_status("d.png", "labelled")
    top, bottom = blocker.args[0], blocker.args[1]
    assert (top.row(), bottom.row()) == (3, 3)
    assert model.status("d.png") == "labelled"
    with qtbot.assertNotEmitted(model.dataChanged):
        model.set_status("d.png", "labelled")  # unchanged: no repaint
        model.set_status("missing.png", "labelled")


def test_status_enum_values_are_accepted():
    from enum import Enum

    class Status(str, Enum):
        LABELLED = "labelled"

    model = ImageListModel(["x.png"], {"x.png": Status.LABELLED})
    assert model.status("x.png") == "labelled"


@pytest.mark.parametrize("mode,expected", [
    ("all", NAMES), ("unlabelled", ["a.png", "d.png"]),
    ("labelled", ["b.png", "c.png"]), ("reviewed", ["c.png"]),
])
def test_filter_modes(mode, expected):
    model = ImageListModel(NAMES, STATUSES)
    proxy = ImageFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_mode(mode)
    shown = [proxy.index(r, 0).data() for r in range(proxy.rowCount())]
    assert shown == expected


def test_filter_follows_status_changes_but_keeps_pinned_row():
    model = ImageListModel(NAMES, STATUSES)
    proxy = ImageFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_mode("unlabelled")
    proxy.set_pinned("a.png")
    model.set_status("a.png", "labelled")
    model.set_status("d.png", "labelled")
    shown = [proxy.index(r, 0).data() for r in range(proxy.rowCount())]
    assert shown == ["a.png"]  # d.png left; a.png is the open image, so it stays
    proxy.set_pinned(None)
    assert proxy.rowCount() == 0


def test_unknown_filter_is_rejected():
    proxy = ImageFilterProxy()
    with pytest.raises(ValueError, match="unknown image filter"):
        proxy.set_mode("done")
