"""The team project's side of the one label write path (:meth:`Project.write_labels`).

Checks and encodes like the local write (:class:`LabelWrite` does the validation), then in one
PostgreSQL transaction: lock each image's head row, refuse the whole write when an image is
held by another role (named) or when its current version is not the one this client started
from (its base), else add a new version per image, move the heads, set the statuses, run the
caller's ``also()`` and notify the other clients; all of it commits together or not at all.

A refused write is never lost: each refused image's mask or tags are kept in ``conflicts`` (in
a transaction of their own, after the refused one rolled back) for the team lead to review.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.core import imageio
from workbench.core.errors import ClaimError, ConflictError
from workbench.core.label_writes import LabelWrite
from workbench.core.team.schema import CHANNEL

if TYPE_CHECKING:
    from workbench.core.team.project import TeamProject

log = logging.getLogger(__name__)


# Lock (creating if need be) an image's head row; its version and any live claim, in one trip.
_LOCK_HEAD = """
WITH h AS (
    INSERT INTO label_heads AS lh VALUES (%(name)s, 0)
    ON CONFLICT (name) DO UPDATE SET version = lh.version
    RETURNING version)
SELECT h.version, c.holder, c.expires_at
FROM h LEFT JOIN claims c ON c.name = %(name)s AND c.expires_at > now()
"""

# The new version, the head moved to it, the audit row and the NOTIFY (sent on commit).
_SAVE = """
WITH v AS (INSERT INTO label_versions (name, version, kind, png, tags, base_version)
           VALUES (%(name)s, %(version)s, %(kind)s, %(png)s, %(tags)s, %(base)s)),
     h AS (UPDATE label_heads SET version = %(version)s WHERE name = %(name)s),
     a AS (INSERT INTO audit (action, name, detail) VALUES ('save', %(name)s, %(detail)s))
SELECT pg_notify(%(channel)s, %(event)s)
"""

_LABELLED = """
INSERT INTO image_status AS s (name, status, updated_at)
SELECT n, 'labelled', %(now)s FROM unnest(%(names)s::text[]) AS n
ON CONFLICT (name) DO UPDATE SET status = 'labelled', updated_at = excluded.updated_at
    WHERE s.status <> 'reviewed'
"""


class _Refused(Exception):
    def __init__(self, refused: dict[str, dict[str, Any]]) -> None:
        super().__init__("refused")
        self.refused = refused


class TeamLabelWrite(LabelWrite):
    """Afterwards ``versions`` maps each written image to its new version number."""

    project: TeamProject

    def run(self, also: Callable[[], object] | None = None) -> None:
        payload = self._payload()
        db = self.project.db
        try:
            with db.write() as con:
                heads = self._check(con, payload)
                self.versions = {}
                for name in sorted(payload):
                    kind, png, tags = payload[name]
                    version = heads[name] + 1
                    event = {"event": "save", "image": name, "version": version,
                             "user": db.user}
                    con.execute(_SAVE, {  # the version, the head, the audit row, the NOTIFY
                        "name": name, "version": version, "kind": kind, "png": png,
                        "tags": tags, "base": heads[name], "channel": CHANNEL,
                        "detail": json.dumps({"version": version, "kind": kind}),
                        "event": json.dumps(event)})
                    self.versions[name] = version
                self._set_statuses(con)
                if also is not None:
                    also()
        except _Refused as refused:
            raise self._keep_conflicts(payload, refused.refused) from None

    def _set_statuses(self, con: Any = None) -> None:
        """As the local write does (labelled, a reviewed image stays reviewed; removed labels
        drop their status), in one statement over just these images."""
        con = self.project.db.con if con is None else con
        names = [*self.written, *self.tags]
        if names:
            con.execute(_LABELLED, {"names": names, "now": time.time()})
        if self.removed:
            con.execute("DELETE FROM image_status WHERE name = ANY(%s)", (self.removed,))

    def _payload(self) -> dict[str, tuple[str, bytes | None, str | None]]:
        payload: dict[str, tuple[str, bytes | None, str | None]] = {}
        for name in self.written:
            payload[name] = ("mask", imageio.encode_mask_png(self.masks[name]), None)
        for name in self.removed:
            payload[name] = ("cleared", None, None)
        for name, tags in self.tags.items():
            payload[name] = ("tags", None, json.dumps(list(dict.fromkeys(tags))))
        return payload

    def _check(self, con: Any, payload: dict[str, Any]) -> dict[str, int]:
        """Lock the heads; the current versions, or _Refused naming every refused image."""
        project, db = self.project, self.project.db
        heads: dict[str, int] = {}
        refused: dict[str, dict[str, Any]] = {}
        for name in sorted(payload):  # one order: two writers of the same images never deadlock
            row = con.execute(_LOCK_HEAD, {"name": name}).fetchone()
            head = heads[name] = int(row["version"])
            claim = row if row["holder"] is not None else None
            base = project.base_version(name)
            if claim is not None and claim["holder"] != db.user:
                refused[name] = {"reason": "held", "holder": claim["holder"],
                                 "until": claim["expires_at"], "head": head, "base": base}
            elif head != base:
                refused[name] = {"reason": "stale", "head": head, "base": base}
        if refused:
            raise _Refused(refused)
        return heads

    def _keep_conflicts(self, payload: dict[str, Any],
                        refused: dict[str, dict[str, Any]]) -> Exception:
        db = self.project.db
        ids: dict[str, int] = {}
        with db.write() as con:
            for name, why in refused.items():
                kind, png, tags = payload[name]
                row = con.execute(
                    "INSERT INTO conflicts (name, kind, png, tags, base_version, "
                    "current_version, reason) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (name, kind, png, tags, why["base"], why["head"], why["reason"])).fetchone()
                ids[name] = int(row["id"])
                db.audit("conflict", name, {"id": ids[name], **{k: str(v) for k, v in
                                                                 why.items()}})
                db.notify({"event": "conflict", "image": name, "user": db.user})
        parts = []
        held = False
        for name, why in refused.items():
            kept = f"your version was kept as conflict #{ids[name]} for review"
            if why["reason"] == "held":
                held = True
                parts.append(f"{name} is held by {why['holder']} until "
                             f"{_clock(why['until'])}; {kept}")
            else:
                last = self.project.db.history(name)
                by = f" by {last[-1].author}" if last else ""
                parts.append(f"{name} changed since you started (now version {why['head']}"
                             f"{by}; you started from version {why['base']}); {kept}")
        message = "Not saved: " + "; ".join(parts) + "."
        return ClaimError(message) if held else ConflictError(message)


def _clock(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")
