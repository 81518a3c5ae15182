"""The done step: an image labelled in the window stays "in progress" until it is marked
Reviewed (R), and N ("next to do") visits it until then, so one stray stroke does not hide it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from workbench.app import create_main_window
from workbench.core.project import Status
from workbench.qt.browser.model import InProgressRole

from .annotation.conftest import drag_in


def test_stray_stroke_leaves_the_image_in_progress_until_r(qtbot, tmp_path, seg_project):
    names = seg_project.image_names()
    for name in (names[2], names[5]):
        seg_project.clear_label(name)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = create_main_window(seg_project, settings)
    qtbot.addWidget(window)
    window.resize(1300, 800)
    window.show()
    qtbot.waitUntil(lambda: window.workspace.current_name is not None, timeout=5000)
    ws, browser = window.workspace, window.browser
    browser.select(names[2])
    qtbot.waitUntil(lambda: ws.current_name == names[2], timeout=3000)
    drag_in(ws, [(5, 5), (9, 9)])  # one stray stroke
    ws.flush()
    assert seg_project.status(names[2]) is Status.LABELLED  # it has a label: it trains
    assert seg_project.in_progress() == {names[2]}
    row = browser.proxy.mapFromSource(browser.model.index(browser.model.row_of(names[2])))
    assert row.data(InProgressRole) is True
    assert "1 in progress" in window.progress_label.text()
    assert "in progress" in ws.info.text()
    browser.select(names[0])
    # N visits it (in list order it is the next to do), then the unlabelled one
    assert window.navigate("next_unlabelled") and ws.current_name == names[2]
    assert window.navigate("next_unlabelled") and ws.current_name == names[5]
    assert window.navigate("next_unlabelled") and ws.current_name == names[2]
    QTest.keyClick(ws.canvas, Qt.Key.Key_R)  # done
    assert seg_project.status(names[2]) is Status.REVIEWED
    assert seg_project.in_progress() == set() and not row.data(InProgressRole)
    assert window.navigate("next_unlabelled") and ws.current_name == names[5]
    assert not window.navigate("next_unlabelled")  # only itself is left to do
    browser.set_filter("in_progress")
    assert browser.visible_names() == [names[5]]  # the open image stays pinned
    window.close()
