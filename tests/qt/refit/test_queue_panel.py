"""Queue panel: the item model passes Qt's model checks and follows the core queue."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QModelIndex, Qt

from workbench.core.project import Project
from workbench.core.queue import mask_change
from workbench.qt.refit.queue_model import CHANGE, MIME, RUN, STATE, QueueModel
from workbench.qt.refit.queue_panel import QueuePanel, badge_title


def _fill(project) -> list[int]:
    q = project.queue
    change = mask_change(np.zeros((4, 4), np.uint8), np.eye(4, dtype=np.uint8), ["bg", "shape"])
    a = q.add("img_00.png", reason="top loss", score=1.5, run_id="run-1", change=change)
    b = q.add("img_01.png", reason="by hand")
    c = q.add("img_02.png", change={"added": ["red"], "removed": []})
    return [a.id, b.id, c.id]


def test_model_passes_modeltester_and_follows_changes(qtmodeltester, seg_project):
    ids = _fill(seg_project)
    model = QueueModel(seg_project.queue)
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 3
    assert model.index(0, CHANGE).data() == "4 px shape"
    assert model.index(0, RUN).data() == "run-1"
    assert model.index(1, CHANGE).data() == "by hand"
    assert model.index(2, CHANGE).data() == "+red"
    seg_project.queue.mark_used([ids[0]], "run-2")
    assert model.index(0, STATE).data() == "done"
    assert "Used by refit run run-2" in model.index(0, STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert model.pending_count() == 2
    seg_project.queue.remove([ids[1]])
    assert [i.image for i in model.items()] == ["img_00.png", "img_02.png"]
    qtmodeltester.check(model, force_py=True)


def test_drop_reorders_the_queue(qtbot, seg_project):
    ids = _fill(seg_project)
    model = QueueModel(seg_project.queue)
    mime = model.mimeData([model.index(2, 0)])
    assert mime.hasFormat(MIME)
    assert model.dropMimeData(mime, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert [i.id for i in seg_project.queue.items()] == [ids[2], ids[0], ids[1]]
    # dragging the first row below the last puts it last
    mime = model.mimeData([model.index(0, 0)])
    model.dropMimeData(mime, Qt.DropAction.MoveAction, 3, 0, QModelIndex())
    assert [i.id for i in seg_project.queue.items()] == [ids[0], ids[1], ids[2]]
    assert not model.dropMimeData(QMimeData(), Qt.DropAction.MoveAction, 0, 0, QModelIndex())


def test_panel_buttons_remove_move_open_and_badge(qtbot, seg_project):
    ids = _fill(seg_project)
    panel = QueuePanel(QueueModel(seg_project.queue))
    qtbot.addWidget(panel)
    counts: list[int] = []
    panel.countChanged.connect(counts.append)
    assert not panel.remove_button.isEnabled()
    panel.select_row(1)
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
    assert [i.id for i in seg_project.queue.items()] == [ids[1], ids[0], ids[2]]
    assert panel.selected_row() == 0  # the selection follows the moved item
    qtbot.mouseClick(panel.down_button, Qt.MouseButton.LeftButton)
    assert [i.id for i in seg_project.queue.items()] == [ids[0], ids[1], ids[2]]
    with qtbot.waitSignal(panel.openRequested) as opened:
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert opened.args == ["img_01.png"]
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert [i.id for i in seg_project.queue.items()] == [ids[0], ids[2]]
    assert counts[-1] == 2
    assert badge_title("Queue", 2) == "Queue (2)" and badge_title("Queue", 0) == "Queue"


def test_queue_survives_reopening(qtbot, seg_project):
    _fill(seg_project)
    root = seg_project.root
    seg_project.close()
    reopened = Project.open(root)
    try:
        model = QueueModel(reopened.queue)
        assert [i.image for i in model.items()] == ["img_00.png", "img_01.png", "img_02.png"]
        assert model.index(0, CHANGE).data() == "4 px shape"
    finally:
        reopened.close()
