"""File → Export Labels in the window: the core exporters, on a worker thread."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from workbench.qt.dialogs.export import ExportMenu
from workbench.qt.main_window import MainWindow

from .test_main_window import RecordingWorkspace


def test_export_menu_writes_masks_and_coco_instances(qtbot, seg_project, tmp_path):
    workspace = RecordingWorkspace()
    window = MainWindow(seg_project, workspace, None)
    qtbot.addWidget(window)
    menu = window.export_menu
    assert isinstance(menu, ExportMenu) and menu.menu in [
        a.menu() for a in window.file_menu.actions() if a.menu() is not None]
    names = [a.objectName() for a in menu.menu.actions()]
    assert names == ["action_export_masks", "action_export_palette", "action_export_coco"]
    out = tmp_path / "export"
    out.mkdir()
    menu.choose_folder = lambda _title: str(out)
    flushes = workspace.flushes
    menu.menu.actions()[2].trigger()  # Instances (COCO JSON)…
    menu.wait()
    assert workspace.flushes == flushes + 1  # pending edits were written first
    doc = json.loads((out / "instances.json").read_text())
    assert len(doc["images"]) == 12 and len(doc["annotations"]) == 12
    assert window.statusBar().currentMessage() == f"Exported 1 instance file to {out}."
    menu.menu.actions()[0].trigger()  # Index masks
    menu.wait()
    assert len(list(out.glob("*.png"))) == 12
    assert window.statusBar().currentMessage().startswith("Exported 12 index mask(s)")
    menu.choose_folder = lambda _title: ""  # cancelled: nothing happens
    assert not menu.export(lambda *_: None, "nothing")
    window.close()


def test_multilabel_project_exports_labels_csv_and_reports_failure(qtbot, tag_project,
                                                                     tmp_path):
    window = MainWindow(tag_project, RecordingWorkspace(), None)
    qtbot.addWidget(window)
    menu = window.export_menu
    assert [a.objectName() for a in menu.menu.actions()] == ["action_export_csv"]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    menu.choose_folder = lambda _title: str(blocker / "sub")
    menu.menu.actions()[0].trigger()
    menu.wait()
    assert window.statusBar().currentMessage().startswith("Export failed: ")
    assert str(blocker) in window.statusBar().currentMessage()
    window.close()
