"""COCO-style instance export: every connected region of an object class is one annotation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench import cli
from workbench.core import exporters
from workbench.core.errors import ProjectError
from workbench.core.instances import instance_classes, label_components, rle_encode
from workbench.core.project import Project


def rle_decode(rle: dict) -> np.ndarray:
    """COCO's uncompressed RLE back to a boolean image (what pycocotools does)."""
    h, w = rle["size"]
    flat = np.zeros(h * w, dtype=bool)
    position, value = 0, False
    for count in rle["counts"]:
        flat[position:position + count] = value
        position, value = position + count, not value
    assert position == h * w
    return flat.reshape((h, w), order="F")


def test_components_are_8_connected_and_numbered_in_raster_order():
    img = np.array([[1, 1, 0, 0, 1],
                    [0, 1, 0, 0, 1],
                    [0, 0, 1, 0, 0],   # touches the first blob at a corner: same object
                    [1, 0, 0, 0, 1],
                    [1, 1, 0, 1, 1]], dtype=bool)
    labels, count = label_components(img)
    assert count == 4
    assert labels[0, 0] == labels[2, 2] == 1 and labels[0, 4] == 2
    assert labels[3, 0] == 3 and labels[4, 3] == labels[3, 4] == 4
    assert (labels > 0).sum() == img.sum() and (labels[~img] == 0).all()
    # a U shape whose arms only join at the bottom is one object
    u = np.zeros((5, 5), bool)
    u[:, 0] = u[:, 4] = u[4, :] = True
    assert label_components(u)[1] == 1


def test_components_match_a_brute_force_flood_on_random_masks():
    rng = np.random.default_rng(3)
    for _ in range(20):
        img = rng.random((23, 31)) < 0.45
        labels, count = label_components(img)
        # brute force: flood each unvisited pixel through its 8 neighbours
        seen = np.zeros_like(img)
        regions = []
        for y, x in zip(*np.nonzero(img)):
            if seen[y, x]:
                continue
            stack, region = [(y, x)], set()
            seen[y, x] = True
            while stack:
                cy, cx = stack.pop()
                region.add((cy, cx))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < 23 and 0 <= nx < 31 and img[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            stack.append((ny, nx))
            regions.append(region)
        assert count == len(regions)
        for region in regions:
            numbers = {int(labels[p]) for p in region}
            assert len(numbers) == 1 and (labels == numbers.pop()).sum() == len(region)


def test_rle_round_trips_including_a_set_first_pixel():
    rng = np.random.default_rng(0)
    for shape in ((1, 1), (7, 5), (40, 33)):
        img = rng.random(shape) < 0.3
        img.flat[0] = True
        rle = rle_encode(img)
        assert rle["counts"][0] == 0 and rle["size"] == list(shape)
        assert np.array_equal(rle_decode(rle), img)
    assert rle_encode(np.zeros((3, 4), bool))["counts"] == [12]


def test_background_is_not_an_object_class():
    assert instance_classes(["background", "nucleus"]) == [1]
    assert instance_classes(["cat", "dog"]) == [0, 1]
    assert instance_classes(["Void", "road", "car"]) == [1, 2]


def test_export_coco_of_the_nuclei_demo(nuclei_project: Project, tmp_path: Path):
    dest = exporters.export_coco(nuclei_project, tmp_path / "out")
    assert dest == tmp_path / "out" / "instances.json"
    doc = json.loads(dest.read_text())
    assert doc["categories"] == [{"id": 2, "name": "nucleus", "supercategory": "object"}]
    assert len(doc["images"]) == len(nuclei_project.labelled_names()) == 40
    by_image: dict[int, list[dict]] = {}
    for ann in doc["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    assert len({a["id"] for a in doc["annotations"]}) == len(doc["annotations"])
    for image in doc["images"][:5]:
        mask = nuclei_project.read_mask(image["file_name"])
        anns = by_image.get(image["id"], [])
        union = np.zeros(mask.shape, bool)
        for ann in anns:
            assert ann["category_id"] == 2 and ann["iscrowd"] == 0
            region = rle_decode(ann["segmentation"])
            assert region.sum() == ann["area"] > 0
            assert not (union & region).any()  # objects never share a pixel
            union |= region
            x, y, w, h = ann["bbox"]
            ys, xs = np.nonzero(region)
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                    ys.max() - ys.min() + 1)
        assert np.array_equal(union, mask == 1)  # every nucleus pixel in exactly one object
        assert len(anns) == label_components(mask == 1)[1]


def test_export_coco_needs_a_segmentation_project_and_names_it(tag_project, tmp_path):
    with pytest.raises(ProjectError, match="Cannot export instances from .*multilabel"):
        exporters.export_coco(tag_project, tmp_path)


def test_cli_exports_coco_next_to_the_masks(seg_project: Project, tmp_path: Path, capsys,
                                            monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("workbench.cli.project_cmds",))
    root = seg_project.root
    seg_project.close()
    out = tmp_path / "export"
    assert cli.main(["export", str(root), "--format", "masks", "--out", str(out)]) == 0
    assert cli.main(["export", str(root), "--format", "coco", "--out", str(out)]) == 0
    assert "Exported 1 file(s)" in capsys.readouterr().out
    doc = json.loads((out / "instances.json").read_text())
    assert len(doc["images"]) == 12 and len(doc["annotations"]) == 12  # one shape each
    assert (out / "img_00.png").exists()
    assert cli.main(["export", str(root), "--format", "coco", "--out",
                     str(tmp_path / "named.json")]) == 0
    assert (tmp_path / "named.json").exists()
