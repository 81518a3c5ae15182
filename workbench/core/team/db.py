"""``TeamDB``: a team project's store on PostgreSQL, with the same API as
:class:`workbench.core.db.ProjectDB` (see :class:`workbench.core.store.ProjectStore`) plus
label versions, claims, reviews and the audit log.

One connection per thread, in autocommit mode; :meth:`TeamDB.write` opens a transaction on
this thread's connection that nested blocks join, like the SQLite store. A lost connection (a
server restart, a network cut) raises :class:`TeamConnectionError` and the next call connects
again, so an open window carries on once the server is back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import ProjectError, ReadOnlyError
from workbench.core.runs import CURRENT_MODEL_KEY, Run, RunStatus, check_transition
from workbench.core.team import schema
from workbench.core.team.url import DatabaseURL, TeamConnectionError, connect, one_line_cause

log = logging.getLogger(__name__)

RUN_FIELDS = frozenset(
    {"status", "finished_at", "best_metric", "metric_name", "epochs", "history", "error",
     "parent", "queue_items", "threshold", "guard", "pid", "host", "config"}
)
_JSON_RUN_FIELDS = ("history", "queue_items", "guard", "config")


@dataclass(frozen=True)
class LabelVersion:
    """One saved version of an image's mask or tags (``history``)."""

    name: str
    version: int
    kind: str  # mask | tags | cleared
    author: str
    created_at: float
    base_version: int
    note: str = ""
    current: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"image": self.name, "version": self.version, "kind": self.kind,
                "author": self.author, "time": self.created_at,
                "base_version": self.base_version, "note": self.note,
                "current": self.current}


