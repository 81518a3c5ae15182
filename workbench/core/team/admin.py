"""The team lead's commands: annotator roles (``workbench team P add-user``) and turning a
local project into a team project (``workbench convert P --database URL``)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core import imageio
from workbench.core.errors import ProjectError
from workbench.core.manifest import TEAM_FORMAT_VERSION, Manifest, Task
from workbench.core.team import schema
from workbench.core.team.db import TeamDB
from workbench.core.team.url import DatabaseURL, connect, one_line_cause

if TYPE_CHECKING:
    from collections.abc import Mapping

    from workbench.core.project import Project
    from workbench.core.team.project import TeamProject

log = logging.getLogger(__name__)

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def add_user(project: TeamProject, name: str, password: str | None) -> bool:
    """Create login role ``name`` (with ``password``; None: no password, for certificate or
    peer authentication) and give it the project's annotator grants. An existing role only
    gets the grants (and the new password if one is given). True if the role was created."""
    import psycopg
    from psycopg import sql

    if not _ROLE.match(name):
        raise ProjectError(f"User name {name!r}: use lower-case letters, digits and '_' (at most "
                           "63, not starting with a digit), e.g. 'alice' or 'j_smith'.")
    if name == project.user:
        raise ProjectError(f"{name} is you (the role running this command).")
    group = schema.annotator_role(project.url.dbname)
    db = project.db
    try:
        with db.write() as con:
            exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            ident = sql.Identifier(name)
            if not exists:
                con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
            if password is not None:
                # Hashed here, as psql's \password does: the server (and its statement log)
                # never sees the password itself.
                hashed = con.pgconn.encrypt_password(password.encode(), name.encode())
                con.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    ident, sql.Literal(hashed.decode())))
            con.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), ident))
            db.audit("add-user", None, {"user": name, "created": not exists})
    except ProjectError as exc:
        cause = exc.__cause__
        if isinstance(cause, psycopg.errors.InsufficientPrivilege) or "permission" in str(exc):
            raise ProjectError(f"Cannot add {name} to {project.url}: {project.user} may not "
                               "create roles; run this as the team lead (the role that created "
                               "the project, or one WITH CREATEROLE).") from None
        raise
    return not exists


def remove_user(project: TeamProject, name: str) -> None:
    """Take the annotator grants of this project away from ``name``. The role itself stays
    (its versions, reviews and audit entries keep naming it; other projects may use it); its
    live claims are released."""
    from psycopg import sql

    group = schema.annotator_role(project.url.dbname)
    db = project.db
    with db.write() as con:
        member = con.execute(
            "SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = %s AND u.rolname = %s",
            (group, name)).fetchone()
        if member is None:
            raise ProjectError(f"{name} is not an annotator of {project.url}.")
        con.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group),
                                                        sql.Identifier(name)))
        released = con.execute("DELETE FROM claims WHERE holder = %s RETURNING name",
                               (name,)).fetchall()
        db.audit("remove-user", None, {"user": name, "released": [r["name"] for r in released]})


def convert(project: Project, url: str, credentials: Mapping[str, str] | None = None
            ) -> dict[str, int]:
    """Copy a local project (open for writing, so its folder lock is held) into the empty
    database ``url`` in one transaction, check every copied label, then rewrite the manifest
    as a team project. The local files (masks/, labels.csv, workbench.db) stay as they were,
    as a backup. Returns how many of each thing was copied."""
    if project.is_team:
        raise ProjectError(f"{project.root} is already a team project.")
    if project.readonly:
        raise ProjectError("convert needs the project open for writing.")
    parsed = DatabaseURL.parse(url)
    TeamDB.refuse_used(parsed, credentials)
    TeamDB.create_schema(parsed, credentials)
    counts = _copy(project, parsed, credentials)
    manifest = Manifest.load(project.root)
    manifest.database = str(parsed)
    manifest.format_version = TEAM_FORMAT_VERSION
    manifest.save(project.root)
    return counts


def _copy(project: Project, url: DatabaseURL, credentials: Mapping[str, str] | None
          ) -> dict[str, int]:
    import psycopg

    src = project.db
    names = project.image_names()
    labels: list[tuple[str, str, bytes | None, str | None]] = []
    for name in names:
        if project.task is Task.SEGMENTATION:
            if project.has_label(name):
                mask = project.read_mask(name)
                assert mask is not None
                labels.append((name, "mask", imageio.encode_mask_png(mask), None))
        elif project.has_label(name):
            labels.append((name, "tags", None, json.dumps(project.tags(name))))
    con = connect(url, credentials)
    try:
        with con.transaction(), con.cursor() as cur:
            cur.executemany("INSERT INTO images (name) VALUES (%s)", [(n,) for n in names])
            cur.executemany(
                "INSERT INTO label_versions (name, version, kind, png, tags, base_version, note) "
                "VALUES (%s, 1, %s, %s, %s, 0, 'converted from the local project')",
                [(n, k, png, tags) for n, k, png, tags in labels])
            cur.executemany("INSERT INTO label_heads VALUES (%s, 1)", [(n,) for n, *_ in labels])
            cur.executemany("INSERT INTO image_status VALUES (%s, %s, %s)", [
                (n, s, r) for n, s, r in _status_rows(src)])
            cur.executemany("INSERT INTO in_progress VALUES (%s, %s)",
                            [(n, 0.0) for n in src.in_progress()])
            for key in ("current_model",):
                value = src.get_meta(key)
                if value is not None:
                    cur.execute("INSERT INTO meta VALUES (%s, %s)", (key, value))
            runs = _rows(src, "runs")
            for row in runs:
                row.pop("seq", None)
                cols = ", ".join(row)
                cur.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join(['%s'] * len(row))})",
                            tuple(row.values()))
            queue = _rows(src, "queue")
            for row in queue:
                cols = ", ".join(row)
                cur.execute(f"INSERT INTO queue ({cols}) VALUES ({', '.join(['%s'] * len(row))})",
                            tuple(row.values()))
            if queue:
                cur.execute("SELECT setval('queue_id_seq', (SELECT max(id) FROM queue))")
            scores = _rows(src, "uncertainty")
            cur.executemany("INSERT INTO uncertainty VALUES (%s, %s, %s, %s)",
                            [(r["name"], r["run_id"], r["score"], r["scored_at"])
                             for r in scores])
            cur.execute("INSERT INTO audit (action, detail) VALUES ('convert', %s)",
                        (json.dumps({"from": str(project.root), "labels": len(labels)}),))
            _verify(cur, labels)
    except psycopg.Error as exc:
        raise ProjectError(f"Converting {project.root} into {url} failed, nothing was changed: "
                           f"{one_line_cause(exc)}") from None
    finally:
        con.close()
    return {"images": len(names), "labels": len(labels), "runs": len(runs),
            "queue": len(queue), "uncertainty": len(scores)}


def _status_rows(src: Any) -> list[tuple[str, str, float]]:
    return [(r["name"], r["status"], r["updated_at"]) for r in _rows(src, "image_status")]


def _rows(src: Any, table: str) -> list[dict[str, Any]]:
    return [dict(r) for r in src.query(f"SELECT * FROM {table}")]


def _verify(cur: Any, labels: list[tuple[str, str, bytes | None, str | None]]) -> None:
    """Read every copied label back inside the transaction: a difference aborts the convert."""
    cur.execute("SELECT name, png, tags FROM label_versions")
    stored = {r["name"]: (r["png"], r["tags"]) for r in cur.fetchall()}
    for name, _kind, png, tags in labels:
        got = stored.get(name)
        if got is None or (bytes(got[0]) if got[0] is not None else None) != png \
                or got[1] != tags:
            raise ProjectError(f"Converting stopped: {name}'s label did not read back the same "
                               "from the database; nothing was changed.")


def local_files_note(root: Path) -> str:
    return (f"The local files in {root} (masks/, labels.csv, workbench.db) were left as they "
            "were, as a backup; the project now reads its labels from the database.")
