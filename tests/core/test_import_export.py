"""Every import and export path, and how each reports files it could not take."""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core import atomic, exporters, importers
from workbench.core.errors import LabelError, ProjectError
from workbench.core.labels import read_labels_csv
from workbench.core.project import Project, Status


def _save(path: Path, arr: np.ndarray, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def _rgb(h: int = 16, w: int = 16, v: int = 100) -> np.ndarray:
    return np.full((h, w, 3), v, np.uint8)


@pytest.fixture
def seg(tmp_path: Path) -> Iterator[Project]:
    project = Project.create(tmp_path / "seg", name="s", task="segmentation",
                             classes=["bg", "a", "b"])
    yield project
    project.close()


@pytest.fixture
def tags(tmp_path: Path) -> Iterator[Project]:
    project = Project.create(tmp_path / "tags", name="t", task="multilabel", classes=["x", "y"])
    yield project
    project.close()


def test_plain_folder_reports_every_skipped_file(seg: Project, tmp_path: Path) -> None:
    src = tmp_path / "in"
    _save(src / "good.png", _rgb())
    _save(src / "photo.JPG", _rgb(), format="JPEG")
    _save(src / "scan.tiff", _rgb())
    _save(src / "old.bmp", _rgb())
    _save(src / "web.webp", _rgb())
    _save(src / "anim.gif", _rgb().mean(axis=2).astype(np.uint8))
    (src / "notes.txt").write_text("hello")
    (src / "noise.png").write_bytes(os.urandom(500))
    buf = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(buf, format="PNG")
    (src / "cut.png").write_bytes(buf.getvalue()[:100])
    calls: list[tuple[int, int]] = []
    report = importers.import_images(seg, src, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 9) and calls[-1] == (9, 9) and len(calls) == 10
    assert sorted(report.added) == ["good.png", "old.bmp", "photo.JPG", "scan.tiff", "web.webp"]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"anim.gif", "notes.txt", "noise.png", "cut.png"}
    assert "not a supported image type (.gif)" in reasons["anim.gif"]
    assert "noise.png" in reasons["noise.png"] and "cut.png" in reasons["cut.png"]
    assert seg.image_names() == sorted(report.added)
    assert "skipped" in report.summary() and "cut.png" in report.summary()
    assert all(s is Status.UNLABELLED for s in seg.statuses().values())


def test_reimport_is_idempotent_and_name_clashes_are_reported(seg: Project, tmp_path: Path
                                                              ) -> None:
    _save(tmp_path / "a" / "x.png", _rgb(v=1))
    _save(tmp_path / "b" / "x.png", _rgb(v=2))
    _save(tmp_path / "b" / "x.jpg", _rgb(v=3), format="JPEG")
    assert importers.import_images(seg, tmp_path / "a").added == ["x.png"]
    again = importers.import_images(seg, tmp_path / "a")
    assert again.added == [] and again.existing == ["x.png"] and again.skipped == []
    clash = importers.import_images(seg, tmp_path / "b")
    reasons = {Path(p).name: r for p, r in clash.skipped}
    assert "different image named x.png" in reasons["x.png"]
    assert "same stem" in reasons["x.jpg"]
    assert seg.image_names() == ["x.png"]
    assert (seg.images_dir / "x.png").read_bytes() == (tmp_path / "a" / "x.png").read_bytes()
    missing = seg.add_images([tmp_path / "nope.png"])
    assert missing.skipped == [(str(tmp_path / "nope.png"), "file does not exist")]
    with pytest.raises(ProjectError, match="does not exist"):
        importers.import_images(seg, tmp_path / "nowhere")


def test_add_images_in_place(seg: Project) -> None:
    _save(seg.images_dir / "dropped.png", _rgb())
    report = seg.add_images([seg.images_dir / "dropped.png"], copy=False)
    assert report.added == ["dropped.png"] and seg.image_names() == ["dropped.png"]
    outside = seg.add_images([_save(seg.root.parent / "o.png", _rgb())], copy=False)
    assert "not inside" in outside.skipped[0][1]


