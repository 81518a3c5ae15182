"""A Workbench project: a plain folder of images, masks / labels.csv, a manifest and a database.

Layout (see the README)::

    workbench.json   manifest: name, task, classes + colours, split rule, format version
    images/          the images (copied in on import)
    masks/<stem>.png segmentation labels, 8-bit, value = class index, 255 = not labelled
    labels.csv       multi-label tags, Planet format
    workbench.db     SQLite (WAL): per-image status, training runs, corrections queue
    predictions/     model outputs, one folder per training run

The files are the truth about labels: the database only adds "reviewed" and run history, and
is reconciled with the files on open, so deleting it loses no label.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

import numpy as np

from workbench.core import imageio
from workbench.core.atomic import remove_stale_temps, translate_os_error
from workbench.core.db import ProjectDB
from workbench.core.errors import (
    ImageReadError,
    LabelError,
    MaskError,
    ProjectError,
    ReadOnlyError,
)
from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.labels import read_labels_csv, stem_of, write_labels_csv
from workbench.core.lock import ProjectLock
from workbench.core.manifest import (
    MANIFEST_NAME,
    Color,
    Manifest,
    SplitRule,
    Status,
    Task,
    check_colors,
    validate_classes,
)
from workbench.core.project_info import project_info
from workbench.core.queue import RefitQueue
from workbench.core.report import ImportReport

__all__ = ["UNLABELLED_VALUE", "ImportReport", "Project", "SplitRule", "Status", "Task"]

log = logging.getLogger(__name__)

DB_NAME = "workbench.db"
LABELS_NAME = "labels.csv"
_DONE = (Status.LABELLED, Status.REVIEWED)


class Project:
    """An open project. Writable opens hold the folder's lock until :meth:`close`."""

    def __init__(self, root: Path, manifest: Manifest, *, readonly: bool) -> None:
        self.root = root
        self._manifest = manifest
        self.readonly = readonly
        self._lock: ProjectLock | None = None
        self._names: list[str] | None = None
        self._name_set: set[str] = set()
        self._mask_stems: set[str] = set()
        self._labels: dict[str, list[str]] = {}
        self.db: ProjectDB
        self._queue: RefitQueue | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        *,
        name: str,
        task: Task | str,
        classes: list[str],
        colors: list[Color] | None = None,
        split: SplitRule | None = None,
    ) -> Project:
        """Create a new project folder (or turn an existing folder into one) and open it."""
        root = Path(root).expanduser().resolve()
        task = Task(task)
        classes = validate_classes(list(classes), task)
        manifest = Manifest(
            name=name, task=task, classes=classes, colors=check_colors(colors, classes),
            split=split or SplitRule(),
        )
        if (root / MANIFEST_NAME).exists():
            raise ProjectError(
                f"{root} already contains a project ({MANIFEST_NAME}). Open it instead."
            )
        try:
            (root / "images").mkdir(parents=True, exist_ok=True)
            if task is Task.SEGMENTATION:
                (root / "masks").mkdir(exist_ok=True)
        except OSError as exc:
            raise translate_os_error(exc, root / "images", "create") from exc
        if task is Task.MULTILABEL and not (root / LABELS_NAME).exists():
            write_labels_csv(root / LABELS_NAME, {})
        manifest.save(root)
        return cls.open(root)

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, readonly: bool = False) -> Project:
        """Open a project; a writable open takes the lock (ProjectLockedError if taken)."""
        root = Path(root).expanduser().resolve()
        project = cls(root, Manifest.load(root), readonly=readonly)
        if not readonly:
            project._lock = ProjectLock(root)
            project._lock.acquire()
        try:
            project.db = ProjectDB(root / DB_NAME, readonly=readonly)
            if project._lock is not None and not project._lock.shared:
                # We alone hold the lock, so no temp file of an interrupted write is live.
                for folder in (root, project.masks_dir, project.images_dir):
                    remove_stale_temps(folder)
            project.refresh()
        except BaseException:
            project.close()
            raise
        return project

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r}, task={self.task.value}, readonly={self.readonly})"

    # -- manifest fields -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._manifest.name

    @property
    def task(self) -> Task:
        return self._manifest.task

    @property
    def classes(self) -> list[str]:
        return list(self._manifest.classes)

    @property
    def colors(self) -> list[Color]:
        return list(self._manifest.colors)

    @property
    def split_rule(self) -> SplitRule:
        return self._manifest.split

    @property
    def format_version(self) -> int:
        return self._manifest.format_version

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def masks_dir(self) -> Path:
        return self.root / "masks"

    @property
    def labels_csv(self) -> Path:
        return self.root / LABELS_NAME

    @property
    def predictions_dir(self) -> Path:
        return self.root / "predictions"

    @property
    def start_image(self) -> str | None:
        """The image to show when opening without a remembered one (None: not set / gone)."""
        name = self._manifest.start_image
        return name if name is not None and name in self._name_set else None

    def set_start_image(self, name: str | None) -> None:
        """Store (or with None clear) the image viewers open first, e.g. a demo's best slice."""
        self._check_writable()
        if name is not None:
            self._check_name(name)
        self._manifest.start_image = name
        self._manifest.save(self.root)

    def set_split_rule(self, rule: SplitRule) -> None:
        self._check_writable()
        self._manifest.split = rule
        self._manifest.save(self.root)

    def set_colors(self, colors: list[Color]) -> None:
        self._check_writable()
        self._manifest.colors = check_colors(colors, self._manifest.classes)
        self._manifest.save(self.root)

    def add_classes(self, new: Iterable[str], colors: list[Color] | None = None) -> None:
        """Append classes / tags (existing indices never change, so masks stay valid)."""
        self._check_writable()
        classes = validate_classes(self._manifest.classes + list(new), self.task)
        added = classes[len(self._manifest.classes):]
        extra = check_colors(colors, added) if colors is not None else None
        if extra is None:
            extra = check_colors(None, classes)[len(self._manifest.classes):]
        self._manifest.classes = classes
        self._manifest.colors = self._manifest.colors + extra
        self._manifest.save(self.root)

    @property
    def queue(self) -> RefitQueue:
        """The corrections queue; one object per open project, so listeners see every change."""
        if self._queue is None:
            self._queue = RefitQueue(self.db)
        return self._queue

    # -- images ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rescan images/, masks/ and labels.csv (cheap: directory listings, no decoding)."""
        self._names = sorted(_list_files(self.images_dir, imageio.is_supported_name))
        self._name_set = set(self._names)
        self._mask_stems = {
            n[:-4] for n in _list_files(self.masks_dir, lambda n: n.lower().endswith(".png"))
        }
        self._labels = read_labels_csv(self.labels_csv) if self.task is Task.MULTILABEL else {}
        if not self.readonly:
            self._reconcile()

    def image_names(self) -> list[str]:
        if self._names is None:
            self.refresh()
        return list(self._names or [])

    def image_path(self, name: str) -> Path:
        return self.images_dir / name

    def _check_name(self, name: str) -> None:
        if name not in self._name_set:
            raise ImageReadError(f"{self.image_path(name)} is not an image of project {self.name}.")

    def _check_writable(self) -> None:
        if self.readonly:
            raise ReadOnlyError(f"Project {self.root} is open read-only; reopen it for writing.")

    def add_images(self, paths: Iterable[str | os.PathLike[str]], *, copy: bool = True,
                   progress: Callable[[int, int], None] | None = None) -> ImportReport:
        """Validate and copy images (files or folders) into images/; copy=False registers files
        already in images/. Unreadable files are skipped and listed in the report."""
        from workbench.core.importers import add_image_files

        self._check_writable()
        report = add_image_files(self, paths, copy=copy, progress=progress)
        self.refresh()
        return report

    # -- status ----------------------------------------------------------------------------
    def has_label(self, name: str) -> bool:
        """Whether the image has a mask file / a labels.csv row (cheap: no file is read)."""
        stem = stem_of(name)
        return stem in (self._mask_stems if self.task is Task.SEGMENTATION else self._labels)

    def _effective(self, name: str, row: str | None) -> Status:
        # Files decide whether an image is labelled; the db adds "reviewed" / "unlabelled again".
        has = self.has_label(name)
        if row is None:
            return Status.LABELLED if has else Status.UNLABELLED
        status = Status(row)
        return status if has or status is Status.UNLABELLED else Status.UNLABELLED

    def _reconcile(self) -> None:
        rows = self.db.statuses()
        add: dict[str, str] = {}
        drop: list[str] = []
        for name in self._names or []:
            row = rows.get(name)
            eff = self._effective(name, row)
            if row is None and eff is Status.LABELLED:
                add[name] = eff.value
            elif row is not None and eff.value != row:
                drop.append(name)
        if add:
            self.db.set_statuses(add)
        if drop:
            self.db.delete_statuses(drop)
        if add or drop:
            log.info("reconciled %d status rows with the label files", len(add) + len(drop))

    def status(self, name: str) -> Status:
        return self._effective(name, self.db.get_status(name))

    def statuses(self) -> dict[str, Status]:
        rows = self.db.statuses()
        return {n: self._effective(n, rows.get(n)) for n in self.image_names()}

    def set_status(self, name: str, status: Status | str) -> None:
        self._check_writable()
        self._check_name(name)
        status = Status(status)
        if status in _DONE and not self.has_label(name):
            if self.task is Task.SEGMENTATION:
                raise LabelError(f"Cannot mark {name} as {status.value}: it has no mask yet.")
            self.set_many_tags({name: []})  # "labelled, carries none of the tags"
        self.db.set_statuses({name: status.value})
        if status is not Status.LABELLED:  # reviewed is the done step; unlabelled has no work
            self.db.set_in_progress([name], False)

    # -- the done step ---------------------------------------------------------------------
    def in_progress(self) -> set[str]:
        """Labelled images someone started in the window and has not marked done (Reviewed)
        yet: "Next to do" (N) visits them as well as the unlabelled ones, so one stray stroke
        does not hide an image from N."""
        marked = self.db.in_progress()
        names = set(self.image_names()) if marked else set()
        return {n for n in marked if n in names and self.has_label(n)}

    def set_in_progress(self, name: str, on: bool = True) -> None:
        self._check_writable()
        self._check_name(name)
        self.db.set_in_progress([name], on)

    def _mark_labelled(self, names: Iterable[str]) -> None:
        rows = self.db.statuses()
        todo = {n: Status.LABELLED.value for n in names if rows.get(n) != Status.REVIEWED.value}
        if todo:
            self.db.set_statuses(todo)

    def labelled_names(self) -> list[str]:
        return [n for n, s in self.statuses().items() if s in _DONE]

    def clear_label(self, name: str) -> None:
        """Delete the mask / tags row of an image; it becomes unlabelled."""
        self._check_writable()
        stem = stem_of(name)
        if self.task is Task.SEGMENTATION:
            try:
                self.mask_path(name).unlink(missing_ok=True)
            except OSError as exc:
                raise translate_os_error(exc, self.mask_path(name), "delete") from exc
            self._mask_stems.discard(stem)
        elif stem in self._labels:
            labels = dict(self._labels)
            del labels[stem]
            write_labels_csv(self.labels_csv, labels)
            self._labels = labels
        self.db.delete_statuses([name])
        self.db.set_in_progress([name], False)

    # -- segmentation ----------------------------------------------------------------------
    def mask_path(self, name: str) -> Path:
        return self.masks_dir / f"{stem_of(name)}.png"

    def _check_mask(self, name: str, mask: np.ndarray, where: Path) -> None:
        width, height = imageio.image_size(self.image_path(name))
        if mask.shape != (height, width):
            raise MaskError(
                f"Mask {where} is {mask.shape[1]}x{mask.shape[0]} but image {name} is "
                f"{width}x{height}; a mask must have exactly the size of its image."
            )
        n = len(self._manifest.classes)
        bad = (mask >= n) & (mask != UNLABELLED_VALUE)
        if bad.any():
            values = ", ".join(str(v) for v in np.unique(mask[bad])[:10])
            raise MaskError(
                f"Mask {where} contains values {values} outside the {n} classes of this project "
                f"(allowed: 0-{n - 1}, and {UNLABELLED_VALUE} for 'not labelled')."
            )

    def read_mask(self, name: str) -> np.ndarray | None:
        path = self.mask_path(name)
        if not path.exists():
            return None
        mask = imageio.read_mask(path)
        self._check_mask(name, mask, path)
        return mask

    def write_mask(self, name: str, mask: np.ndarray) -> None:
        """Validate and atomically save a mask; the image becomes labelled (reviewed stays).

        A mask that is entirely UNLABELLED_VALUE labels nothing, so it removes the mask file
        instead: mask files exist only for images someone labelled.
        """
        self._check_writable()
        self._check_name(name)
        path = self.mask_path(name)
        mask = imageio.check_mask_array(mask, name)
        self._check_mask(name, mask, path)
        if mask.size and (mask == UNLABELLED_VALUE).all():
            self.clear_label(name)
            return
        self.masks_dir.mkdir(exist_ok=True)
        imageio.write_mask(path, mask)
        self._mask_stems.add(stem_of(name))
        self._mark_labelled([name])

    # -- multilabel ------------------------------------------------------------------------
    def tags(self, name: str) -> list[str]:
        return list(self._labels.get(stem_of(name), []))

    def set_tags(self, name: str, tags: list[str]) -> None:
        self.set_many_tags({name: tags})

    def set_many_tags(self, mapping: dict[str, list[str]]) -> None:
        """Set tags of several images with one atomic rewrite of labels.csv."""
        self._check_writable()
        vocab = set(self._manifest.classes)
        labels = dict(self._labels)
        for name, tags in mapping.items():
            self._check_name(name)
            unknown = sorted({t for t in tags if t not in vocab})
            if unknown:
                raise LabelError(
                    f"Unknown tag(s) {', '.join(unknown)} for {name}; the project's tags are: "
                    f"{', '.join(self._manifest.classes) or '(none)'}."
                )
            labels[stem_of(name)] = list(dict.fromkeys(tags))
        write_labels_csv(self.labels_csv, labels)
        self._labels = labels
        self._mark_labelled(mapping)

    def all_tags(self) -> dict[str, list[str]]:
        return {n: list(self._labels[stem_of(n)]) for n in self.image_names()
                if stem_of(n) in self._labels}

    # -- split and summary -----------------------------------------------------------------
    def split(self, names: list[str] | None = None) -> tuple[list[str], list[str]]:
        """(train, valid) names of the labelled images (or of ``names``), by the split rule."""
        return self.split_rule.apply(self.labelled_names() if names is None else list(names))

    def info(self) -> dict[str, Any]:
        """Counts per status and class/tag and split sizes (``workbench info --json``)."""
        return project_info(self)


def _list_files(folder: Path, keep: Any) -> list[str]:
    """Names of visible regular files in ``folder`` for which keep(name) is true."""
    try:
        with os.scandir(folder) as it:
            return [
                e.name for e in it
                if not e.name.startswith(".") and keep(e.name) and e.is_file()
            ]
    except FileNotFoundError:
        return []

