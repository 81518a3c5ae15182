"""Production feedback: corrections made outside the app, imported as queue items.

Two sources: a Planet-style CSV ``image_name,tags`` (multilabel) or a folder of corrected index
masks named like the images (segmentation). Images the project does not have yet are taken
from ``images_dir``. Everything is checked before anything is written: each bad row or file is
reported with its file (and line) and skipped, and a file that cannot be read at all stops the
import before it writes anything. Good rows become labels plus queue items with their diff.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.core import imageio
from workbench.core.errors import (
    ImageReadError,
    LabelError,
    MaskError,
    ProjectError,
    WorkbenchError,
)
from workbench.core.labels import HEADER, stem_of
from workbench.core.manifest import Task
from workbench.core.names import display, name_problem
from workbench.core.queue import QueueItem, mask_change, tag_change

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)
REASON = "production feedback"


@dataclass
class FeedbackReport:
    items: list[QueueItem] = field(default_factory=list)
    added_images: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file[, line N]: reason"

    @property
    def ok(self) -> bool:
        return not self.skipped

    def summary(self) -> str:
        head = (f"Queued {len(self.items)} correction(s) ({len(self.added_images)} new "
                f"image(s)); skipped {len(self.skipped)}.")
        return "\n".join([head, *(f"  skipped {display(s)}" for s in self.skipped)])


@dataclass
class _Plan:
    """What passed every check: written only once the whole source was read."""

    masks: dict[str, np.ndarray] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
    new_images: dict[str, Path] = field(default_factory=dict)  # name -> source file
    source: dict[str, str] = field(default_factory=dict)       # name -> feedback file


class _Images:
    """Resolve a feedback name (stem or file name) to a project image or a new one."""

    def __init__(self, project: Project, images_dir: Path | None) -> None:
        self.known = {stem_of(n): n for n in project.image_names()}
        self.offered: dict[str, Path] = {}
        if images_dir is not None:
            if not images_dir.is_dir():
                raise ProjectError(f"Image folder {images_dir} does not exist or is not a folder.")
            for f in sorted(images_dir.iterdir()):
                if f.is_file() and imageio.is_supported_name(f.name):
                    self.offered.setdefault(f.stem, f)

    def find(self, key: str, plan: _Plan) -> tuple[str, Path | None]:
        """(image name, source file if new); raises LookupError / ImageReadError."""
        problem = name_problem(key)
        if problem:
            raise LookupError(f"{problem}; refused")
        stem = stem_of(key)
        if stem in self.known:
            return self.known[stem], None
        src = self.offered.get(stem)
        if src is None:
            raise LookupError(f"unknown image {key!r}: not in the project"
                              + (" nor in the --images folder" if self.offered else
                                 "; pass --images DIR to bring new images in"))
        if src.name not in plan.new_images:
            imageio.verify_image(src)
        return src.name, src


def _check_mask_file(project: Project, path: Path, image: Path) -> np.ndarray:
    mask = imageio.read_mask(path)  # MaskError: unreadable, colour, 16-bit out of range
    width, height = imageio.image_size(image)
    if mask.shape != (height, width):
        raise MaskError(f"mask is {mask.shape[1]}x{mask.shape[0]} but image {image.name} is "
                        f"{width}x{height}")
    n = len(project.classes)
    bad = (mask >= n) & (mask != imageio.UNLABELLED_VALUE)
    if bad.any():
        values = ", ".join(str(v) for v in np.unique(mask[bad])[:10])
        raise MaskError(f"values {values} are outside the {n} classes (0-{n - 1}, 255 = "
                        "unlabelled)")
    return mask


def _plan_masks(project: Project, masks_dir: Path, images: _Images, report: FeedbackReport,
                plan: _Plan) -> None:
    if not masks_dir.is_dir():
        raise ProjectError(f"Mask folder {masks_dir} does not exist or is not a folder.")
    for path in sorted(masks_dir.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            name, src = images.find(path.name, plan)
            if name in plan.masks:
                raise MaskError(f"a second mask for {name} ({plan.source[name]} came first)")
            mask = _check_mask_file(project, path, src or project.image_path(name))
        except (LookupError, ImageReadError, MaskError) as exc:
            report.skipped.append(f"{path}: {exc}")
            continue
        plan.masks[name], plan.source[name] = mask, path.name
        if src is not None:
            plan.new_images[name] = src


def _read_rows(csv_path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise LabelError(f"Feedback file {csv_path} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"Cannot read feedback file {csv_path} ({exc}).") from exc
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise LabelError(f"{csv_path} is not a valid CSV file ({exc}).") from exc
    if not rows or tuple(c.strip().lower() for c in rows[0])[:2] != HEADER:
        raise LabelError(f"{csv_path} must start with the header 'image_name,tags' "
                         "(Planet format).")
    return [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]


def _plan_csv(project: Project, csv_path: Path, images: _Images, report: FeedbackReport,
              plan: _Plan) -> None:
    vocab = set(project.classes)
    for lineno, row in _read_rows(csv_path):
        where = f"{csv_path}, line {lineno}"
        if len(row) > 2:
            report.skipped.append(f"{where}: expected 2 columns (image_name,tags), got "
                                  f"{len(row)}; separate tags with spaces")
            continue
        tags = list(dict.fromkeys(row[1].split())) if len(row) > 1 else []
        try:
            name, src = images.find(row[0].strip(), plan)
        except (LookupError, ImageReadError) as exc:
            report.skipped.append(f"{where}: {exc}")
            continue
        unknown = sorted(set(tags) - vocab)
        if unknown:
            report.skipped.append(f"{where}: unknown tag(s) {', '.join(unknown)} for {name}; "
                                  f"the project's tags are {', '.join(project.classes)}")
        elif name in plan.tags:
            report.skipped.append(f"{where}: {name} already corrected on {plan.source[name]}")
        else:
            plan.tags[name], plan.source[name] = tags, f"{csv_path.name} line {lineno}"
            if src is not None:
                plan.new_images[name] = src


def import_feedback(project: Project, *, masks_dir: str | os.PathLike[str] | None = None,
                    csv_path: str | os.PathLike[str] | None = None,
                    images_dir: str | os.PathLike[str] | None = None,
                    run_id: str | None = None) -> FeedbackReport:
    """Import corrected masks (``masks_dir``) or tags (``csv_path``) as labels and queue items.

    ``run_id`` names the run whose predictions were corrected (stored on each item).
    """
    if (masks_dir is None) == (csv_path is None):
        raise ProjectError("Give exactly one feedback source: a mask folder or a CSV file.")
    want = Task.SEGMENTATION if masks_dir is not None else Task.MULTILABEL
    if project.task is not want:
        kind = "corrected masks" if masks_dir is not None else "a tags CSV"
        raise ProjectError(f"{project.root} is a {project.task.value} project; {kind} need a "
                           f"{want.value} project.")
    report, plan = FeedbackReport(), _Plan()
    images = _Images(project, Path(images_dir) if images_dir is not None else None)
    if masks_dir is not None:
        _plan_masks(project, Path(masks_dir), images, report, plan)
    else:
        _plan_csv(project, Path(csv_path), images, report, plan)  # type: ignore[arg-type]
    _write(project, plan, report, run_id)
    log.info("feedback: queued %d, skipped %d", len(report.items), len(report.skipped))
    return report


def _write(project: Project, plan: _Plan, report: FeedbackReport, run_id: str | None) -> None:
    """All or nothing: new images, masks / tags, statuses and queue items. A full disk at any
    step leaves the project as it was (images brought in for this import are removed again)."""
    changes = {}
    for name, mask in plan.masks.items():
        old = project.read_mask(name) if name not in plan.new_images else None
        changes[name] = mask_change(old, mask, project.classes)
    for name, tags in plan.tags.items():
        old_tags = project.tags(name) if name not in plan.new_images else []
        changes[name] = tag_change(old_tags, tags)
    entries = [{"image": name, "reason": f"{REASON} ({plan.source[name]})", "run_id": run_id,
                "change": change} for name, change in changes.items()]
    added: list[str] = []
    queued: list[QueueItem] = []
    try:
        if plan.new_images:
            result = project.add_images(list(plan.new_images.values()))
            added = result.added
            if result.skipped:  # checked above, so only a race or a full disk gets here
                raise ProjectError("Could not import the new images: " + result.summary())
        project.write_labels(plan.masks, plan.tags, also=lambda: queued.extend(
            project.queue.add_many(entries, notify=False)))
    except BaseException:
        _remove_images(project, added)
        raise
    project.queue.changed()
    report.added_images = sorted(plan.new_images)
    report.items.extend(queued)


def _remove_images(project: Project, names: list[str]) -> None:
    for name in names:
        try:
            project.image_path(name).unlink()
        except OSError as exc:
            log.warning("could not remove %s after the failed import: %s",
                        project.image_path(name), exc)
    if names:
        try:
            project.refresh()
        except WorkbenchError as exc:  # the disk may still be full; the next open reconciles
            log.warning("could not refresh %s after the failed import: %s", project.root, exc)
