"""The corrections queue: order, replace, used items, survival across reopen, old schema."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from workbench.core.project import Project
from workbench.core.queue import describe_change, mask_change, tag_change


@pytest.fixture
def project(seg_project):
    return seg_project


def test_add_list_reorder_remove(project):
    q = project.queue
    names = project.image_names()[:3]
    items = [q.add(n, reason="by hand") for n in names]
    assert [i.image for i in q.items()] == names
    q.move(items[2].id, 0)
    assert [i.image for i in q.items()] == [names[2], names[0], names[1]]
    q.remove([items[0].id])
    assert [i.image for i in q.items()] == [names[2], names[1]]
    assert len(q) == 2


def test_requeue_replaces_pending_item(project):
    q = project.queue
    name = project.image_names()[0]
    q.add(name, change={"added": ["a"], "removed": []})
    q.add(name, change={"added": ["b"], "removed": []})
    assert [i.change["added"] for i in q.items()] == [["b"]]


def test_used_items_stay_and_clear_keeps_them(project):
    q = project.queue
    a, b = project.image_names()[:2]
    ia, _ = q.add(a), q.add(b)
    q.mark_used([ia.id], "run-2")
    assert [i.image for i in q.pending()] == [b]
    assert q.get(ia.id).used_by == "run-2"
    q.clear()
    assert [i.image for i in q.items()] == [a]


def test_queue_survives_reopen(seg_project):
    root, p = seg_project.root, seg_project
    name = p.image_names()[1]
    p.queue.add(name, reason="top loss", score=1.5, run_id="r1",
                change={"pixels": {"nucleus": 12}, "total": 12})
    p.close()
    with Project.open(root) as again:
        (item,) = again.queue.items()
    assert (item.image, item.reason, item.score, item.run_id) == (name, "top loss", 1.5, "r1")
    assert item.change == {"pixels": {"nucleus": 12}, "total": 12}


def test_listeners_called_and_unsubscribed(project):
    calls = []
    unsubscribe = project.queue.subscribe(lambda: calls.append(1))
    project.queue.add(project.image_names()[0])
    unsubscribe()
    project.queue.clear()
    assert calls == [1]


def test_schema_1_database_gains_new_columns(seg_project):
    root = seg_project.root
    seg_project.close()
    db = root / "workbench.db"
    con = sqlite3.connect(db)
    con.executescript("DROP TABLE queue; CREATE TABLE queue (id INTEGER PRIMARY KEY "
                      "AUTOINCREMENT, name TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', "
                      "score REAL, added_at REAL NOT NULL);"
                      "INSERT INTO queue (name, reason, score, added_at) "
                      "VALUES ('old.png', 'x', NULL, 1.0);")
    con.commit()
    con.close()
    with Project.open(root) as p:
        (item,) = p.queue.items()
        assert item.image == "old.png" and item.change == {} and not item.used


def test_mask_change_counts_new_class_of_changed_pixels():
    old = np.array([[0, 0, 255], [1, 1, 255]], np.uint8)
    new = np.array([[1, 0, 0], [1, 255, 255]], np.uint8)
    change = mask_change(old, new, ["background", "nucleus"])
    assert change == {"pixels": {"nucleus": 1, "background": 1, "unlabelled": 1}, "total": 3}
    assert "1 px nucleus" in describe_change(change)


def test_tag_change_and_description():
    change = tag_change(["a", "b"], ["b", "c"])
    assert change == {"added": ["c"], "removed": ["a"]}
    assert describe_change(change) == "+c −a"


def test_uncertainty_scores_replace_and_order(project):
    db = project.db
    db.set_uncertainty("r1", {"a.png": 0.2, "b.png": 0.9})
    db.set_uncertainty("r2", {"c.png": 0.5, "a.png": 0.7})
    assert list(db.uncertainty().items()) == [("a.png", 0.7), ("c.png", 0.5)]
    assert db.uncertainty_run() == "r2"
