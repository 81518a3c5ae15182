"""The window under faults (the rest of the fault suite is in tests/faults): a read-only
project opens for viewing, and a project that fails to open stays in Open Recent."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from workbench.app import AppController, create_main_window
from workbench.qt.dialogs.recent import RecentProjects

from ..faults.helpers import read_only, seg_project


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_read_only_project_opens_for_viewing(qtbot, tmp_path: Path, settings: QSettings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = seg_project(tmp_path / "p", labelled=2)
    with read_only(root, monkeypatch):
        window = create_main_window(root, settings)
        try:
            window.show()
            assert window.project.readonly
            assert "(read-only)" in window.windowTitle()
            assert "read-only" in window.statusBar().currentMessage()
            qtbot.waitUntil(lambda: window.workspace.current_name is not None, timeout=5000)
            assert window.project.image_names() == [f"img{i}.png" for i in range(4)]
            panel = window.workspace.seg_panel  # the tools that would edit are greyed out
            assert not any(b.isEnabled() for b in panel.tool_group.buttons())
            assert not panel.fill_button.isEnabled() and not panel.prediction_button.isEnabled()
            window.training_panel.start_training()  # refused with the reason, nothing starts
            level, text = window.training_panel.message()
            assert level == "error" and "read-only" in text
            assert not window.training_panel.runner.is_running()
        finally:
            window.close()
            window.deleteLater()
    assert RecentProjects(settings).paths() == [root.resolve()]


def test_a_project_that_fails_to_open_stays_in_recent(qtbot, tmp_path: Path,
                                                      settings: QSettings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = seg_project(tmp_path / "p", labelled=1).resolve()
    RecentProjects(settings).add(root)
    con = sqlite3.connect(root / "workbench.db")
    with con:
        con.execute("UPDATE image_status SET status = 'bogus'")
    con.close()
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _parent, _title, text: shown.append(text)))
    controller = AppController(settings)
    try:
        assert not controller.open_project(root)
        assert len(shown) == 1 and "damaged" in shown[0] and "workbench repair" in shown[0]
        assert RecentProjects(settings).paths() == [root]
    finally:
        if controller.window is not None:
            controller.window.close()
            controller.window.deleteLater()


def test_a_journal_set_aside_on_open_is_told_in_the_status_bar(qtbot, tmp_path: Path) -> None:
    import numpy as np

    from workbench.core.annotation import StrokeJournal, journal_path

    root = seg_project(tmp_path / "p")
    journal = StrokeJournal(journal_path(root, "img0.png"), (32, 32), base=12345)  # another mask
    journal.append([((0, 0, 2, 2), np.ones((2, 2), np.uint8))])
    journal.close()
    window = create_main_window(root)
    try:
        window.show()
        qtbot.waitUntil(lambda: window.workspace.current_name == "img0.png", timeout=5000)
        message = window.statusBar().currentMessage()
        assert "img0.png" in message and "img0.stale" in message
        assert (window.project.read_mask("img0.png") is None)  # the strokes were not applied
    finally:
        window.close()
        window.deleteLater()
