"""Importing images and labels into a project. Every file not taken is reported with the reason.

Sources: a plain folder of images; images + a folder of index masks (also CamVid-style label
files named by a pattern such as ``{stem}_P.png``, with ``codes.txt``); a Planet-style
``labels.csv`` + image folder. Images are copied into ``images/`` so the project folder is
self-contained (it can be zipped or moved without breaking paths).
"""

from __future__ import annotations

import filecmp
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core import imageio
from workbench.core.atomic import atomic_copy, deferred_sync
from workbench.core.errors import (
    DiskFullError,
    ImageReadError,
    LabelError,
    MaskError,
    ProjectError,
    ReadOnlyError,
)
from workbench.core.labels import read_codes, read_labels_rows, stem_of
from workbench.core.manifest import Task
from workbench.core.names import name_problem
from workbench.core.report import ImportReport

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)

_SUPPORTED = ", ".join(sorted(imageio.SUPPORTED_EXTENSIONS))

Progress = Callable[[int, int], None]
"""Called as progress(done, total) after each file, from the importing thread."""


def _expand(paths: Iterable[str | os.PathLike[str]], report: ImportReport) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(c for c in p.iterdir() if c.is_file() and not c.name.startswith("."))
        elif not p.exists():
            report.skip(p, "file does not exist")
        else:
            out.append(p)
    return out


def _place(project: Project, src: Path, copy: bool, stems: dict[str, str]) -> str | None:
    """Validate one image and copy it in; return its name, or a reason it was skipped."""
    dest = project.images_dir / src.name
    if not copy and src.resolve().parent != project.images_dir.resolve():
        return f"not inside {project.images_dir}; import it with copy=True"
    imageio.verify_image(src)  # ImageReadError names the file and the problem
    owner = stems.get(stem_of(src.name))
    if copy and dest.exists():
        if filecmp.cmp(src, dest, shallow=False):
            return "already in the project"
        return f"a different image named {src.name} is already in the project"
    if owner is not None and owner != src.name:
        return (f"the project already has {owner} with the same stem; masks and labels.csv "
                "are keyed by stem, so rename one of them")
    if copy:
        atomic_copy(src, dest)
    stems[stem_of(src.name)] = src.name
    return None


def add_image_files(project: Project, paths: Iterable[str | os.PathLike[str]], *,
                    copy: bool = True, progress: Progress | None = None) -> ImportReport:
    """The work behind :meth:`Project.add_images` (files and folders, non-recursive)."""
    report = ImportReport()
    files = _expand(paths, report)
    with deferred_sync():
        _add_files(project, files, copy, progress, report)
    log.info("added %d images, skipped %d", len(report.added), len(report.skipped))
    return report


def _add_files(project: Project, files: list[Path], copy: bool, progress: Progress | None,
               report: ImportReport) -> None:
    stems = {stem_of(n): n for n in project.image_names()}
    for i, src in enumerate(files):
        if progress is not None:
            progress(i, len(files))
        if not imageio.is_supported_name(src.name):
            report.skip(src, f"not a supported image type ({src.suffix or 'no extension'}); "
                             f"supported: {_SUPPORTED}")
            continue
        problem = name_problem(src.name)
        if problem:
            report.skip(src, problem)
            continue
        try:
            reason = _place(project, src, copy, stems)
        except (DiskFullError, ReadOnlyError) as exc:
            # Nothing more can be written; report the rest instead of failing each in turn.
            report.error = str(exc)
            for rest in files[i:]:
                report.skip(rest, "not imported: " + str(exc))
            break
        except (ImageReadError, ProjectError) as exc:  # this file only (e.g. name too long)
            report.skip(src, str(exc))
            continue
        if reason is None:
            report.added.append(src.name)
        elif reason == "already in the project":
            report.existing.append(src.name)  # idempotent re-import: labels can still attach
        else:
            report.skip(src, reason)
    if progress is not None:
        progress(len(files), len(files))


def import_images(project: Project, images_dir: str | os.PathLike[str], *,
                  progress: Progress | None = None) -> ImportReport:
    """Import a plain folder of images (non-recursive)."""
    folder = Path(images_dir)
    if not folder.is_dir():
        raise ProjectError(f"Image folder {folder} does not exist or is not a folder.")
    return project.add_images([folder], progress=progress)


def check_codes(project: Project, codes_path: str | os.PathLike[str]) -> None:
    """Refuse masks whose codes.txt disagrees with the project's classes (indices would lie)."""
    codes = read_codes(Path(codes_path))
    if codes != project.classes:
        raise LabelError(
            f"{codes_path} lists classes {codes} but the project has {project.classes}. "
            "Create the project with `workbench new --codes` from this file."
        )


