"""Saving an image opened as a correction queues exactly one item with the right diff; the
label / prediction / errors toggle shows the right layer; Ctrl+E queues by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.app import create_main_window
from workbench.core.manifest import ERROR_COLOR
from workbench.qt.canvas.overlay import colour_lut


def _window(qtbot, project):
    window = create_main_window(project)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.browser.current_name() is not None)
    return window


def _write_prediction(project, name: str, mask: np.ndarray) -> None:
    folder = Path(project.root) / "predictions" / "run-x"
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(folder / f"{Path(name).stem}.png")


def test_saving_a_correction_queues_one_item_with_the_diff(qtbot, seg_project):
    window = _window(qtbot, seg_project)
    loop, ws = window.loop, window.workspace
    name = "img_03.png"
    before = seg_project.read_mask(name).copy()
    assert loop.correct(name, "run-7", 2.5)
    assert ws.current_name == name
    session = ws.controller.session
    # two separate edits, each saved: still one queue item, holding both changes
    ws.state.set_label(1)
    session.mask[0:2, 0:5] = 1  # 10 px, background -> shape
    session.document.touch((0, 0, 2, 5))
    ws.controller.save()
    session.mask[40:42, 40:43] = 0  # 6 px, some maybe already background
    session.document.touch((40, 40, 42, 43))
    ws.controller.save()
    items = seg_project.queue.pending()
    assert len(items) == 1
    item = items[0]
    after = seg_project.read_mask(name)
    expected = int((after != before).sum())
    assert item.image == name and item.run_id == "run-7" and item.score == 2.5
    assert item.change["total"] == expected > 0
    assert item.change["pixels"].get("shape", 0) == int(((after != before) & (after == 1)).sum())
    assert window.loop.queue_dock.windowTitle() == "Queue (1)"
    assert loop.queue_model.rowCount() == 1
    # moving on ends the correction: later saves of other images add nothing
    window.browser.select("img_04.png")
    ws.controller.session.mask[0, 0] = 1 - ws.controller.session.mask[0, 0]
    ws.controller.session.document.touch((0, 0, 1, 1))
    ws.controller.save()
    assert len(seg_project.queue.pending()) == 1
    # any image can be queued by hand with the key
    ws.canvas.setFocus()
    QTest.keyClick(ws.canvas.viewport(), Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    by_hand = seg_project.queue.pending()[-1]
    assert by_hand.image == "img_04.png" and by_hand.reason == "added by hand"
    assert window.loop.queue_dock.windowTitle() == "Queue (2)"


def test_view_toggle_shows_label_prediction_and_errors(qtbot, seg_project):
    window = _window(qtbot, seg_project)
    loop, ws = window.loop, window.workspace
    messages: list[str] = []
    ws.errorOccurred.connect(messages.append)
    assert not loop.view.set_view("prediction")  # none yet: says so, stays on the label
    assert loop.view.view == "label" and "No prediction" in messages[-1]
    name = "img_06.png"
    label = seg_project.read_mask(name)
    pred = np.zeros_like(label)  # the model saw only background: the shape is all error
    _write_prediction(seg_project, name, pred)
    window.browser.select(name)
    overlay = ws.canvas.overlay
    assert overlay._mask is ws.controller.session.mask
    QTest.keyClick(ws.canvas.viewport(), Qt.Key.Key_V)
    assert loop.view.view == "prediction"
    assert np.array_equal(overlay._mask, pred)
    QTest.keyClick(ws.canvas.viewport(), Qt.Key.Key_V)
    assert loop.view.view == "errors"
    assert np.array_equal(overlay._mask == 0, label == 1)  # exactly the missed shape
    assert np.array_equal(overlay._lut, colour_lut([ERROR_COLOR]))  # the Mistakes grid's red
    assert loop.view_toggle.group.checkedId() == 2
    # painting goes back to the label, which is what is edited
    QTest.mouseClick(ws.canvas.viewport(), Qt.MouseButton.LeftButton)
    assert loop.view.view == "label" and overlay._mask is ws.controller.session.mask
    # "From prediction" stays one undo step
    painted = ws.controller.session.mask.copy()
    assert ws.start_from_prediction()
    assert np.array_equal(ws.controller.session.mask, pred)
    ws.controller.undo()
    assert np.array_equal(ws.controller.session.mask, painted)


def test_tag_probabilities_and_predicted_tags_as_one_undo_step(qtbot, tag_project):
    window = _window(qtbot, tag_project)
    loop, ws = window.loop, window.workspace
    name = "tag_00.png"  # labelled ["red"]
    folder = Path(tag_project.root) / "predictions" / "run-t"
    folder.mkdir(parents=True)
    (folder / "predictions.csv").write_text(
        "image_name,red,green,blue\ntag_00,0.10,0.90,0.35\n", encoding="utf-8")
    assert loop.correct(name, "run-t", 1.2)
    red, green, blue = ws.tag_panel.boxes
    assert red.text().endswith("0.10") and green.text().endswith("0.90")
    assert red.isChecked() and not green.isChecked()
    button = loop.tag_predictions.button
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert tag_project.tags(name) == ["green", "blue"]  # above the 0.2 threshold
    assert green.isChecked() and blue.isChecked() and not red.isChecked()
    items = tag_project.queue.pending()  # saved as a correction: one item with the tag diff
    assert len(items) == 1 and items[0].change == {"added": ["green", "blue"],
                                                   "removed": ["red"]}
    ws.tag_undo.undo()  # one step back to the label
    assert tag_project.tags(name) == ["red"]
    assert tag_project.queue.pending() == []  # undone to where it started: nothing to refit
    window.browser.select("tag_01.png")  # no prediction: plain ticks, button off
    assert not button.isEnabled() and red.text() == "red   (1)"


def test_empty_queue_hint_names_the_real_add_shortcut(qtbot, seg_project):
    window = _window(qtbot, seg_project)
    shortcut = window.loop.add_action.shortcut().toString()
    assert shortcut and shortcut in window.loop.queue_panel.hint.text()
