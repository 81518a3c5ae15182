"""Per-project memory: training settings, brush size, selected class and the last import folder
come back when the project is reopened, from the project folder (not from user settings)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QSettings

from workbench.app import create_main_window
from workbench.core.prefs import PREFS_NAME, ProjectPrefs
from workbench.core.project import Project
from workbench.qt.annotation import AnnotationWorkspace
from workbench.qt.main_window import MainWindow
from workbench.qt.project_prefs import PrefsBinder


def _open(qtbot, root: Path, tmp_path: Path, name: str = "settings.ini"):
    """The app's whole window. A fresh user-settings file each time: what comes back must
    come from the project folder."""
    settings = QSettings(str(tmp_path / name), QSettings.Format.IniFormat)
    window = create_main_window(root, settings)
    qtbot.addWidget(window)
    return window


def _open_light(qtbot, root: Path):
    """The window without the training panel (no torch import on a probe thread): enough for
    the workspace and import memories, and much lighter on a busy 2-core machine."""
    project = Project.open(root)
    workspace = AnnotationWorkspace(project)
    window = MainWindow(project, workspace, None, owns_project=True)
    window.prefs = PrefsBinder(ProjectPrefs(root), window, workspace, None)
    qtbot.addWidget(window)
    return window


def test_training_brush_and_class_come_back_after_reopening(qtbot, seg_project, tmp_path):
    root = seg_project.root
    seg_project.close()
    window = _open(qtbot, root, tmp_path, "one.ini")
    ws, panel = window.workspace, window.training_panel
    ws.state.set_brush_size(37)
    ws.state.set_label(1)
    panel.form.epochs_spin.setValue(7)
    panel.form.bs_spin.setValue(4)
    panel.form.set_lr(3e-3)
    panel.form.arch_combo.setCurrentText("resnet34")
    panel.stages.set_mode("frozen")
    panel.stages.unfreeze_epochs.setValue(5)
    window.close()
    saved = json.loads((root / PREFS_NAME).read_text())
    assert saved["annotation"] == {"brush_size": 37, "label": 1, "tolerance": 45,
                                   "hidden": []}

    again = _open(qtbot, root, tmp_path, "two.ini")
    try:
        assert again.workspace.state.brush_size == 37
        assert again.workspace.state.label == 1
        config = again.training_panel.form.config
        assert (config.epochs, config.bs, config.lr, config.arch) == (7, 4, 3e-3, "resnet34")
        assert again.training_panel.form.epochs_spin.value() == 7
        stages = again.training_panel.stages.settings
        assert stages.mode == "frozen" and stages.unfreeze_epochs == 5
    finally:
        again.close()


def test_eraser_remembers_the_class_to_come_back_to(qtbot, seg_project, tmp_path):
    root = seg_project.root
    seg_project.close()
    window = _open_light(qtbot, root)
    window.workspace.state.set_label(1)
    window.workspace.state.select_eraser()
    window.close()
    again = _open_light(qtbot, root)
    try:
        assert again.workspace.state.label == 1  # never reopens on the eraser by surprise
    finally:
        again.close()


def test_last_import_folder_is_remembered(qtbot, seg_project, tmp_path, monkeypatch):
    from workbench.qt.dialogs import import_dialog

    root = seg_project.root
    seg_project.close()
    src = tmp_path / "new-batch"
    src.mkdir()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(src / "zz.png")
    window = _open_light(qtbot, root)
    shown = []

    def run_dialog(dialog) -> int:
        shown.append(dialog.start_dir)
        dialog.edits["images"].setText(str(src))
        with qtbot.waitSignal(dialog.imported, timeout=20000):
            dialog.start_import()
        return 0

    monkeypatch.setattr(import_dialog.ImportDialog, "exec", run_dialog)
    window.show_import_dialog()
    assert shown == [""]
    assert "zz.png" in window.project.image_names()
    window.close()
    again = _open_light(qtbot, root)
    try:
        again.show_import_dialog()
        assert shown[-1] == str(src)
    finally:
        again.close()


def test_damaged_prefs_file_is_ignored_and_readonly_is_never_written(tmp_path):
    (tmp_path / PREFS_NAME).write_text("{not json")
    prefs = ProjectPrefs(tmp_path)
    assert prefs.section("training") == {}
    prefs.update("annotation", {"brush_size": 5})
    assert prefs.save()
    assert json.loads((tmp_path / PREFS_NAME).read_text()) == {"annotation": {"brush_size": 5}}
    viewer = ProjectPrefs(tmp_path, readonly=True)
    viewer.update("annotation", {"brush_size": 9})
    assert viewer.save() is False
    assert ProjectPrefs(tmp_path).section("annotation") == {"brush_size": 5}


def test_display_levels_hidden_classes_and_tolerance_come_back(qtbot, seg_project, tmp_path):
    from workbench.core.display import Levels

    root = seg_project.root
    name = seg_project.image_names()[0]
    seg_project.close()
    window = _open_light(qtbot, root)
    window.show()
    qtbot.waitUntil(lambda: window.workspace.current_name == name, timeout=3000)
    ws = window.workspace
    ws.display.set_auto(False)
    ws.display.set_levels(Levels(10, 90, 1.5), "image")
    ws.display.set_levels(Levels(0, 200), "project")
    ws.state.set_class_visible(1, False)
    ws.state.set_tolerance(70)
    window.close()
    again = _open_light(qtbot, root)
    again.show()
    qtbot.waitUntil(lambda: again.workspace.current_name == name, timeout=3000)
    display, state = again.workspace.display, again.workspace.state
    assert display.auto is False and display.project_levels == Levels(0, 200)
    assert display.image_levels == {name: Levels(10, 90, 1.5)}
    assert again.workspace.canvas.levels == Levels(10, 90, 1.5)  # this image's own levels
    assert state.hidden == frozenset({1}) and state.tolerance == 70
    again.close()