def test_camvid_masks_with_pattern_and_codes(seg: Project, tmp_path: Path) -> None:
    images, labels = tmp_path / "images", tmp_path / "labels"
    for i in range(4):
        _save(images / f"f{i}.png", _rgb())
    good = np.zeros((16, 16), np.uint8)
    good[4:8, 4:8] = 2
    pal = Image.fromarray(good, mode="P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    labels.mkdir()
    pal.save(labels / "f0_P.png")  # palette mask: indices are used
    _save(labels / "f1_P.png", np.zeros((8, 8), np.uint8))  # wrong size
    _save(labels / "f2_P.png", np.full((16, 16), 5, np.uint8))  # value outside classes
    _save(labels / "stray_P.png", good)  # no image for it
    (tmp_path / "codes.txt").write_text("bg\na\nb\n")
    report = importers.import_masks(seg, images, labels, pattern="{stem}_P.png",
                                    codes=tmp_path / "codes.txt")
    assert len(report.added) == 4 and report.labelled == ["f0.png"]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert "is 8x8 but image f1.png is 16x16" in reasons["f1_P.png"]
    assert str(labels / "f1_P.png") in reasons["f1_P.png"]
    assert "values 5 outside the 3 classes" in reasons["f2_P.png"]
    assert "no imported image" in reasons["stray_P.png"]
    np.testing.assert_array_equal(seg.read_mask("f0.png"), good)
    assert seg.statuses() == {"f0.png": Status.LABELLED, "f1.png": Status.UNLABELLED,
                              "f2.png": Status.UNLABELLED, "f3.png": Status.UNLABELLED}
    assert not seg.mask_path("f1.png").exists()


def test_codes_mismatch_and_bad_pattern(seg: Project, tmp_path: Path) -> None:
    (tmp_path / "codes.txt").write_text("sky\nroad\n")
    (tmp_path / "m").mkdir()
    with pytest.raises(LabelError, match=r"codes.txt lists classes \['sky', 'road'\]"):
        importers.import_masks(seg, tmp_path, tmp_path / "m", codes=tmp_path / "codes.txt")
    for bad in ("mask.png", "{stem}_{kind}.png", "{stem"):
        with pytest.raises(ProjectError, match="must contain"):
            importers.import_masks(seg, tmp_path, tmp_path / "m", pattern=bad)
    with pytest.raises(ProjectError, match="Mask folder"):
        importers.import_masks(seg, tmp_path, tmp_path / "nomasks")


def test_folder_of_index_masks(seg: Project, tmp_path: Path) -> None:
    _save(tmp_path / "im" / "k.jpg", _rgb(), format="JPEG")
    _save(tmp_path / "mk" / "k.png", np.ones((16, 16), np.uint8))
    report = importers.import_masks(seg, tmp_path / "im", tmp_path / "mk")
    assert report.labelled == ["k.jpg"] and report.skipped == []
    assert seg.mask_path("k.jpg").name == "k.png"


def test_planet_csv(tags: Project, tmp_path: Path) -> None:
    for n in ("a", "b", "c", "d"):
        _save(tmp_path / "im" / f"{n}.jpg", _rgb(), format="JPEG")
    (tmp_path / "labels.csv").write_text(
        "image_name,tags\na,x y\nb.jpg,y\nc,x purple\nghost,x\n")
    report = importers.import_csv(tags, tmp_path / "im", tmp_path / "labels.csv")
    assert report.labelled == ["a.jpg", "b.jpg"]
    reasons = dict(report.skipped)
    assert "unknown tag(s) purple" in reasons[f"{tmp_path / 'labels.csv'}: c"]
    assert "no imported image" in reasons[f"{tmp_path / 'labels.csv'}: ghost"]
    assert tags.tags("a.jpg") == ["x", "y"] and tags.status("d.jpg") is Status.UNLABELLED
    again = importers.import_csv(tags, tmp_path / "im", tmp_path / "labels.csv", add_tags=True)
    assert "purple" in tags.classes and "c.jpg" in again.labelled


def test_bad_csv_files(tags: Project, tmp_path: Path) -> None:
    (tmp_path / "im").mkdir()
    (tmp_path / "bad.csv").write_text("file,labels\na,x\n")
    with pytest.raises(LabelError, match="bad.csv must start with the header"):
        importers.import_csv(tags, tmp_path / "im", tmp_path / "bad.csv")
    (tmp_path / "cols.csv").write_text("image_name,tags\na,x,y\n")
    with pytest.raises(LabelError, match="cols.csv, line 2: expected 2 columns"):
        importers.import_csv(tags, tmp_path / "im", tmp_path / "cols.csv")
    with pytest.raises(LabelError, match="missing.csv does not exist"):
        importers.import_csv(tags, tmp_path / "im", tmp_path / "missing.csv")
    with pytest.raises(ProjectError, match="segmentation project"):
        importers.import_masks(tags, tmp_path / "im", tmp_path / "im")


def test_disk_full_during_import_stops_and_reports(seg: Project, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for n in ("a", "b", "c"):
        _save(tmp_path / "in" / f"{n}.png", _rgb())
    importers.import_images(seg, tmp_path / "in" )
    for n in ("d", "e"):
        _save(tmp_path / "in2" / f"{n}.png", _rgb())
    before = {p.name: p.read_bytes() for p in seg.images_dir.iterdir()}

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full)
    report = importers.import_images(seg, tmp_path / "in2")
    assert report.added == [] and report.error is not None and "disk is full" in report.error
    assert [Path(p).name for p, _ in report.skipped] == ["d.png", "e.png"]
    assert {p.name: p.read_bytes() for p in seg.images_dir.iterdir()} == before


def test_read_only_project_folder_on_mask_write(seg: Project, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _save(tmp_path / "in" / "a.png", _rgb())
    importers.import_images(seg, tmp_path / "in")

    def denied(*_a: object, **_k: object) -> None:
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    from workbench.core.errors import ReadOnlyError

    with pytest.raises(ReadOnlyError, match="masks/a.png.*read-only"):
        seg.write_mask("a.png", np.zeros((16, 16), np.uint8))
    assert seg.status("a.png") is Status.UNLABELLED


def test_export_masks_and_palette(seg_project: Project, tmp_path: Path) -> None:
    written = exporters.export_masks(seg_project, tmp_path / "masks")
    assert len(written) == 12
    np.testing.assert_array_equal(np.asarray(Image.open(written[0])),
                                  seg_project.read_mask("img_00.png"))
    pal = exporters.export_palette(seg_project, tmp_path / "pal")
    with Image.open(pal[0]) as img:
        assert img.mode == "P"
        idx = np.asarray(img)
        np.testing.assert_array_equal(idx, seg_project.read_mask("img_00.png"))
        rgb = np.asarray(img.convert("RGB"))
    shape_pixel = tuple(rgb[idx == 1][0])
    assert shape_pixel == seg_project.colors[1]
    with pytest.raises(ProjectError, match="segmentation project"):
        exporters.export_csv(seg_project, tmp_path / "x")


def test_export_csv_round_trips(tag_project: Project, tmp_path: Path) -> None:
    dest = exporters.export_csv(tag_project, tmp_path / "out")
    assert dest == tmp_path / "out" / "labels.csv"
    rows = read_labels_csv(dest)
    assert len(rows) == 16 and rows["tag_00"] == tag_project.tags("tag_00.png")
    file_dest = exporters.export_csv(tag_project, tmp_path / "deep" / "mine.csv")
    assert file_dest.read_text() == dest.read_text()
    with pytest.raises(ProjectError, match="multilabel project"):
        exporters.export_masks(tag_project, tmp_path / "m")


def test_disk_full_while_attaching_masks(seg: Project, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for n in ("a", "b"):
        _save(tmp_path / "im" / f"{n}.png", _rgb())
        _save(tmp_path / "mk" / f"{n}.png", np.ones((16, 16), np.uint8))
    importers.import_images(seg, tmp_path / "im")
    real_stage = atomic.stage_bytes
    calls: list[Path] = []

    def fill_up(path: Path, data: bytes) -> atomic.StagedFile:
        calls.append(path)
        if len(calls) > 1:
            raise atomic.translate_os_error(OSError(errno.ENOSPC, "full"), Path(path))
        return real_stage(path, data)

    monkeypatch.setattr("workbench.core.label_writes.stage_bytes", fill_up)
    report = importers.import_masks(seg, tmp_path / "im", tmp_path / "mk")
    assert report.labelled == ["a.png"] and "disk is full" in (report.error or "")
    assert [Path(p).name for p, _ in report.skipped] == ["b.png"]
    assert seg.status("b.png") is Status.UNLABELLED and not seg.mask_path("b.png").exists()


def test_bulk_import_defers_fsync_but_syncs_once(seg: Project, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        _save(tmp_path / "im" / f"{n}.png", _rgb())
    fsyncs: list[int] = []
    syncs: list[int] = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: fsyncs.append(fd))
    monkeypatch.setattr(atomic.os, "sync", lambda: syncs.append(1))
    importers.import_images(seg, tmp_path / "im")
    assert fsyncs == [] and syncs == [1]
    assert len(seg.image_names()) == 3
    atomic.atomic_write_text(tmp_path / "single.txt", "x")  # outside an import: fsynced
    assert len(fsyncs) >= 1