def _need_task(project: Project, task: Task, what: str) -> None:
    """Refuse labels meant for the other task; ``what`` starts the reason ("masks need")."""
    if project.task is not task:
        raise ProjectError(f"{project.root} is a {project.task.value} project; {what} a "
                           f"{task.value} project.")


def import_masks(project: Project, images_dir: str | os.PathLike[str],
                 masks_dir: str | os.PathLike[str], *, pattern: str = "{stem}.png",
                 codes: str | os.PathLike[str] | None = None,
                 progress: Progress | None = None) -> ImportReport:
    """Import images with index masks found as ``masks_dir / pattern.format(stem=...)``."""
    _need_task(project, Task.SEGMENTATION, "masks need")
    masks_dir = Path(masks_dir)
    if not masks_dir.is_dir():
        raise ProjectError(f"Mask folder {masks_dir} does not exist or is not a folder.")
    try:
        valid = "{stem}" in pattern or "{name}" in pattern
        pattern.format(stem="x", name="x.png")
    except (KeyError, IndexError, ValueError):
        valid = False
    if not valid:
        raise ProjectError(f"Mask pattern {pattern!r} must contain {{stem}} or {{name}} and no "
                           "other {fields}, e.g. '{stem}_P.png'.")
    if codes is not None:
        check_codes(project, codes)
    report = import_images(project, images_dir, progress=progress)
    with deferred_sync():
        _attach_masks(project, report, masks_dir, pattern)
    _report_orphans(masks_dir, report, Path(images_dir), pattern, codes)
    return report


def _mask_name(name: str, pattern: str) -> str:
    return pattern.format(stem=Path(name).stem, name=name)


def _attach_masks(project: Project, report: ImportReport, masks_dir: Path, pattern: str) -> None:
    names = report.images
    for i, name in enumerate(names):
        mask_file = masks_dir / _mask_name(name, pattern)
        if not mask_file.exists():
            continue  # no label yet: the image stays unlabelled
        try:
            project.write_mask(name, imageio.read_mask(mask_file))
        except MaskError as exc:
            report.skip(mask_file, str(exc).replace(str(project.mask_path(name)), str(mask_file)))
            continue
        except (DiskFullError, ReadOnlyError) as exc:
            report.error = str(exc)
            for rest in names[i:]:
                report.skip(masks_dir / _mask_name(rest, pattern), "not imported: " + str(exc))
            return
        report.labelled.append(name)


def _report_orphans(masks_dir: Path, report: ImportReport, images_dir: Path, pattern: str,
                    codes: str | os.PathLike[str] | None) -> None:
    if masks_dir.resolve() == images_dir.resolve():
        return  # masks live beside the images (CamVid flat layout): images were reported already
    used = {_mask_name(n, pattern) for n in report.images}
    reported = {Path(p).name for p, _ in report.skipped}
    ignore = used | reported | ({Path(codes).name} if codes else set())
    for f in sorted(masks_dir.iterdir()):
        if f.is_file() and not f.name.startswith(".") and f.name not in ignore:
            report.skip(f, "no imported image matches this mask file")


def import_csv(project: Project, images_dir: str | os.PathLike[str],
               csv_path: str | os.PathLike[str], *, add_tags: bool = False,
               progress: Progress | None = None) -> ImportReport:
    """Import images and their tags from a Planet-style labels.csv (image_name,tags)."""
    _need_task(project, Task.MULTILABEL, "labels.csv needs")
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise LabelError(f"Labels file {csv_path} does not exist.")
    rows, refused = read_labels_rows(csv_path)
    if add_tags or not project.classes:
        new = sorted({t for tags in rows.values() for t in tags} - set(project.classes))
        if new:
            project.add_classes(new)
    report = import_images(project, images_dir, progress=progress)
    for lineno, reason in refused:
        report.skip(f"{csv_path}, line {lineno}", f"{reason}; row not applied")
    by_stem = {stem_of(n): n for n in report.images}
    vocab = set(project.classes)
    mapping: dict[str, list[str]] = {}
    for stem, tags in rows.items():
        name = by_stem.get(stem)
        unknown = sorted(set(tags) - vocab)
        if name is None:
            report.skip(f"{csv_path}: {stem}", "no imported image has this name")
        elif unknown:
            report.skip(f"{csv_path}: {stem}", f"unknown tag(s) {', '.join(unknown)}; "
                        "add them to the project or import with --add-tags")
        else:
            mapping[name] = tags
    if mapping:
        project.set_many_tags(mapping)
        report.labelled += sorted(mapping)
    return report
