"""ClassTally: labelled images per class / tag, counted in full and updated one image at a time."""

from __future__ import annotations

import threading

import numpy as np

from workbench.core.class_tally import ClassTally, mask_pixel_counts
from workbench.core.project import Project


def test_mask_pixel_counts_puts_unlabelled_last() -> None:
    mask = np.array([[0, 1, 255], [1, 1, 255]], np.uint8)
    assert mask_pixel_counts(mask, 2).tolist() == [1, 3, 2]


def test_segmentation_tally_counts_images_per_class(seg_project: Project) -> None:
    tally = ClassTally.compute(seg_project)
    assert tally.labelled == 12
    assert tally.counts() == {"background": 12, "shape": 12}


def test_segmentation_update_after_save(seg_project: Project) -> None:
    tally = ClassTally.compute(seg_project)
    name = seg_project.image_names()[0]
    seg_project.write_mask(name, np.zeros_like(seg_project.read_mask(name)))
    tally.update(seg_project, name)
    assert tally.counts() == {"background": 12, "shape": 11}
    seg_project.clear_label(name)
    tally.update(seg_project, name)
    assert tally.labelled == 11
    assert tally.counts() == {"background": 11, "shape": 11}


def test_demo_nuclei_counts(nuclei_project: Project) -> None:
    tally = ClassTally.compute(nuclei_project)
    assert tally.labelled == 40
    assert tally.counts() == {"background": 40, "nucleus": 29}
    assert nuclei_project.info()["per_class"] == tally.counts()


def test_cancelled_tally_stops_early(seg_project: Project) -> None:
    cancel = threading.Event()
    cancel.set()
    assert ClassTally.compute(seg_project, cancel=cancel).labelled == 0


def test_tag_tally_and_update(tag_project: Project) -> None:
    tally = ClassTally.compute(tag_project)
    expected = {t: sum(t in tags for tags in tag_project.all_tags().values())
                for t in tag_project.classes}
    assert tally.counts() == expected
    name = next(n for n, tags in tag_project.all_tags().items() if "red" not in tags)
    tag_project.set_tags(name, [*tag_project.tags(name), "red"])
    tally.update(tag_project, name)
    assert tally.counts()["red"] == expected["red"] + 1
    assert tally.labelled == 16
