"""Objects in a label mask: connected components of each class, and a COCO-style instance file.

For users who need separate objects downstream (counting, tracking, instance segmentation
models), each 8-connected region of one class in an index mask is one instance. Nuclei that
touch in the mask are one region, as they would be to any connected-component tool.

No Qt, no torch: numpy and the standard library.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.manifest import is_background

if TYPE_CHECKING:
    from workbench.core.project import Project


def _row_runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate(([0], row.view(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def label_components(binary: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a boolean image: (int32 labels, 0 = none, 1..n; n).

    Works on runs of each row joined to the runs of the row above that touch them (also at a
    corner), through a union-find; numbered in raster order of their first pixel."""
    binary = np.ascontiguousarray(binary, dtype=bool)
    h, w = binary.shape
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    runs: list[tuple[int, int, int, int]] = []  # row, start, end, run id
    previous: list[tuple[int, int, int]] = []
    for r in range(h):
        starts, ends = _row_runs(binary[r])
        current = []
        j = 0
        for s, e in zip(starts.tolist(), ends.tolist()):
            rid = len(parent)
            parent.append(rid)
            while j < len(previous) and previous[j][1] < s:  # ends before this run's corner
                j += 1
            k = j
            while k < len(previous) and previous[k][0] <= e:  # starts by this run's corner
                a, b = find(rid), find(previous[k][2])
                if a != b:
                    parent[max(a, b)] = min(a, b)
                k += 1
            current.append((s, e, rid))
            runs.append((r, s, e, rid))
        previous = current
    labels = np.zeros((h, w), dtype=np.int32)
    numbers: dict[int, int] = {}
    for r, s, e, rid in runs:
        root = find(rid)
        if root not in numbers:
            numbers[root] = len(numbers) + 1
        labels[r, s:e] = numbers[root]
    return labels, len(numbers)


def rle_encode(binary: np.ndarray) -> dict[str, Any]:
    """COCO's uncompressed RLE of a boolean image: column-major run lengths, starting with
    the length of the first run of zeros (0 when the first pixel is set)."""
    flat = np.asarray(binary, dtype=np.uint8).ravel(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0, *counts]
    return {"counts": counts, "size": [int(binary.shape[0]), int(binary.shape[1])]}


def instance_classes(classes: list[str]) -> list[int]:
    """The classes whose regions are objects: all but those named like a background."""
    chosen = [i for i, name in enumerate(classes) if not is_background(name)]
    return chosen or list(range(len(classes)))


def instances(mask: np.ndarray, class_ids: list[int]) -> Iterator[tuple[int, np.ndarray,
                                                                      tuple[int, int, int, int]]]:
    """(class, full-size boolean footprint, (x, y, w, h) bbox) of each object in ``mask``."""
    for class_id in class_ids:
        if class_id == UNLABELLED_VALUE:
            continue
        labels, count = label_components(mask == class_id)
        for number in range(1, count + 1):
            footprint = labels == number
            ys = np.flatnonzero(footprint.any(axis=1))
            xs = np.flatnonzero(footprint.any(axis=0))
            yield class_id, footprint, (int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1),
                                        int(ys[-1] - ys[0] + 1))


def coco_instances(project: Project) -> dict[str, Any]:
    """A COCO-style instance document for the project's labelled images: one annotation per
    connected region of each object class, its outline as uncompressed RLE."""
    classes = list(project.classes)
    class_ids = instance_classes(classes)
    document: dict[str, Any] = {
        "info": {"description": f"{project.name}: connected regions of each class",
                 "version": "1.0"},
        "images": [], "annotations": [],
        "categories": [{"id": i + 1, "name": classes[i], "supercategory": "object"}
                       for i in class_ids],
    }
    next_id = 1
    for image_id, name in enumerate(project.labelled_names(), start=1):
        mask = project.read_mask(name)
        if mask is None:
            continue
        document["images"].append({"id": image_id, "file_name": name,
                                   "width": int(mask.shape[1]), "height": int(mask.shape[0])})
        for class_id, footprint, bbox in instances(mask, class_ids):
            document["annotations"].append({
                "id": next_id, "image_id": image_id, "category_id": class_id + 1,
                "segmentation": rle_encode(footprint), "area": int(footprint.sum()),
                "bbox": list(bbox), "iscrowd": 0})
            next_id += 1
    return document
