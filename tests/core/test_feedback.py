"""Production feedback import: real bad files are each rejected by name, good ones queued."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workbench.core.errors import LabelError, ProjectError
from workbench.core.feedback import import_feedback


def _save(path, arr) -> None:
    Image.fromarray(arr).save(path)


def test_mask_feedback_good_and_bad_files(seg_project, tmp_path) -> None:
    fb, new = tmp_path / "fb", tmp_path / "new"
    fb.mkdir()
    new.mkdir()
    good = seg_project.read_mask("img_00.png").copy()
    good[:10, :10] = 1  # 100 pixels, some of them were background
    turned = int((seg_project.read_mask("img_00.png")[:10, :10] == 0).sum())
    _save(fb / "img_00.png", good)
    _save(fb / "img_01.png", np.zeros((40, 40), np.uint8))              # wrong size
    _save(fb / "img_02.png", np.full((48, 48), 7, np.uint8))            # out-of-range class
    (fb / "img_03.png").write_bytes(b"not a png at all")                # unreadable
    _save(fb / "img_04.png", np.zeros((48, 48, 3), np.uint8))           # colour, not an index
    _save(fb / "nosuch.png", np.zeros((48, 48), np.uint8))              # unknown image
    _save(new / "fresh.png", np.full((48, 48, 3), 90, np.uint8))
    _save(fb / "fresh.png", np.ones((48, 48), np.uint8))                # new image, from --images
    before = {n: seg_project.read_mask(n) for n in ("img_01.png", "img_02.png", "img_03.png")}

    report = import_feedback(seg_project, masks_dir=fb, images_dir=new, run_id="r1")

    assert sorted(i.image for i in report.items) == ["fresh.png", "img_00.png"]
    assert report.added_images == ["fresh.png"] and "fresh.png" in seg_project.image_names()
    assert not report.ok and len(report.skipped) == 5
    for bad, words in (("img_01.png", "40x40"), ("img_02.png", "7"), ("img_03.png", "img_03"),
                       ("img_04.png", "colour"), ("nosuch.png", "unknown image")):
        line = next(s for s in report.skipped if s.startswith(str(fb / bad)))
        assert words in line
    for name, mask in before.items():
        assert np.array_equal(seg_project.read_mask(name), mask)
    item = next(i for i in report.items if i.image == "img_00.png")
    assert item.change["pixels"] == {"shape": turned} and item.run_id == "r1"
    assert "production feedback" in item.reason
    assert np.array_equal(seg_project.read_mask("img_00.png"), good)
    assert [i.image for i in seg_project.queue.pending()] == [i.image for i in report.items]


def test_new_image_without_images_dir_is_skipped(seg_project, tmp_path) -> None:
    fb = tmp_path / "fb"
    fb.mkdir()
    _save(fb / "elsewhere.png", np.zeros((48, 48), np.uint8))
    report = import_feedback(seg_project, masks_dir=fb)
    assert report.items == [] and "--images" in report.skipped[0]
    assert seg_project.queue.items() == []


def test_csv_feedback_rows(tag_project, tmp_path) -> None:
    csv_path = tmp_path / "feedback.csv"
    csv_path.write_text(
        "image_name,tags\n"
        "tag_00,red blue\n"          # good: stem
        "tag_01.png,green\n"        # good: file name
        "ghost,red\n"               # unknown image
        "tag_02,red purple\n"       # unknown tag
        "tag_03,red,green\n"        # three columns
        "tag_00,green\n"            # second correction of the same image
    )
    old = {n: tag_project.tags(n) for n in ("tag_00.png", "tag_01.png", "tag_02.png")}
    report = import_feedback(tag_project, csv_path=csv_path)
    assert [i.image for i in report.items] == ["tag_00.png", "tag_01.png"]
    assert [s.split(": ")[0] for s in report.skipped] == [
        f"{csv_path}, line {n}" for n in (4, 5, 6, 7)]
    assert "ghost" in report.skipped[0] and "purple" in report.skipped[1]
    assert tag_project.tags("tag_00.png") == ["red", "blue"]
    assert tag_project.tags("tag_02.png") == old["tag_02.png"]
    first = report.items[0].change
    assert first == {"added": [t for t in ["red", "blue"] if t not in old["tag_00.png"]],
                     "removed": [t for t in old["tag_00.png"] if t not in ["red", "blue"]]}


@pytest.mark.parametrize("content", [b"name,labels\ntag_00,red\n", b"image_name,tags\n\xff\xfe\n"])
def test_unreadable_csv_writes_nothing(tag_project, tmp_path, content) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_bytes(content)
    before = tag_project.all_tags()
    with pytest.raises(LabelError, match="bad.csv"):
        import_feedback(tag_project, csv_path=csv_path)
    assert tag_project.all_tags() == before and tag_project.queue.items() == []


def test_wrong_source_for_task(tag_project, tmp_path) -> None:
    with pytest.raises(ProjectError, match="multilabel project"):
        import_feedback(tag_project, masks_dir=tmp_path)
