"""Many images and many threads: open stays cheap, the database is safe to share."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.core.project import Project, Status


def test_ten_thousand_images_open_without_decoding(tmp_path: Path) -> None:
    root = tmp_path / "big"
    Project.create(root, name="big", task="segmentation", classes=["bg", "fg"]).close()
    # Empty files: open must only list the folder, never decode, so they cost nothing here.
    for i in range(10_000):
        (root / "images" / f"im_{i:05d}.png").touch()
    for i in range(0, 10_000, 10):
        (root / "masks" / f"im_{i:05d}.png").touch()
    with Project.open(root) as project:
        names = project.image_names()
        statuses = project.statuses()
        assert len(names) == 10_000 and names[0] == "im_00000.png"
        assert sum(s is Status.LABELLED for s in statuses.values()) == 1000
    with Project.open(root, readonly=True) as project:
        assert len(project.labelled_names()) == 1000


def test_threads_read_while_one_writes(seg_project: Project) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                assert len(seg_project.statuses()) == 12
                seg_project.db.list_runs()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def writer(k: int) -> None:
        try:
            for i in range(20):
                seg_project.db.add_run(f"w{k}-{i}", {"i": i})
                seg_project.set_status(f"img_{i % 12:02d}.png", Status.REVIEWED)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    writers = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(30)
    stop.set()
    for t in readers:
        t.join(30)
    assert errors == []
    assert len(seg_project.db.list_runs()) == 40
    assert set(seg_project.statuses().values()) == {Status.REVIEWED}
    mask = np.zeros((48, 48), np.uint8)
    seg_project.write_mask("img_00.png", mask)
    assert Image.open(seg_project.mask_path("img_00.png")).size == (48, 48)
