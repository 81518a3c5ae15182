"""One all-or-nothing write of masks and tags (behind :meth:`Project.write_labels`).

Order: check everything, stage every new file as a complete temp file beside its target, move
masks that are being removed aside, commit the database transaction (statuses plus the
caller's extra rows), then rename the staged files into place. The renames need no disk space,
so once the database has committed nothing can fail for a full disk; any failure before that
discards the temp files and moves removed masks back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.core import imageio
from workbench.core.atomic import StagedFile, stage_bytes, temp_prefix, translate_os_error
from workbench.core.imageio import UNLABELLED_VALUE
from workbench.core.labels import format_labels_csv
from workbench.core.manifest import Status

if TYPE_CHECKING:
    from workbench.core.project import Project

log = logging.getLogger(__name__)


class LabelWrite:
    """Masks and tags checked up front; :meth:`run` writes them. Afterwards ``written`` and
    ``removed`` name the images whose mask file was written / removed, ``labels`` holds the
    new labels.csv rows (None: tags untouched)."""

    def __init__(self, project: Project, masks: dict[str, np.ndarray],
                 tags: dict[str, list[str]]) -> None:
        self.project = project
        self.masks: dict[str, np.ndarray] = {}
        for name, mask in masks.items():
            project._check_name(name)
            mask = imageio.check_mask_array(mask, name)
            project._check_mask(name, mask, project.mask_path(name))
            self.masks[name] = mask
        self.removed = [n for n, m in self.masks.items()
                        if m.size and (m == UNLABELLED_VALUE).all()]
        self.written = [n for n in self.masks if n not in self.removed]
        self.tags = tags
        self.labels = project._new_labels(tags) if tags else None

    def run(self, also: Callable[[], object] | None = None) -> None:
        staged: list[StagedFile] = []
        moved: list[tuple[Path, Path]] = []
        try:
            staged = self._stage()
            with self.project.db.write():
                self._set_statuses()
                moved = self._move_removed_aside()
                if also is not None:
                    also()
        except BaseException:
            for file in staged:
                file.discard()
            for path, aside in moved:
                os.replace(aside, path)
            raise
        for file in staged:
            file.commit()
        for _, aside in moved:
            try:
                aside.unlink()
            except OSError as exc:  # a pid-named temp: swept on the next open
                log.warning("could not remove %s: %s", aside, exc)

    def _stage(self) -> list[StagedFile]:
        project, staged = self.project, []
        try:
            if self.written:
                try:
                    project.masks_dir.mkdir(exist_ok=True)
                except OSError as exc:
                    raise translate_os_error(exc, project.masks_dir, "create") from exc
            for name in self.written:
                data = imageio.encode_mask_png(self.masks[name])
                staged.append(stage_bytes(project.mask_path(name), data))
            if self.labels is not None:
                text = format_labels_csv(self.labels)
                staged.append(stage_bytes(project.labels_csv, text.encode()))
        except BaseException:
            for file in staged:
                file.discard()
            raise
        return staged

    def _set_statuses(self) -> None:
        db = self.project.db
        rows = db.statuses()
        done = [*self.written, *self.tags]
        todo = {n: Status.LABELLED.value for n in done if rows.get(n) != Status.REVIEWED.value}
        if todo:
            db.set_statuses(todo)
        if self.removed:
            db.delete_statuses(self.removed)

    def _move_removed_aside(self) -> list[tuple[Path, Path]]:
        moved: list[tuple[Path, Path]] = []
        for name in self.removed:
            path = self.project.mask_path(name)
            aside = path.with_name(temp_prefix(path.name) + "deleted.tmp")
            try:
                os.replace(path, aside)
            except FileNotFoundError:
                continue
            except OSError as exc:
                for back, moved_to in moved:
                    os.replace(moved_to, back)
                raise translate_os_error(exc, path, "delete") from exc
            moved.append((path, aside))
        return moved
