"""Autosave, navigation keys, review status, help overlay and the tag panel."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from workbench.core.project import Status
from workbench.qt.annotation.shortcuts import SHORTCUTS


def key(ws, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(ws.canvas.viewport(), k, mods)


def test_autosave_writes_a_few_seconds_after_the_last_edit(qtbot, seg_ws, drag) -> None:
    name = seg_ws.current_name
    seg_ws.controller.session.autosave.delay_s = 0.3  # keep the test quick
    key(seg_ws, Qt.Key.Key_E)
    with qtbot.waitSignal(seg_ws.labelsSaved, timeout=3000) as blocker:
        drag(seg_ws, [(3, 3), (3, 30)])
        assert seg_ws.controller.session.dirty
    assert blocker.args == [name]
    assert (seg_ws.project.read_mask(name)[3:31, 3] == 255).all()
    assert not seg_ws.controller.session.dirty


def test_navigation_keys_emit_signals(qtbot, seg_ws) -> None:
    got = []
    seg_ws.navigateRequested.connect(got.append)
    for k in (Qt.Key.Key_PageDown, Qt.Key.Key_D, Qt.Key.Key_PageUp, Qt.Key.Key_A, Qt.Key.Key_N):
        key(seg_ws, k)
    assert got == ["next", "next", "prev", "prev", "next_unlabelled"]


def test_mark_reviewed_key_toggles_status(qtbot, seg_ws) -> None:
    name = seg_ws.current_name
    with qtbot.waitSignal(seg_ws.statusChanged) as blocker:
        key(seg_ws, Qt.Key.Key_R)
    assert blocker.args == [name, "reviewed"]
    assert seg_ws.project.status(name) == Status.REVIEWED
    key(seg_ws, Qt.Key.Key_R)
    assert seg_ws.project.status(name) == Status.LABELLED


def test_status_becomes_labelled_when_a_new_mask_is_saved(qtbot, seg_ws, drag) -> None:
    name = seg_ws.project.image_names()[3]
    seg_ws.project.clear_label(name)
    seg_ws.open_image(name)
    assert seg_ws.project.read_mask(name) is None
    assert (seg_ws.controller.session.mask == 255).all()  # a blank, unlabelled mask
    with qtbot.waitSignal(seg_ws.statusChanged) as blocker:
        drag(seg_ws, [(10, 10), (20, 20)])
        seg_ws.flush()
    assert blocker.args == [name, "labelled"]
    assert seg_ws.project.read_mask(name) is not None


def test_switching_images_keeps_a_stroke_in_progress(seg_ws) -> None:
    name = seg_ws.current_name
    seg_ws.state.set_brush_size(2)
    key(seg_ws, Qt.Key.Key_E)
    vp = seg_ws.canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     seg_ws.canvas.to_widget(QPointF(40.5, 2.5)).toPoint())
    QTest.mouseMove(vp, seg_ws.canvas.to_widget(QPointF(40.5, 20.5)).toPoint())
    seg_ws.open_image(seg_ws.project.image_names()[1])  # mouse still held
    assert (seg_ws.project.read_mask(name)[2:21, 40] == 255).all()


def test_help_overlay_lists_every_shortcut(qtbot, seg_ws) -> None:
    key(seg_ws, Qt.Key.Key_F1)
    assert seg_ws.help_overlay.isVisible()
    text = seg_ws.help_overlay.text()
    for sc in SHORTCUTS:
        if sc.section in ("all", "segmentation"):
            assert sc.text.replace("'", "&#x27;") in text
            assert all(k.replace("&", "&amp;") in text for k in sc.keys)
    key(seg_ws, Qt.Key.Key_F1)
    assert not seg_ws.help_overlay.isVisible()
    QTest.keyClick(seg_ws.canvas.viewport(), "?")
    assert seg_ws.help_overlay.isVisible()
    QTest.keyClick(seg_ws.help_overlay, Qt.Key.Key_Escape)
    assert not seg_ws.help_overlay.isVisible()


def test_zoom_keys(seg_ws) -> None:
    canvas = seg_ws.canvas
    key(seg_ws, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert canvas.scale == 1.0
    key(seg_ws, Qt.Key.Key_F)
    assert canvas.scale > 5  # 48 px image in a ~440 px view


def test_tags_keys_save_at_once_and_same_as_previous(qtbot, tag_ws) -> None:
    project = tag_ws.project
    first, second = project.image_names()[:2]
    panel = tag_ws.tag_panel
    assert panel.checked() == project.tags(first)
    before = set(project.tags(first))
    with qtbot.waitSignal(tag_ws.labelsSaved):
        key(tag_ws, Qt.Key.Key_2)  # toggles "green"
    assert set(project.tags(first)) == before ^ {"green"}
    key(tag_ws, Qt.Key.Key_1)
    key(tag_ws, Qt.Key.Key_3)
    chosen = project.tags(first)
    assert set(chosen) == before ^ {"red", "green", "blue"}
    tag_ws.open_image(second)
    assert panel.checked() == project.tags(second)
    key(tag_ws, Qt.Key.Key_S)  # same as previous image
    assert project.tags(second) == chosen
    assert project.status(second) == Status.LABELLED
    badges = [t for t, _ in tag_ws.canvas._badges]
    assert badges == chosen


def test_tag_filter_hides_other_tags(tag_ws) -> None:
    panel = tag_ws.tag_panel
    key(tag_ws, Qt.Key.Key_Slash)
    assert panel.filter_edit.hasFocus()
    QTest.keyClicks(panel.filter_edit, "re")
    visible = [t for t, b in zip(panel.tags, panel.boxes) if not b.isHidden()]
    assert visible == ["red", "green"]
    assert panel.filter_edit.text() == "re"  # typing went to the box, not the tag keys


def test_read_only_project_is_view_only(qtbot, seg_project, drag) -> None:
    from workbench.core.project import Project
    from workbench.qt.annotation import AnnotationWorkspace

    name = seg_project.image_names()[0]
    before = seg_project.read_mask(name)
    with Project.open(seg_project.root, readonly=True) as ro:
        ws = AnnotationWorkspace(ro)
        qtbot.addWidget(ws)
        ws.resize(500, 400)
        ws.show()
        ws.open_image(name)
        assert ws.canvas.overlay.image is not None  # the saved mask is shown
        key(ws, Qt.Key.Key_E)
        drag(ws, [(5, 5), (40, 40)])
        ws.flush()
    assert (seg_project.read_mask(name) == before).all()


def test_opacity_slider_and_canvas_stay_in_step(seg_ws) -> None:
    from PySide6.QtWidgets import QSlider

    slider = seg_ws.findChild(QSlider, "opacitySlider")
    slider.setValue(80)
    assert seg_ws.canvas.overlay_opacity == 0.8
    seg_ws.canvas.set_overlay_opacity(0.25)  # as the main window may do
    assert slider.value() == 25 and seg_ws.state.opacity == 0.25


def test_auto_contrast_key_stretches_dim_images_for_display(qtbot, tag_ws) -> None:
    canvas = tag_ws.canvas
    dim = np.zeros((20, 20, 3), np.uint8)
    dim[:, 10:] = 60
    canvas.set_image(dim)
    assert canvas.auto_contrast
    assert canvas._image.pixelColor(15, 5).red() == 255  # stretched
    key(tag_ws, Qt.Key.Key_C)
    assert not canvas.auto_contrast
    assert canvas._image.pixelColor(15, 5).red() == 60  # the real values
