"""ImageBrowser driven with real clicks and keys: selection, filter, navigation, lazy thumbnails."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt

from workbench.qt.browser import ImageBrowser, thumbnail_dir
from workbench.qt.browser.model import ThumbnailStateRole


@pytest.fixture
def browser(qtbot, folder_source):
    widget = ImageBrowser.for_project(folder_source)
    widget.resize(280, 600)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def _click_row(qtbot, browser, row):
    rect = browser.view.visualRect(browser.proxy.index(row, 0))
    qtbot.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_click_selects_and_emits_name(qtbot, browser, folder_source):
    with qtbot.waitSignal(browser.currentImageChanged) as blocker:
        _click_row(qtbot, browser, 3)
    assert blocker.args == [folder_source.names[3]]
    assert browser.current_name() == folder_source.names[3]


def test_arrow_keys_move_the_selection(qtbot, browser, folder_source):
    _click_row(qtbot, browser, 0)
    with qtbot.waitSignal(browser.currentImageChanged) as blocker:
        qtbot.keyClick(browser.view, Qt.Key.Key_Down)
    assert blocker.args == [folder_source.names[1]]


def test_thumbnails_fill_in_for_visible_rows_and_land_on_disk(qtbot, browser, folder_source):
    model = browser.model
    qtbot.waitUntil(lambda: all(model.index(r).data(ThumbnailStateRole) == "ready"
                                for r in range(len(folder_source.names))), timeout=5000)
    assert len(list(thumbnail_dir(folder_source.root).glob("*.png"))) == len(folder_source.names)


def test_filter_box_hides_rows_by_status(qtbot, browser, folder_source):
    box = browser.filter_box
    assert box.objectName() == "imageFilter" and browser.view.objectName() == "imageList"
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Down)  # "All images" -> "Unlabelled"
    assert browser.proxy.mode == "unlabelled"
    expected = [n for n in folder_source.names if folder_source.statuses()[n] == "unlabelled"]
    assert browser.visible_names() == expected
    assert browser.count_label.text() == f"{len(expected)} of {len(folder_source.names)}"
    browser.set_filter("labelled")
    assert browser.visible_names() == [folder_source.names[i] for i in (1, 2, 5)]


def test_navigation_next_prev_and_next_unlabelled(qtbot, browser, folder_source):
    names = folder_source.names
    assert browser.navigate("next") and browser.current_name() == names[0]  # nothing current yet
    assert not browser.navigate("prev")  # at the top: stays
    assert browser.navigate("next") and browser.current_name() == names[1]
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[3]
    browser.select(names[7])
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[0]  # wraps
    with pytest.raises(ValueError):
        browser.navigate("sideways")


def test_next_unlabelled_is_false_when_everything_is_labelled(qtbot, browser, folder_source):
    for name in folder_source.names:
        browser.set_status(name, "labelled")
    browser.select(folder_source.names[0])
    assert not browser.navigate("next_unlabelled")
    assert browser.current_name() == folder_source.names[0]


def test_labelling_under_unlabelled_filter_keeps_current_then_moves_on(qtbot, browser,
                                                                     folder_source):
    names = folder_source.names
    browser.set_filter("unlabelled")
    browser.select(names[0])
    browser.set_status(names[0], "labelled")
    assert names[0] in browser.visible_names()  # the open image does not vanish
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[3]
    assert names[0] not in browser.visible_names()


def test_reload_keeps_selection(qtbot, browser, folder_source):
    browser.select(folder_source.names[2])
    browser.reload(folder_source.names + ["zz_new.png"], folder_source.statuses())
    assert browser.model.rowCount() == len(folder_source.names) + 1
    assert browser.current_name() == folder_source.names[2]


def test_ten_thousand_images_list_and_decode_lazily(qtbot, tmp_path: Path,
                                                                      source_factory):
    FolderSource, write_images = source_factory
    real = write_images(tmp_path / "src", 4)
    names = [f"frame_{i:05d}.png" for i in range(10_000)]
    source = FolderSource(tmp_path, names)
    source.image_path = lambda n: tmp_path / "src" / real[int(n[6:11]) % 4]  # type: ignore
    # How fast it lists is measured by benchmarks/open_large_folder.py, not asserted here.
    widget = ImageBrowser.for_project(source)
    qtbot.addWidget(widget)
    widget.resize(280, 700)
    widget.show()
    qtbot.waitExposed(widget)
    assert widget.count_label.text() == "10,000 images"
    qtbot.waitUntil(lambda: widget.model.index(0).data(ThumbnailStateRole) == "ready",
                    timeout=5000)
    qtbot.waitUntil(lambda: widget.loader.pending() == 0, timeout=5000)
    # only the rows on screen (700 px / 60 px rows) were decoded, not 10,000
    assert 5 <= widget.loader.decoded <= 30
    widget.shutdown()