class TeamDB:
    """The PostgreSQL store of one team project."""

    def __init__(self, url: DatabaseURL, credentials: Mapping[str, str] | None = None, *,
                 readonly: bool = False) -> None:
        self.url = url
        self.path = str(url)  # what messages name, like ProjectDB.path
        self.readonly = readonly
        self.credentials = dict(credentials or {})
        self._local = threading.local()
        self._all: list[Any] = []
        self._all_lock = threading.Lock()
        self._closed = False
        try:
            exists = self.query("SELECT to_regclass('public.meta') IS NOT NULL AS ok")[0]["ok"]
            version = self.get_meta("schema_version") if exists else None
        except BaseException:
            self.close()
            raise
        if version is None:
            self.close()
            raise ProjectError(f"{url} holds no Workbench project (no schema); create one with "
                               "`workbench new ... --database` or `workbench convert`.")
        if int(version) > schema.SCHEMA_VERSION:
            self.close()
            raise ProjectError(f"{url} has team schema {version}, made by a newer Workbench "
                               f"(this one knows {schema.SCHEMA_VERSION}). Update Workbench.")
        self.user: str = self.query("SELECT current_user AS u")[0]["u"]

    # -- creating the database ------------------------------------------------------------
    @staticmethod
    def refuse_used(url: DatabaseURL, credentials: Mapping[str, str] | None = None) -> None:
        """ProjectError if ``url`` already holds a Workbench project (one database, one
        project: a second one would mix their labels)."""
        con = connect(url, credentials)
        try:
            row = con.execute("SELECT to_regclass('public.label_versions') IS NOT NULL AS used"
                              ).fetchone()
        finally:
            con.close()
        if row["used"]:
            raise ProjectError(f"{url} already holds a Workbench project; use a new, empty "
                               "database (createdb NAME) for each project.")

    @staticmethod
    def create_schema(url: DatabaseURL, credentials: Mapping[str, str] | None = None) -> None:
        """Create the tables (idempotent) and the annotator role with its grants. Needs a role
        that may create tables in the database and create roles (the team lead's)."""
        import psycopg

        con = connect(url, credentials)
        try:
            with con.transaction():
                con.execute("SELECT pg_advisory_xact_lock(8124190)")  # two creators: one waits
                con.execute(schema.SCHEMA)
                con.execute(schema.TRIGGERS)
                con.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) "
                            "DO UPDATE SET value = excluded.value", (str(schema.SCHEMA_VERSION),))
                _create_annotator_role(con, url.dbname)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ProjectError(f"Cannot create the project's tables in {url}: "
                               f"{one_line_cause(exc)} (run this as the database's owner)."
                               ) from None
        except psycopg.Error as exc:
            raise ProjectError(f"Cannot create the project's tables in {url}: "
                               f"{one_line_cause(exc)}") from None
        finally:
            con.close()

    # -- connections ------------------------------------------------------------------------
    @property
    def con(self) -> Any:
        if self._closed:
            raise ProjectError(f"{self.url}: the project was closed.")
        con = getattr(self._local, "con", None)
        if con is None or con.closed:
            con = self._local.con = connect(self.url, self.credentials)
            with self._all_lock:
                self._all.append(con)
        return con

    def _drop_connection(self) -> None:
        con = getattr(self._local, "con", None)
        self._local.con = None
        if con is not None:
            try:
                con.close()
            except Exception as exc:  # noqa: BLE001 - it is broken anyway
                log.debug("closing a broken connection: %s", exc)

    def _translate(self, exc: Exception, action: str) -> Exception:
        import psycopg

        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return ReadOnlyError(f"Cannot {action} {self.url}: {one_line_cause(exc)} (ask the "
                                 "team lead for `workbench team P add-user`).")
        if isinstance(exc, psycopg.OperationalError) or (
                isinstance(exc, psycopg.Error) and getattr(self._local, "con", None) is not None
                and self._local.con.broken):
            self._drop_connection()
            return TeamConnectionError(f"Cannot {action} {self.url}: the server is unreachable "
                                       f"({one_line_cause(exc)}); your work is kept, try again "
                                       "when it is back.")
        return ProjectError(f"Cannot {action} {self.url}: {one_line_cause(exc)}")

    @contextmanager
    def write(self) -> Iterator[Any]:
        """A transaction on this thread's connection; nested blocks join the outermost one."""
        import psycopg

        if self.readonly:
            raise ReadOnlyError(f"{self.url}: the project is open read-only.")
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield self.con
            finally:
                self._local.depth -= 1
            return
        self._local.depth = 1
        try:
            with ExitStack() as stack:
                con = self._begin(stack)
                yield con
        except psycopg.Error as exc:
            raise self._translate(exc, "write to") from None
        finally:
            self._local.depth = 0

    def _begin(self, stack: ExitStack) -> Any:
        """BEGIN on this thread's connection; a connection that died while idle (a server
        restart) fails right here, before anything was sent: connect again, once."""
        import psycopg

        try:
            con = self.con
            stack.enter_context(con.transaction())
        except psycopg.OperationalError:
            self._drop_connection()
            con = self.con
            stack.enter_context(con.transaction())
        return con

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        import psycopg

        inside = bool(getattr(self._local, "depth", 0))
        try:
            return list(self.con.execute(sql, tuple(params)).fetchall())
        except psycopg.OperationalError as exc:
            if inside:
                raise  # inside a transaction: the write() around it translates
            self._drop_connection()  # a read is safe to repeat once on a new connection
            try:
                return list(self.con.execute(sql, tuple(params)).fetchall())
            except psycopg.Error as again:
                raise self._translate(again, "read") from exc
        except psycopg.Error as exc:
            if inside:
                raise
            raise self._translate(exc, "read") from None

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """A statement in its own transaction (or the surrounding one); its rows if any."""
        with self.write() as con:
            cur = con.execute(sql, tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            for con in self._all:
                try:
                    con.close()
                except Exception as exc:  # noqa: BLE001 - closing a broken connection
                    log.debug("closing a connection: %s", exc)
            self._all.clear()

    def notify(self, event: dict[str, Any]) -> None:
        """Tell the other clients (LISTEN workbench_changes); sent when the transaction commits."""
        self.execute("SELECT pg_notify(%s, %s)", (schema.CHANNEL, json.dumps(event)))

    def audit(self, action: str, name: str | None, detail: Any = "") -> None:
        text = detail if isinstance(detail, str) else json.dumps(detail)
        self.execute("INSERT INTO audit (action, name, detail) VALUES (%s, %s, %s)",
                     (action, name, text))

    # -- image status (the ProjectDB API) ----------------------------------------------------
    def statuses(self) -> dict[str, str]:
        return {r["name"]: r["status"] for r in self.query("SELECT name, status FROM image_status")}

    def get_status(self, name: str) -> str | None:
        rows = self.query("SELECT status FROM image_status WHERE name = %s", (name,))
        return rows[0]["status"] if rows else None

    def set_statuses(self, values: dict[str, str]) -> None:
        now = time.time()
        with self.write() as con:
            for n, s in values.items():
                con.execute(
                    "INSERT INTO image_status VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE "
                    "SET status = excluded.status, updated_at = excluded.updated_at", (n, s, now))
            for n, s in values.items():
                self.notify({"event": "status", "image": n, "status": s})

    def delete_statuses(self, names: Iterable[str]) -> None:
        with self.write() as con:
            for n in names:
                con.execute("DELETE FROM image_status WHERE name = %s", (n,))

    def in_progress(self) -> set[str]:
        return {r["name"] for r in self.query("SELECT name FROM in_progress")}

    def set_in_progress(self, names: Iterable[str], on: bool) -> None:
        now = time.time()
        with self.write() as con:
            for n in names:
                if on:
                    con.execute("INSERT INTO in_progress VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                (n, now))
                else:
                    con.execute("DELETE FROM in_progress WHERE name = %s", (n,))

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = %s", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.execute("DELETE FROM meta WHERE key = %s", (key,))
        else:
            self.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                         "SET value = excluded.value", (key, value))

    # -- training runs -------------------------------------------------------------------------
    def add_run(self, run_id: str, config: dict[str, Any], *, created_at: float | None = None,
                parent: str | None = None, pid: int | None = None,
                host: str | None = None) -> None:
        self.execute(
            "INSERT INTO runs (run_id, created_at, config, status, parent, pid, host) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (run_id, time.time() if created_at is None else created_at,
             json.dumps(config, default=str), RunStatus.RUNNING.value, parent, pid, host))

    def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - RUN_FIELDS
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        for key in _JSON_RUN_FIELDS:
            if key in fields and fields[key] is not None and not isinstance(fields[key], str):
                fields[key] = json.dumps(fields[key], default=str)
        if not fields:
            return
        with self.write() as con:
            row = con.execute("SELECT status FROM runs WHERE run_id = %s FOR UPDATE",
                              (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            if "status" in fields:
                new = check_transition(run_id, row["status"], fields["status"])
                fields["status"] = new.value
                if new is RunStatus.FINISHED:
                    con.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                                "SET value = excluded.value", (CURRENT_MODEL_KEY, run_id))
            cols = ", ".join(f"{k} = %s" for k in fields)
            con.execute(f"UPDATE runs SET {cols} WHERE run_id = %s", (*fields.values(), run_id))

    def list_runs(self) -> list[Run]:
        rows = self.query("SELECT * FROM runs ORDER BY created_at DESC, seq DESC")
        return [Run.from_row(r) for r in rows]

    def get_run(self, run_id: str) -> Run | None:
        rows = self.query("SELECT * FROM runs WHERE run_id = %s", (run_id,))
        return Run.from_row(rows[0]) if rows else None

    def delete_run(self, run_id: str) -> None:
        with self.write() as con:
            con.execute("DELETE FROM runs WHERE run_id = %s", (run_id,))
            con.execute("DELETE FROM meta WHERE key = %s AND value = %s",
                        (CURRENT_MODEL_KEY, run_id))
            con.execute("DELETE FROM uncertainty WHERE run_id = %s", (run_id,))

    # -- corrections queue ---------------------------------------------------------------------
    def queue_add(self, name: str, reason: str = "", score: float | None = None, *,
                  run_id: str | None = None, change: dict[str, Any] | None = None) -> int:
        with self.write() as con:
            con.execute("LOCK TABLE queue IN SHARE ROW EXCLUSIVE MODE")  # positions stay unique
            row = con.execute(
                "INSERT INTO queue (name, reason, score, added_at, run_id, change, position) "
                "VALUES (%s, %s, %s, %s, %s, %s, "
                "(SELECT COALESCE(MAX(position), 0) + 1 FROM queue)) RETURNING id",
                (name, reason, score, time.time(), run_id,
                 json.dumps(change) if change is not None else None)).fetchone()
            return int(row["id"])

    def queue_list(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM queue ORDER BY COALESCE(position, id), id")
        for d in rows:
            d["change"] = json.loads(d["change"]) if d.get("change") else {}
        return rows

    def queue_remove(self, entry_id: int) -> None:
        self.queue_remove_many([entry_id])

    def queue_remove_many(self, entry_ids: Iterable[int]) -> None:
        with self.write() as con:
            for i in entry_ids:
                con.execute("DELETE FROM queue WHERE id = %s", (int(i),))

    def queue_set_positions(self, positions: dict[int, float]) -> None:
        with self.write() as con:
            for i, p in positions.items():
                con.execute("UPDATE queue SET position = %s WHERE id = %s", (p, int(i)))

    def queue_mark_used(self, entry_ids: Iterable[int], run_id: str) -> None:
        with self.write() as con:
            for i in entry_ids:
                con.execute("UPDATE queue SET used_by = %s WHERE id = %s", (run_id, int(i)))

    # -- uncertainty ---------------------------------------------------------------------------
    def set_uncertainty(self, run_id: str, scores: dict[str, float]) -> None:
        now = time.time()
        with self.write() as con:
            con.execute("DELETE FROM uncertainty")
            for n, v in scores.items():
                con.execute("INSERT INTO uncertainty VALUES (%s, %s, %s, %s)",
                            (n, run_id, float(v), now))

    def uncertainty(self) -> dict[str, float]:
        rows = self.query("SELECT name, score FROM uncertainty ORDER BY score DESC, name")
        return {r["name"]: r["score"] for r in rows}

    def uncertainty_run(self) -> str | None:
        rows = self.query("SELECT run_id FROM uncertainty LIMIT 1")
        return rows[0]["run_id"] if rows else None

    # -- images and label versions ---------------------------------------------------------------
    def register_images(self, names: Iterable[str]) -> None:
        """Add image names found in the shared folder (claims pick from this table)."""
        new = sorted(set(names) - {r["name"] for r in self.query("SELECT name FROM images")})
        if not new:
            return
        with self.write() as con, con.cursor() as cur:
            cur.executemany("INSERT INTO images (name) VALUES (%s) ON CONFLICT DO NOTHING",
                            [(n,) for n in new])

    def heads(self) -> dict[str, dict[str, Any]]:
        """name -> {version, kind, tags, author} of every image's current label version."""
        rows = self.query(
            "SELECT h.name, h.version, v.kind, v.tags, v.author FROM label_heads h "
            "JOIN label_versions v ON v.name = h.name AND v.version = h.version")
        return {r["name"]: r for r in rows}

    def read_label(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """The current (or a given) version's row: version, kind, png, tags, author."""
        if version is None:
            rows = self.query(
                "SELECT v.* FROM label_heads h JOIN label_versions v "
                "ON v.name = h.name AND v.version = h.version WHERE h.name = %s", (name,))
        else:
            rows = self.query("SELECT * FROM label_versions WHERE name = %s AND version = %s",
                              (name, version))
        return rows[0] if rows else None

    def history(self, name: str) -> list[LabelVersion]:
        rows = self.query(
            "SELECT v.name, v.version, v.kind, v.author, v.base_version, v.note, "
            "extract(epoch FROM v.created_at)::float8 AS t, (h.version = v.version) AS current "
            "FROM label_versions v LEFT JOIN label_heads h ON h.name = v.name "
            "WHERE v.name = %s ORDER BY v.version", (name,))
        return [LabelVersion(r["name"], r["version"], r["kind"], r["author"], float(r["t"]),
                             r["base_version"], r["note"], bool(r["current"])) for r in rows]

    def conflicts(self, name: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE name = %s", (name,)) if name is not None else ("", ())
        return self.query(
            "SELECT id, name, kind, png, tags, base_version, current_version, reason, author, "
            f"extract(epoch FROM created_at)::float8 AS time FROM conflicts {where} ORDER BY id", params)

    # -- pins of training runs --------------------------------------------------------------------
    def pin_run_labels(self, run_id: str, versions: Mapping[str, int]) -> None:
        with self.write() as con, con.cursor() as cur:
            cur.executemany(
                "INSERT INTO run_labels VALUES (%s, %s, %s) ON CONFLICT (run_id, name) "
                "DO UPDATE SET version = excluded.version",
                [(run_id, n, int(v)) for n, v in versions.items()])

    def run_labels(self, run_id: str) -> dict[str, int]:
        rows = self.query("SELECT name, version FROM run_labels WHERE run_id = %s ORDER BY name",
                          (run_id,))
        return {r["name"]: int(r["version"]) for r in rows}


def _create_annotator_role(con: Any, dbname: str) -> None:
    """The group role annotators join: exactly the grants labelling and training need."""
    from psycopg import sql

    role = schema.annotator_role(dbname)
    exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if not exists:
        con.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    ident = sql.Identifier(role)
    con.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
        sql.Identifier(dbname), ident))
    con.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
    for table, privileges in schema.ANNOTATOR_GRANTS.items():
        con.execute(sql.SQL("GRANT " + privileges + " ON {} TO {}").format(
            sql.Identifier(table), ident))
    for seq in schema.SEQUENCES:
        con.execute(sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
            sql.Identifier(seq), ident))
