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

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from workbench.core import imageio
from workbench.core.annotation.journal import set_aside_unless_live
from workbench.core.atomic import (
    remove_stale_temps,
    remove_stale_trees,
    stage_bytes,
    translate_os_error,
)
from workbench.core.db import ProjectDB
from workbench.core.errors import (
    ImageReadError,
    LabelError,
    MaskError,
    ProjectError,
    ReadOnlyError,
)
from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.labels import format_labels_csv, read_labels_csv, stem_of
from workbench.core.lock import ProjectLock
from workbench.core.manifest import (
    MANIFEST_NAME,
    TEAM_FORMAT_VERSION,
    Color,
    Manifest,
    SplitRule,
    Status,
    Task,
    check_colors,
    validate_classes,
)
from workbench.core.names import display, is_utf8
from workbench.core.project_info import project_info
from workbench.core.queue import RefitQueue
from workbench.core.report import ImportReport
from workbench.core.runs import MODELS_DIR, interrupt_dead_runs
from workbench.core.store import ProjectStore

if TYPE_CHECKING:
    from workbench.core.label_writes import LabelWrite

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
        #: Files in images/ whose names are not valid UTF-8: listed (escaped), never used.
        self.unusable_names: list[str] = []
        self.db: ProjectStore
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
        database: str | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> Project:
        """Create a new project folder (or turn an existing folder into one) and open it.

        With ``database`` (postgresql://HOST:PORT/DBNAME) it is a team project: the tables are
        created in that (existing, empty) database, and the folder holds images/ and the
        manifest only. ``credentials`` (user, password) override libpq's environment."""
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
        if database is not None:
            from workbench.core.team.db import TeamDB
            from workbench.core.team.url import DatabaseURL

            url = DatabaseURL.parse(database)
            TeamDB.refuse_used(url, credentials)  # before anything is made: unreachable, used
            manifest = dataclasses.replace(manifest, database=str(url),
                                           format_version=TEAM_FORMAT_VERSION)
        try:
            (root / "images").mkdir(parents=True, exist_ok=True)
            if task is Task.SEGMENTATION and database is None:
                (root / "masks").mkdir(exist_ok=True)
        except OSError as exc:
            raise translate_os_error(exc, root / "images", "create") from exc
        if database is not None:
            TeamDB.create_schema(url, credentials)
        elif task is Task.MULTILABEL and not (root / LABELS_NAME).exists():
            stage_bytes(root / LABELS_NAME, format_labels_csv({}).encode()).commit()
        manifest.save(root)
        return cls.open(root, credentials=credentials)

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, readonly: bool = False,
             credentials: Mapping[str, str] | None = None) -> Project:
        """Open a project; a writable open takes the lock (ProjectLockedError if taken).

        A team project (its manifest names a database) opens as a TeamProject: no folder
        lock, its store on the server; ``credentials`` override libpq's environment."""
        root = Path(root).expanduser().resolve()
        manifest = Manifest.load(root)
        if manifest.database is not None:
            from workbench.core.team.project import TeamProject

            return TeamProject._open_team(root, manifest, readonly=readonly,
                                          credentials=credentials)
        project = cls(root, manifest, readonly=readonly)
        if not readonly:
            project._lock = ProjectLock(root)
            project._lock.acquire()
        try:
            project.db = ProjectDB(root / DB_NAME, readonly=readonly)
            if project._lock is not None and not project._lock.shared:
                # We alone hold the lock, so no temp file of an interrupted write is live, and a
                # run still marked running lost its process.
                for folder in (root, project.masks_dir, project.images_dir, *project.run_dirs()):
                    remove_stale_temps(folder)
                remove_stale_trees(project.predictions_dir)
                for run_id in interrupt_dead_runs(project):
                    log.warning("run %s was interrupted (its process is gone); it can be "
                                "resumed", run_id)
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

    @property
    def local_root(self) -> Path:
        """Where this user's own files for the project live: the stroke journals
        (``.journal/``) and the window's remembered settings (``.prefs.json``). The project
        folder; a team project keeps them on the annotator's computer instead."""
        return self.root

    @property
    def is_team(self) -> bool:
        """Whether this is a team project (claims, versions; see workbench.core.team)."""
        return False

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

    def run_dirs(self) -> list[Path]:
        """``models/<run>/`` folders (checkpoints), whether or not the database knows them."""
        models = self.root / MODELS_DIR
        return sorted(d for d in models.iterdir() if d.is_dir()) if models.is_dir() else []

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
        self._update_manifest(start_image=name)

    def set_split_rule(self, rule: SplitRule) -> None:
        self._check_writable()
        self._update_manifest(split=rule)

    def set_colors(self, colors: list[Color]) -> None:
        self._check_writable()
        self._update_manifest(colors=check_colors(colors, self._manifest.classes))

    def add_classes(self, new: Iterable[str], colors: list[Color] | None = None) -> None:
        """Append classes / tags (existing indices never change, so masks stay valid)."""
        self._check_writable()
        classes = validate_classes(self._manifest.classes + list(new), self.task)
        added = classes[len(self._manifest.classes):]
        extra = check_colors(colors, added) if colors is not None else None
        if extra is None:
            extra = check_colors(None, classes)[len(self._manifest.classes):]
        self._update_manifest(classes=classes, colors=self._manifest.colors + extra)

    def _update_manifest(self, **changes: Any) -> None:
        """Save a changed manifest; only once it is on disk does this object see the change
        (a failed save, e.g. on a full disk, leaves memory and file as they were)."""
        updated = dataclasses.replace(self._manifest, **changes)
        updated.save(self.root)
        self._manifest = updated

    @property
    def queue(self) -> RefitQueue:
        """The corrections queue; one object per open project, so listeners see every change."""
        if self._queue is None:
            self._queue = RefitQueue(self.db)
        return self._queue

    # -- images ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rescan images/, masks/ and labels.csv (cheap: directory listings, no decoding)."""
        self._set_names(_list_files(self.images_dir, imageio.is_supported_name))
        self._mask_stems = {
            n[:-4] for n in _list_files(self.masks_dir, lambda n: n.lower().endswith(".png"))
        }
        self._labels = read_labels_csv(self.labels_csv) if self.task is Task.MULTILABEL else {}
        if not self.readonly:
            self._reconcile()

    def _set_names(self, listed: list[str]) -> None:
        self._names = sorted(n for n in listed if is_utf8(n))
        self.unusable_names = sorted(display(n) for n in listed if not is_utf8(n))
        if self.unusable_names:
            log.warning("%s: ignoring %d image(s) whose file names are not valid UTF-8 (%s); "
                        "rename them", self.images_dir, len(self.unusable_names),
                        ", ".join(self.unusable_names[:3]))
        self._name_set = set(self._names)

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
        """Delete the mask / tags row of an image; it becomes unlabelled. All or nothing: if
        the database cannot be written, the mask or row is still there."""
        self._check_writable()
        if self.task is Task.SEGMENTATION:
            self._check_name(name)
            shape = imageio.image_size(self.image_path(name))[::-1]
            self.write_labels(masks={name: np.full(shape, UNLABELLED_VALUE, np.uint8)})
        elif stem_of(name) in self._labels:
            labels = dict(self._labels)
            del labels[stem_of(name)]
            staged = stage_bytes(self.labels_csv, format_labels_csv(labels).encode())
            try:
                self.db.delete_statuses([name])
            except BaseException:
                staged.discard()
                raise
            staged.commit()
            self._labels = labels
        else:
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
        self.write_labels(masks={name: mask})

    def write_labels(self, masks: dict[str, np.ndarray] | None = None,
                     tags: dict[str, list[str]] | None = None, *,
                     also: Callable[[], object] | None = None) -> None:
        """Write masks and/or tags of several images, all or nothing: every file is staged
        first, then the statuses (and ``also()``, e.g. queue items) commit in one database
        transaction, and only then are the files renamed into place. A full disk at any step
        leaves files, database and this object as they were. The one write path for labels:
        a replaced mask's stroke journal is set aside (it was painted on the old mask)."""
        self._check_writable()
        write = self._new_label_write(masks or {}, tags or {})
        write.run(also)
        self._after_write(write)
        self._mask_stems |= {stem_of(n) for n in write.written}
        self._mask_stems -= {stem_of(n) for n in write.removed}
        if write.labels is not None:
            self._labels = write.labels
        for name in [*write.written, *write.removed]:
            set_aside_unless_live(self.local_root, name, "replaced")

    def _new_label_write(self, masks: dict[str, np.ndarray],
                         tags: dict[str, list[str]]) -> LabelWrite:
        from workbench.core.label_writes import LabelWrite

        return LabelWrite(self, masks, tags)

    def _after_write(self, write: LabelWrite) -> None:
        """What a store remembers after a write (a team project: the new versions)."""

    def mask_files(self, names: Iterable[str],
                   versions: Mapping[str, int] | None = None) -> dict[str, Path]:
        """A mask file per image, for data loaders; a team project writes out the ``versions``
        given (from :meth:`label_versions`), else the current ones."""
        return {n: self.mask_path(n) for n in names}

    def label_versions(self, names: Iterable[str]) -> dict[str, int]:
        """Label version per image, and :meth:`tags` then answers for exactly these versions.
        Empty for a local project, whose labels are plain files with no version (the folder
        lock makes its one writer the only one anyway)."""
        return {}

    def pin_labels(self, run_id: str, versions: Mapping[str, int]) -> None:
        """Record the label versions a run trained on (team projects; a local project has
        none, see :meth:`label_versions`)."""
        if versions:
            raise ProjectError(f"{self.root} is a local project: its labels have no versions.")

    def pinned_labels(self, run_id: str) -> dict[str, int]:
        return {}

    # -- multilabel ------------------------------------------------------------------------
    def tags(self, name: str) -> list[str]:
        return list(self._labels.get(stem_of(name), []))

    def set_tags(self, name: str, tags: list[str]) -> None:
        self.set_many_tags({name: tags})

    def set_many_tags(self, mapping: dict[str, list[str]]) -> None:
        """Set tags of several images with one atomic rewrite of labels.csv."""
        self.write_labels(tags=mapping)

    def _new_labels(self, mapping: dict[str, list[str]]) -> dict[str, list[str]]:
        """labels.csv's rows with ``mapping`` applied (LabelError for an unknown tag)."""
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
        return labels

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

