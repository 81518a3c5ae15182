"""Annotation shortcuts work wherever focus is in the main window (the image list, a button),
but never steal keys from text fields and spin boxes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QSpinBox

from workbench.app import create_main_window


@pytest.fixture
def window(qtbot, seg_project, tmp_path: Path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = create_main_window(seg_project, settings)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: win.workspace.current_name is not None, timeout=5000)
    yield win
    win.close()
    win.deleteLater()


def click_row(qtbot, win, row: int) -> None:
    view = win.browser.view
    rect = view.visualRect(win.browser.proxy.index(row, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    view.setFocus()  # a real click leaves focus in the list; make sure it is there
    assert QApplication.focusWidget() is view


def press(qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def test_class_keys_undo_and_prediction_work_after_clicking_the_list(qtbot, window,
                                                                   seg_project):
    ws, names = window.workspace, seg_project.image_names()
    seg_project.clear_label(names[1])
    click_row(qtbot, window, 1)
    assert ws.current_name == names[1]
    press(qtbot, Qt.Key.Key_2)
    assert ws.state.label == 1
    press(qtbot, Qt.Key.Key_U)  # fill unlabelled with class 2: one undo step
    mask = ws.controller.session.mask
    assert (mask == 1).all()
    window.browser.view.setFocus()
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (ws.controller.session.mask == 255).all()
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
          | Qt.KeyboardModifier.ShiftModifier)
    assert (ws.controller.session.mask == 1).all()
    # Ctrl+P with the list focused takes the newest prediction.
    run = seg_project.root / "predictions" / "run-1"
    run.mkdir(parents=True)
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(run / f"{Path(names[1]).stem}.png")
    press(qtbot, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert (ws.controller.session.mask == 0).all()
    # V (Label / Prediction / Errors) too: it was bound to the workspace's own widgets only.
    click_row(qtbot, window, 1)
    assert QApplication.focusWidget() is window.browser.view
    press(qtbot, Qt.Key.Key_V)
    assert window.loop.view.view == "prediction"


def test_shortcuts_work_after_pressing_a_button(qtbot, window, seg_project):
    ws = window.workspace
    button = window.training_panel.findChild(QPushButton, "lrFindButton")
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    button.setFocus()
    assert QApplication.focusWidget() is button
    press(qtbot, Qt.Key.Key_2)
    assert ws.state.label == 1
    press(qtbot, Qt.Key.Key_G)
    assert ws.state.tool.value == "fill"


def test_text_fields_and_spin_boxes_keep_their_keys(qtbot, window):
    ws = window.workspace
    window.training_dock.show()
    lr_edit = window.training_panel.findChild(QLineEdit, "lrEdit")
    lr_edit.setFocus()
    lr_edit.clear()
    before = ws.state.label
    qtbot.keyClicks(lr_edit, "2e-3")
    assert lr_edit.text() == "2e-3" and ws.state.label == before
    spin = window.training_panel.findChild(QSpinBox, "epochsSpin")
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "1")
    assert spin.value() == 1 and ws.state.label == before
