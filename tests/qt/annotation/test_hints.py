"""What the workspace tells a new user: the empty-project hint and each task's own help text."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from workbench.core.project import Project, Task
from workbench.qt.annotation import AnnotationWorkspace


def test_empty_project_canvas_says_how_to_import(qtbot, tmp_path) -> None:
    project = Project.create(tmp_path / "empty", name="empty", task=Task.SEGMENTATION,
                             classes=["background", "cell"])
    try:
        ws = AnnotationWorkspace(project)
        qtbot.addWidget(ws)
        message = ws.canvas._message
        assert "no images yet" in message and "Import Images" in message and "Ctrl+I" in message
    finally:
        project.close()


def test_project_with_images_asks_to_select_one(qtbot, seg_project) -> None:
    ws = AnnotationWorkspace(seg_project)
    qtbot.addWidget(ws)
    assert ws.canvas._message.startswith("Select an image")


def test_multilabel_help_speaks_of_tags_not_strokes(tag_ws, seg_ws) -> None:
    tag_ws.toggle_help()
    text = tag_ws.help_overlay.text()
    assert "labels.csv" in text and "Same tags as the previous image" in text
    assert "stroke is journalled" not in text and "brush" not in text.lower()
    seg_ws.toggle_help()
    assert "stroke is journalled" in seg_ws.help_overlay.text()
