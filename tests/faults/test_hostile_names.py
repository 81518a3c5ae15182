"""Hostile file names: not UTF-8, as long as a file system allows, or a path in disguise. Each is
taken in or refused by name; none blocks the project or lands on another image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.core.annotation import AnnotationSession, brush
from workbench.core.feedback import import_feedback
from workbench.core.importers import import_csv, import_masks
from workbench.core.project import Project

from .helpers import one_line_error, run_cli, save_rgb, seg_project, tag_project

LATIN1 = os.fsdecode(b"caf\xe9.png")  # a name written by a Latin-1 system


def _mask(path: Path, value: int = 1, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)


def test_non_utf8_name_is_skipped_by_name_and_blocks_nothing(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=0)
    images, masks = tmp_path / "in", tmp_path / "in-masks"
    for name in ("good.png", LATIN1):
        save_rgb(images / name)
        _mask(masks / name)
    result = run_cli("import", root, "--images", images, "--masks", masks)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Imported 1 image(s)" in result.stdout and "caf\\xe9.png" in result.stdout
    assert "not valid UTF-8" in result.stdout
    # The project keeps working: every command a user would run next.
    for args in (("info", root), ("queue", root, "list"), ("import", root, "--images", images)):
        later = run_cli(*args)
        assert later.returncode == 0 and "Traceback" not in later.stderr, (args, later.stderr)
    with Project.open(root) as project:
        assert project.image_names() == ["good.png"] and project.has_label("good.png")


def test_non_utf8_file_put_into_images_by_hand_is_listed_not_fatal(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=2)
    save_rgb(root / "images" / LATIN1)
    info = run_cli("info", root)
    assert info.returncode == 0, info.stderr
    assert "images: 2" in info.stdout and "caf\\xe9.png" in info.stdout
    with Project.open(root) as project:  # a writable open reconciles without choking on it
        assert project.unusable_names == ["caf\\xe9.png"]
        project.write_mask("img0.png", np.zeros((32, 32), np.uint8))


def test_feedback_with_non_utf8_mask_name_is_skipped_by_name(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=2, labelled=2)
    _mask(tmp_path / "fb" / "img0.png", 0)
    _mask(tmp_path / "fb" / LATIN1, 0)
    result = run_cli("queue", root, "import", "--masks", tmp_path / "fb")
    assert "Traceback" not in result.stderr, result.stderr
    assert "Queued 1 correction(s)" in result.stdout and "caf\\xe9.png" in result.stdout


def _long(stem_bytes: int, ext: str = ".png") -> str:
    return "a" * (stem_bytes - len(ext)) + ext


def test_names_as_long_as_the_file_system_allows_import_and_paint(tmp_path: Path) -> None:
    root = seg_project(tmp_path / "p", n=0)
    images, masks = tmp_path / "in", tmp_path / "in-masks"
    names = [f"n{i}.png" for i in range(4)] + [_long(245), "b" * 251 + ".png"]  # 245, 255 bytes
    for i, name in enumerate(names):
        save_rgb(images / name, i)
        _mask(masks / name)
    with Project.open(root) as project:
        report = import_masks(project, images, masks)
        assert sorted(report.added) == sorted(names) and not report.skipped, report.summary()
        assert sorted(report.labelled) == sorted(names)
        for name in names[-2:]:  # their stroke journals fit in a file name too
            session = AnnotationSession(project, name, (32, 32))
            session.do(brush(session.mask, [(3, 3)], 2, 0))
            assert session.journal.path.exists() and len(session.journal.path.name) <= 255
            session.save()
            assert project.read_mask(name)[3, 3] == 0


def test_traversal_in_an_import_csv_is_refused_by_name(tmp_path: Path) -> None:
    root = tag_project(tmp_path / "t", n=0)
    images = tmp_path / "in"
    save_rgb(images / "x.png")
    save_rgb(images / "y.png", 1)
    csv = tmp_path / "labels.csv"
    csv.write_text("image_name,tags\n../../x.png,a\ny,b\n")
    with Project.open(root) as project:
        report = import_csv(project, images, csv)
        assert project.tags("x.png") == [] and project.tags("y.png") == ["b"]
        assert project.status("x.png").value == "unlabelled"
        refused = [r for p, r in report.skipped if "line 2" in p]
        assert refused and "'../../x.png' is a path" in refused[0]


def test_traversal_in_a_feedback_csv_is_refused_by_name(tmp_path: Path) -> None:
    root = tag_project(tmp_path / "t", n=2)
    csv = tmp_path / "fb.csv"
    csv.write_text("image_name,tags\n../t0.png,a b\nt1,b\n")
    with Project.open(root) as project:
        report = import_feedback(project, csv_path=csv)
        assert [i.image for i in report.items] == ["t1.png"]
        assert project.tags("t0.png") == []
        assert any("line 2" in s and "'../t0.png' is a path" in s for s in report.skipped)


def test_csv_field_over_128_kb_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    root = tag_project(tmp_path / "t", n=1)
    csv = tmp_path / "big.csv"
    csv.write_text("image_name,tags\nt0,a\n" + "t0," + "a" * 200_000 + "\n")
    (tmp_path / "t-none").mkdir()
    line = one_line_error(run_cli("import", root, "--images", tmp_path / "t-none", "--csv", csv))
    assert "big.csv, line 3" in line and "field" in line
