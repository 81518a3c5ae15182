"""The project dialogs the main window opens: new project and import (worker thread, report)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, QThread

from workbench.core.project import Project, Task
from workbench.qt.dialogs.import_dialog import ImportDialog
from workbench.qt.dialogs.new_project import NewProjectDialog


def test_new_project_dialog_creates_project_with_typed_classes(qtbot, tmp_path):
    dialog = NewProjectDialog(None, tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name_edit, "cells")
    assert dialog.classes.names() == ["background", "object"]
    dialog.classes.list.setCurrentRow(1)
    dialog.classes.remove_selected()
    qtbot.keyClicks(dialog.classes.name_edit, "nucleus, membrane")
    qtbot.keyClick(dialog.classes.name_edit, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.created_path is None  # Enter added, did not create
    dialog.classes.set_color(1, (250, 10, 10))
    dialog.valid_pct.setValue(30)
    dialog.accept()
    assert dialog.result() == NewProjectDialog.DialogCode.Accepted
    assert dialog.created_path == (tmp_path / "cells").resolve()
    with Project.open(dialog.created_path, readonly=True) as project:
        assert project.task is Task.SEGMENTATION
        assert project.classes == ["background", "nucleus", "membrane"]
        assert tuple(project.colors[1]) == (250, 10, 10)
        assert abs(project.split_rule.valid_pct - 0.3) < 1e-9


def test_new_project_dialog_shows_core_errors_and_stays_open(qtbot, tmp_path):
    dialog = NewProjectDialog(None, tmp_path)
    qtbot.addWidget(dialog)
    dialog.accept()  # no name yet
    assert "name" in dialog.error_label.text()
    (tmp_path / "dup").mkdir()
    Project.create(tmp_path / "dup", name="dup", task="segmentation", classes=["a", "b"]).close()
    dialog.name_edit.setText("dup")
    dialog.accept()
    assert "already contains a project" in dialog.error_label.text()
    assert dialog.created_path is None


def test_multilabel_task_switches_to_tags(qtbot, tmp_path):
    dialog = NewProjectDialog(None, tmp_path)
    qtbot.addWidget(dialog)
    dialog.task_box.setCurrentIndex(1)
    assert dialog.classes_label.text() == "Tags" and dialog.classes.names() == []


def _images(folder, count, bad=False):
    folder.mkdir()
    for i in range(count):
        Image.fromarray(np.full((40, 40, 3), 30 * i, np.uint8)).save(folder / f"new_{i}.png")
    if bad:
        (folder / "broken.png").write_bytes(b"not an image at all")


def test_import_runs_off_the_gui_thread_and_reports_skipped_files(qtbot, seg_project, tmp_path):
    _images(tmp_path / "incoming", 3, bad=True)
    dialog = ImportDialog(seg_project)
    qtbot.addWidget(dialog)
    assert [dialog.source_box.itemData(i) for i in range(dialog.source_box.count())] == [
        "folder", "masks", "camvid"]  # no labels.csv source for a segmentation project
    dialog.edits["images"].setText(str(tmp_path / "incoming"))
    threads = []
    original = seg_project.add_images

    def recording_add(*args, **kwargs):
        threads.append(QThread.currentThread())
        return original(*args, **kwargs)

    seg_project.add_images = recording_add
    with qtbot.waitSignal(dialog.imported, timeout=10000) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    report = blocker.args[0]
    assert len(report.added) == 3 and threads and threads[0] is not dialog.thread()
    text = dialog.report_view.toPlainText()
    assert "Imported 3 image(s)" in text and "broken.png" in text
    assert sum(n.startswith("new_") for n in seg_project.image_names()) == 3


def test_import_camvid_style_masks_by_pattern(qtbot, seg_project, tmp_path):
    _images(tmp_path / "cv", 2)
    for i in range(2):
        Image.fromarray(np.ones((40, 40), np.uint8)).save(tmp_path / "cv" / f"new_{i}_P.png")
    (tmp_path / "cv" / "codes.txt").write_text("background\nshape\n")
    dialog = ImportDialog(seg_project)
    qtbot.addWidget(dialog)
    dialog.source_box.setCurrentIndex(dialog.source_box.findData("camvid"))
    assert dialog.form.isRowVisible(dialog.rows["pattern"])
    for key, value in (("images", tmp_path / "cv"), ("masks", tmp_path / "cv"),
                       ("codes", tmp_path / "cv" / "codes.txt")):
        dialog.edits[key].setText(str(value))
    with qtbot.waitSignal(dialog.imported, timeout=10000) as blocker:
        dialog.start_import()
    assert sorted(blocker.args[0].labelled) == ["new_0.png", "new_1.png"]
    assert seg_project.read_mask("new_0.png").max() == 1


def test_import_failure_is_shown_not_raised(qtbot, tag_project, tmp_path):
    dialog = ImportDialog(tag_project)
    qtbot.addWidget(dialog)
    dialog.source_box.setCurrentIndex(dialog.source_box.findData("csv"))
    dialog.edits["images"].setText(str(tmp_path))
    dialog.edits["csv"].setText(str(tmp_path / "missing.csv"))
    dialog.start_import()
    qtbot.waitUntil(lambda: "Import failed" in dialog.report_view.toPlainText(), timeout=10000)
    assert "missing.csv" in dialog.report_view.toPlainText()
    assert dialog.import_button.isEnabled()


def test_import_asks_for_missing_fields(qtbot, seg_project):
    dialog = ImportDialog(seg_project)
    qtbot.addWidget(dialog)
    dialog.start_import()
    assert dialog.report_view.toPlainText() == "Fill in: images."
    assert not dialog.is_running()
