"""Exporting labels for other tools: index masks, colour-palette masks, COCO-style instances
(connected regions, see workbench.core.instances), labels.csv."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from workbench.core.atomic import (
    atomic_copy,
    atomic_write_bytes,
    atomic_write_text,
    translate_os_error,
)
from workbench.core.errors import ProjectError
from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.instances import coco_instances
from workbench.core.labels import stem_of, write_labels_csv
from workbench.core.manifest import Task

if TYPE_CHECKING:
    from workbench.core.project import Project

UNLABELLED_COLOR = (255, 255, 255)  # palette entry 255: white reads as "nothing here yet"


def _need(project: Project, task: Task, what: str) -> None:
    if project.task is not task:
        raise ProjectError(
            f"Cannot export {what} from {project.root}: it is a {project.task.value} project."
        )


def _out_dir(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise translate_os_error(exc, out, "create") from exc
    return out


def export_masks(project: Project, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Copy the index masks of labelled images (values validated first) to ``out_dir``."""
    _need(project, Task.SEGMENTATION, "masks")
    out = _out_dir(Path(out_dir))
    written = []
    names = project.labelled_names()
    files = project.mask_files(names)  # a team project writes out the current versions
    for name in names:
        project.read_mask(name)  # raises MaskError naming the file rather than export a bad mask
        dest = out / f"{stem_of(name)}.png"
        atomic_copy(files[name], dest)
        written.append(dest)
    return written


def palette_bytes(project: Project) -> list[int]:
    palette = [0] * (256 * 3)
    for i, color in enumerate(project.colors):
        palette[i * 3: i * 3 + 3] = color
    palette[UNLABELLED_VALUE * 3: UNLABELLED_VALUE * 3 + 3] = UNLABELLED_COLOR
    return palette


def export_palette(project: Project, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write masks as palette PNGs in the class colours (indices kept, so still index masks)."""
    _need(project, Task.SEGMENTATION, "palette masks")
    out = _out_dir(Path(out_dir))
    palette = palette_bytes(project)
    written = []
    for name in project.labelled_names():
        mask = project.read_mask(name)
        if mask is None:
            continue
        img = Image.fromarray(mask, mode="L").convert("P")
        img.putpalette(palette)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        dest = out / f"{stem_of(name)}.png"
        atomic_write_bytes(dest, buf.getvalue())
        written.append(dest)
    return written


def export_csv(project: Project, out: str | os.PathLike[str]) -> Path:
    """Write labels.csv (labelled images only) to ``out`` (a folder or a .csv path)."""
    _need(project, Task.MULTILABEL, "labels.csv")
    out = Path(out)
    dest = out if out.suffix.lower() == ".csv" else _out_dir(out) / "labels.csv"
    if dest.parent != out:
        _out_dir(dest.parent)
    labels = {stem_of(n): project.tags(n) for n in project.labelled_names()}
    write_labels_csv(dest, labels)
    return dest


COCO_NAME = "instances.json"


def export_coco(project: Project, out: str | os.PathLike[str]) -> Path:
    """Write a COCO-style instance file (each connected region of each object class one
    annotation, RLE outlines) to ``out``: a folder (``instances.json`` in it) or a .json
    path. Next to the PNG masks of :func:`export_masks` it gives separate objects."""
    _need(project, Task.SEGMENTATION, "instances")
    out = Path(out)
    dest = out if out.suffix.lower() == ".json" else _out_dir(out) / COCO_NAME
    if dest.parent != out:
        _out_dir(dest.parent)
    atomic_write_text(dest, json.dumps(coco_instances(project), separators=(",", ":")))
    return dest
