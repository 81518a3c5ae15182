"""``TeamProject``: the Project API over a PostgreSQL store, images on a shared folder.

What differs from a local project, all behind the same methods:

* labels (masks as PNG bytes, tag sets) are versions in the database, never files; reading a
  mask reads the current version, and :meth:`write_labels` adds a version only when the
  writer holds the image (or nobody does) and started from the current version;
* there is no folder lock: many annotators write at once, each image guarded by its claim;
* training reads masks through :meth:`mask_files` (the pinned versions, written once into a
  cache folder named by version) and records which versions it read (:meth:`pin_labels`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core import imageio
from workbench.core.atomic import stage_bytes
from workbench.core.errors import ClaimError, LabelError
from workbench.core.labels import stem_of
from workbench.core.manifest import Manifest, Status, Task
from workbench.core.project import Project, _list_files
from workbench.core.team import claims
from workbench.core.team.db import LabelVersion, TeamDB
from workbench.core.team.label_writes import TeamLabelWrite
from workbench.core.team.url import DatabaseURL

log = logging.getLogger(__name__)

#: A window's claim: renewed while the image is open.
WINDOW_LEASE_S = 15 * 60
#: A claim from ``workbench claim`` without --lease.
DEFAULT_LEASE_S = 60 * 60
#: A rejected image goes back to its labeller with a claim this long.
REJECT_LEASE_S = 7 * 24 * 3600
CACHE_DIR = "mask-cache"  # under local_root: this computer, never the shared folder


class TeamProject(Project):
    """A team project: see the module docstring."""

    db: TeamDB

    def __init__(self, root: Path, manifest: Manifest, *, readonly: bool) -> None:
        super().__init__(root, manifest, readonly=readonly)
        assert manifest.database is not None
        self.url = DatabaseURL.parse(manifest.database)
        #: The label version each image had when this client last looked (refresh, claim, or
        #: its own save): a save from an older base is a conflict.
        self._seen: dict[str, int] = {}

    @property
    def is_team(self) -> bool:
        return True

    @property
    def local_root(self) -> Path:
        """This annotator's own files (stroke journals, window settings) stay on this
        computer, per server, database and role (``<user data dir>/team-journals/...``): a
        lost connection or share keeps every stroke, one annotator's journal is never replayed
        into another's session, and nobody's brush size overwrites another's."""
        from platformdirs import user_data_dir

        key = f"{self.url.host}_{self.url.port}_{self.url.dbname}_{self.user}"
        folder = Path(user_data_dir("workbench", appauthor=False)) / "team-journals" / key
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def user(self) -> str:
        """This client's PostgreSQL role: the name on its claims, versions and reviews."""
        return self.db.user

    @classmethod
    def _open_team(cls, root: Path, manifest: Manifest, *, readonly: bool,
                   credentials: Mapping[str, str] | None) -> TeamProject:
        project = cls(root, manifest, readonly=readonly)
        try:
            project.db = TeamDB(project.url, credentials, readonly=readonly)
            project.refresh()
        except BaseException:
            project.close()
            raise
        return project

    # -- images and labels -----------------------------------------------------------------
    def refresh(self) -> None:
        """Rescan images/ (registering new names) and load every image's current label; the
        versions seen now are the bases of this client's next saves."""
        listed = _list_files(self.images_dir, imageio.is_supported_name)
        super()._set_names(listed)
        if not self.readonly:
            self.db.register_images(self._names or [])
        heads = self._load_heads()
        self._seen = {n: int(h["version"]) for n, h in heads.items()}

    def _load_heads(self) -> dict[str, dict[str, Any]]:
        """Load the current labels (has_label, tags); the bases of saves stay as they were."""
        heads = self.db.heads()
        self._mask_stems = {stem_of(n) for n, h in heads.items() if h["kind"] == "mask"}
        self._labels = {stem_of(n): json.loads(h["tags"]) for n, h in heads.items()
                        if h["kind"] == "tags"}
        return heads

    def _reconcile(self) -> None:
        """Nothing to reconcile: labels and statuses change in one transaction."""

    def _effective(self, name: str, row: str | None) -> Status:
        # The status row is the truth: it changes in the same transaction as the label, and
        # this client's view of the labels (has_label) may be older than another's save.
        return Status(row) if row is not None else Status.UNLABELLED

    def set_status(self, name: str, status: Status | str) -> None:
        """As for a local project, except that "reviewed" is a review: by someone other than
        the image's labeller (see :meth:`review`)."""
        if Status(status) is Status.REVIEWED:
            self.review(name, accept=True)
            self.db.set_in_progress([name], False)
            return
        super().set_status(name, status)

    def base_version(self, name: str) -> int:
        """The version this client started from (0: no label yet)."""
        return self._seen.get(name, 0)

    def read_mask(self, name: str) -> np.ndarray | None:
        row = self.db.read_label(name)
        if row is None or row["kind"] != "mask":
            return None
        mask = imageio.decode_mask_png(bytes(row["png"]), f"{name} (version {row['version']})")
        self._check_mask(name, mask, Path(f"{self.url}/{name}@{row['version']}"))
        return mask

    def _new_label_write(self, masks: dict[str, np.ndarray],
                         tags: dict[str, list[str]]) -> TeamLabelWrite:
        return TeamLabelWrite(self, masks, tags)

    def _after_write(self, write: Any) -> None:
        self._seen.update(write.versions)

    def clear_label(self, name: str) -> None:
        """Save a 'cleared' version: the image becomes unlabelled, its history stays."""
        self._check_writable()
        self._check_name(name)
        if self.task is Task.SEGMENTATION:
            shape = imageio.image_size(self.image_path(name))[::-1]
            self.write_labels(masks={name: np.full(shape, imageio.UNLABELLED_VALUE, np.uint8)})
        else:
            write = TeamLabelWrite(self, {}, {})
            write.removed = [name]
            write.run()
            self._labels.pop(stem_of(name), None)
            self._after_write(write)
        self.db.set_in_progress([name], False)

    def mask_files(self, names: Iterable[str],
                   versions: Mapping[str, int] | None = None) -> dict[str, Path]:
        """Each image's mask of ``versions`` (default: the current ones) as a file
        (``<local_root>/mask-cache/<stem>.v<N>.png``, written once per version: a version never
        changes), for data loaders that read files."""
        names = list(names)
        versions = self.label_versions(names) if versions is None else versions
        folder = self.local_root / CACHE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        out: dict[str, Path] = {}
        for name in names:
            version = versions.get(name)
            if version is None:
                raise LabelError(f"{name} has no mask in {self.url}.")
            path = folder / f"{stem_of(name)}.v{version}.png"
            if not path.exists():
                row = self.db.read_label(name, version)
                assert row is not None and row["png"] is not None
                stage_bytes(path, bytes(row["png"])).commit()
            out[name] = path
        return out

    def label_versions(self, names: Iterable[str]) -> dict[str, int]:
        """The current label version of each of ``names`` that has one, from one snapshot
        that :meth:`tags` and :meth:`has_label` now answer from too."""
        wanted = set(names)
        return {n: int(h["version"]) for n, h in self._load_heads().items()
                if n in wanted and h["kind"] != "cleared"}

    def pin_labels(self, run_id: str, versions: Mapping[str, int]) -> None:
        self.db.pin_run_labels(run_id, versions)

    def pinned_labels(self, run_id: str) -> dict[str, int]:
        return self.db.run_labels(run_id)

    # -- claims ----------------------------------------------------------------------------
    def claim_next(self, count: int, lease_s: float = DEFAULT_LEASE_S) -> list[str]:
        self._check_writable()
        got = claims.claim_next(self.db, count, lease_s, self.image_names())
        self._note_bases(got)
        return got

    def claim(self, name: str, lease_s: float = WINDOW_LEASE_S) -> str | None:
        """Claim (or renew) one image for this role; None on success, else the holder's name."""
        self._check_writable()
        self._check_name(name)
        holder = claims.claim_one(self.db, name, lease_s)
        if holder is None:
            self._note_bases([name])
        return holder

    def _note_bases(self, names: list[str]) -> None:
        versions = self.db.heads()
        for name in names:
            self._seen[name] = int(versions[name]["version"]) if name in versions else 0

    def release(self, names: Iterable[str] | None = None) -> list[str]:
        return claims.release(self.db, None if names is None else list(names))

    def holders(self) -> dict[str, dict[str, Any]]:
        return claims.live_claims(self.db)

    def history(self, name: str) -> list[LabelVersion]:
        self._check_name(name)
        return self.db.history(name)

    def revert(self, name: str, version: int) -> int:
        """Save an old version again as a new version; returns the new version number."""
        row = self.db.read_label(name, version)
        if row is None:
            raise LabelError(f"{name} has no version {version}.")
        self._seen.setdefault(name, 0)
        if row["kind"] == "mask":
            mask = imageio.decode_mask_png(bytes(row["png"]), f"{name}@{version}")
            self.write_labels(masks={name: mask})
        elif row["kind"] == "tags":
            self.write_labels(tags={name: json.loads(row["tags"])})
        else:
            self.clear_label(name)
        return self._seen[name]

    def conflict_copies(self, name: str | None = None) -> list[dict[str, Any]]:
        """Refused saves kept for review (all, or ``name``'s): id, image, author, base and
        current version, reason, time; without the mask bytes."""
        return [{"id": int(c["id"]), "image": c["name"], "kind": c["kind"],
                 "author": c["author"], "base_version": c["base_version"],
                 "current_version": c["current_version"], "reason": c["reason"],
                 "time": float(c["time"])} for c in self.db.conflicts(name)]

    def take_conflict(self, conflict_id: int) -> int:
        """Save conflict copy ``conflict_id`` as the image's newest version (a decision on the
        current version, so its base is the current one); returns the new version number."""
        rows = [c for c in self.db.conflicts() if int(c["id"]) == int(conflict_id)]
        if not rows:
            raise LabelError(f"There is no conflict copy #{conflict_id} in {self.url}.")
        row = rows[0]
        name = row["name"]
        self._check_name(name)
        self._seen[name] = int(self.db.heads().get(name, {}).get("version", 0))
        if row["kind"] == "mask":
            mask = imageio.decode_mask_png(bytes(row["png"]), f"conflict #{conflict_id}")
            self.write_labels(masks={name: mask})
        elif row["kind"] == "tags":
            self.write_labels(tags={name: json.loads(row["tags"])})
        else:
            self.clear_label(name)
        self.db.audit("take-conflict", name, {"id": int(conflict_id)})
        return self._seen[name]

    def review(self, name: str, *, accept: bool, note: str = "") -> None:
        self._check_writable()
        self._check_name(name)
        claims.review(self.db, name, accept=accept, note=note)
        self._load_heads()

    def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` audit entries, newest first: time, actor, action, image,
        detail (JSON text)."""
        rows = self.db.query(
            "SELECT extract(epoch FROM at)::float8 AS time, actor, action, name AS image, detail "
            "FROM audit ORDER BY id DESC LIMIT %s", (int(limit),))
        return rows

    def summary(self) -> dict[str, Any]:
        return claims.summary(self)

    def check_holder(self, name: str) -> None:
        """ClaimError naming the holder when someone else holds ``name``."""
        holder = self.holders().get(name)
        if holder is not None and holder["holder"] != self.user:
            raise ClaimError(f"{name} is held by {holder['holder']}.")

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()


__all__ = ["DEFAULT_LEASE_S", "WINDOW_LEASE_S", "TeamProject"]
