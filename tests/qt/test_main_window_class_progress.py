"""The status bar's per-class readout: counted in the background, updated on each save."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from workbench.app import create_main_window
from workbench.qt.class_progress import ClassProgress


def _key(window, k: Qt.Key) -> None:
    QTest.keyClick(window.workspace.canvas.viewport(), k)


def _close(window) -> None:
    window.close()
    window.deleteLater()


def test_nuclei_readout_counts_in_background_then_follows_painting(qtbot, nuclei_project):
    window = create_main_window(nuclei_project)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    readout = window.class_progress
    try:
        qtbot.waitUntil(lambda: not readout.is_counting(), timeout=10000)
        assert readout.counts() == {"background": 40, "nucleus": 29}
        assert readout.text() == "background 40/40 · nucleus 29/40"
        assert "nucleus" in readout.toolTip() and "of 40 labelled" in readout.toolTip()
        lacking = next(n for n in nuclei_project.labelled_names()
                       if not (nuclei_project.read_mask(n) == 1).any())
        window.browser.select(lacking)
        qtbot.waitUntil(lambda: window.workspace.current_name == lacking, timeout=5000)
        window.workspace.canvas.setFocus()
        _key(window, Qt.Key.Key_2)  # class 2: "nucleus"
        vp = window.workspace.canvas.viewport()
        start, end = (window.workspace.canvas.to_widget(QPointF(x, 10.5)).toPoint()
                      for x in (5.5, 25.5))
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        QTest.mouseMove(vp, end)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
        with qtbot.waitSignal(window.workspace.labelsSaved, timeout=5000):
            window.workspace.flush()
        assert (nuclei_project.read_mask(lacking) == 1).any()
        assert readout.counts() == {"background": 40, "nucleus": 30}
        assert "nucleus 30/40" in readout.text()
    finally:
        _close(window)


def test_multilabel_readout_is_immediate_and_follows_ticking(qtbot, tag_project):
    window = create_main_window(tag_project)
    window.show()
    qtbot.waitExposed(window)
    readout = window.class_progress
    try:
        assert not readout.is_counting()  # tags are counted on the spot
        before = readout.counts()
        assert before == {t: sum(t in tags for tags in tag_project.all_tags().values())
                          for t in ("red", "green", "blue")}
        first = tag_project.image_names()[0]
        qtbot.waitUntil(lambda: window.workspace.current_name == first, timeout=5000)
        had_green = "green" in tag_project.tags(first)
        with qtbot.waitSignal(window.workspace.labelsSaved, timeout=5000):
            _key(window, Qt.Key.Key_2)  # toggles "green"
        assert readout.counts()["green"] == before["green"] + (-1 if had_green else 1)
        assert f"green {readout.counts()['green']}/16" in readout.text()
    finally:
        _close(window)


def test_masks_are_read_off_the_gui_thread(qtbot, seg_project, monkeypatch):
    threads: list[threading.Thread] = []
    read = seg_project.read_mask

    def recording_read(name: str) -> np.ndarray | None:
        threads.append(threading.current_thread())
        return read(name)

    monkeypatch.setattr(seg_project, "read_mask", recording_read)
    readout = ClassProgress(seg_project)
    qtbot.addWidget(readout)
    qtbot.waitUntil(lambda: not readout.is_counting(), timeout=10000)
    assert len(threads) == 12
    assert threading.main_thread() not in threads
    assert readout.counts() == {"background": 12, "shape": 12}


def test_save_during_the_count_is_not_lost(qtbot, seg_project):
    readout = ClassProgress(seg_project)
    qtbot.addWidget(readout)
    name = seg_project.image_names()[0]
    seg_project.write_mask(name, np.zeros_like(seg_project.read_mask(name)))
    readout.update_image(name)  # before or after the background result: either way counted
    qtbot.waitUntil(lambda: not readout.is_counting(), timeout=10000)
    assert readout.counts() == {"background": 12, "shape": 11}
    readout.stop()
