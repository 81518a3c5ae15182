"""The summary printed by ``workbench info``: counts per status, per class or tag, split sizes."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.class_tally import ClassTally, mask_pixel_counts
from workbench.core.manifest import Status, Task

if TYPE_CHECKING:
    from workbench.core.project import Project


def _seg_counts(project: Project, names: list[str]) -> dict[str, Any]:
    n = len(project.classes)
    images = np.zeros(n, np.int64)
    pixels = np.zeros(n + 1, np.int64)  # last bin: unlabelled pixels
    unreadable: list[str] = []
    for name in names:
        try:
            mask = project.read_mask(name)
        except Exception as exc:  # noqa: BLE001 - one bad mask must not hide the others' counts
            unreadable.append(f"{name}: {exc}")
            continue
        if mask is None:
            continue
        counts = mask_pixel_counts(mask, n)
        pixels += counts
        images += counts[:n] > 0
    return {
        "per_class": {c: int(images[i]) for i, c in enumerate(project.classes)},
        "pixels_per_class": {c: int(pixels[i]) for i, c in enumerate(project.classes)},
        "unlabelled_pixels": int(pixels[n]),
        "unreadable_masks": unreadable,
    }


def _tag_counts(project: Project, names: list[str]) -> dict[str, Any]:
    return {"per_class": ClassTally.compute(project, names).counts()}


def project_info(project: Project) -> dict[str, Any]:
    statuses = project.statuses()
    by_status = Counter(s.value for s in statuses.values())
    labelled = [n for n, s in statuses.items() if s in (Status.LABELLED, Status.REVIEWED)]
    train, valid = project.split(labelled)
    info: dict[str, Any] = {
        "name": project.name,
        "task": project.task.value,
        "root": str(project.root),
        "format_version": project.format_version,
        "classes": [
            {"name": c, "color": "#{:02x}{:02x}{:02x}".format(*col)}
            for c, col in zip(project.classes, project.colors)
        ],
        "images": len(statuses),
        "status": {s.value: int(by_status.get(s.value, 0)) for s in Status},
        "labelled": len(labelled),
    }
    if project.task is Task.SEGMENTATION:
        info.update(_seg_counts(project, labelled))
    else:
        info.update(_tag_counts(project, labelled))
    info["split"] = {"rule": project.split_rule.to_json(), "train": len(train), "valid": len(valid)}
    info["runs"] = len(project.db.list_runs())
    if project.unusable_names:
        info["unusable_names"] = list(project.unusable_names)
    return info
