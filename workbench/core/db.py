"""``workbench.db``: per-image status, training-run history and the corrections queue.

SQLite in WAL mode so readers (thumbnail threads, a read-only CLI) never block the writer. Each
thread gets its own connection (sqlite3 connections must not be shared across threads without
care); writes are serialised by one lock so two threads never race for the write lock.

Every open checks the file (``PRAGMA quick_check``, the schema version, and that every stored
value is one this code can use) and refuses a damaged or newer database by name, pointing at
``workbench repair``, instead of failing later with a traceback or writing into it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.core.atomic import translate_os_error
from workbench.core.errors import DatabaseDamagedError, DiskFullError, ProjectError, ReadOnlyError
from workbench.core.faultpoints import fault_point
from workbench.core.manifest import Status
from workbench.core.runs import CURRENT_MODEL_KEY, Run, RunStatus, check_transition

SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS image_status (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running', finished_at REAL, best_metric REAL,
    metric_name TEXT, epochs INTEGER, history TEXT, error TEXT, parent TEXT, queue_items TEXT,
    threshold REAL, guard TEXT, pid INTEGER, host TEXT);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    score REAL, added_at REAL NOT NULL, run_id TEXT, change TEXT, used_by TEXT,
    position REAL);
CREATE TABLE IF NOT EXISTS uncertainty (
    name TEXT PRIMARY KEY, run_id TEXT NOT NULL, score REAL NOT NULL, scored_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS in_progress (name TEXT PRIMARY KEY, since REAL NOT NULL);
"""
# Columns added after schema 1; a project made by an older version gains them on open.
_ADDED_COLUMNS = {
    "runs": {"parent": "TEXT", "queue_items": "TEXT", "threshold": "REAL", "guard": "TEXT",
             "pid": "INTEGER", "host": "TEXT"},
    "queue": {"run_id": "TEXT", "change": "TEXT", "used_by": "TEXT", "position": "REAL"},
}
RUN_FIELDS = frozenset(
    {"status", "finished_at", "best_metric", "metric_name", "epochs", "history", "error",
     "parent", "queue_items", "threshold", "guard", "pid", "host", "config"}
)
RUN_STATUSES = frozenset(s.value for s in RunStatus)
_JSON_RUN_FIELDS = ("history", "queue_items", "guard", "config")
IMAGE_STATUSES = frozenset(s.value for s in Status)
TABLES = ("image_status", "in_progress", "runs", "queue", "uncertainty")
REPAIR_HINT = "Run `workbench repair {root}` to rebuild it from the project's files."
_DAMAGE_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def _damaged(path: Path, problem: str) -> DatabaseDamagedError:
    return DatabaseDamagedError(f"The project database {path} is damaged: {problem}. "
                                + REPAIR_HINT.format(root=path.parent))


def _disk_full(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def sqlite_error(path: Path, exc: sqlite3.Error, action: str = "write") -> Exception:
    """The specific WorkbenchError for an SQLite error: damaged, disk full, read-only or I/O.
    Decided by SQLite's error code: an I/O error on a full disk is no damage to the file."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorname", "") or ""
    kind = "_".join(code.split("_")[:2])
    if kind in _DAMAGE_CODES or "malformed" in text or "not a database" in text:
        return _damaged(path, text)
    if kind == "SQLITE_FULL" or "disk is full" in text or (
            kind in ("SQLITE_IOERR", "SQLITE_CANTOPEN") and _disk_full(path)):
        return DiskFullError(f"Cannot {action} {path}: the disk is full. Free some space; the "
                             "database was left as it was before this change.")
    if kind == "SQLITE_READONLY" or "readonly" in text or "read-only" in text:
        return ReadOnlyError(f"Cannot {action} {path}: the file or its folder is read-only.")
    return ProjectError(f"Cannot {action} the project database {path} ({text}).")


def _json_problem(value: object, kind: type, what: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        parsed = json.loads(str(value))
    except (ValueError, RecursionError):
        return f"{what} is not valid JSON"
    return None if isinstance(parsed, kind) else f"{what} is not a JSON {kind.__name__}"


def row_problem(table: str, row: dict[str, Any]) -> str | None:
    """Why a stored row cannot be used (None: it can). One rule for open and for repair."""
    if table == "image_status":
        if not isinstance(row.get("name"), str):
            return "an image name is not text"
        if row.get("status") not in IMAGE_STATUSES:
            return f"image {row['name']!r} has status {row.get('status')!r}"
        return None
    if table == "runs":
        rid = row.get("run_id")
        if not isinstance(rid, str):
            return "a run id is not text"
        if row.get("status") not in RUN_STATUSES:
            return f"run {rid!r} has status {row.get('status')!r}"
        if not isinstance(row.get("created_at"), (int, float)):
            return f"run {rid!r} has no creation time"
        return (_json_problem(row.get("config"), dict, f"the config of run {rid!r}")
                or _json_problem(row.get("history"), dict, f"the history of run {rid!r}")
                or _json_problem(row.get("queue_items"), list, f"the items of run {rid!r}")
                or _json_problem(row.get("guard"), dict, f"the verdict of run {rid!r}"))
    if table == "queue":
        if not isinstance(row.get("name"), str) or not isinstance(row.get("id"), int):
            return "a queue item has no image name or id"
        if not isinstance(row.get("added_at"), (int, float)):
            return f"queue item {row['id']} has no time"
        if row.get("score") is not None and not isinstance(row["score"], (int, float)):
            return f"queue item {row['id']} has score {row['score']!r}"
        return _json_problem(row.get("change"), dict, f"the change of queue item {row['id']}")
    if table == "in_progress":
        if not isinstance(row.get("name"), str) or not isinstance(row.get("since"), (int, float)):
            return "an in-progress mark has no image name or time"
        return None
    if table == "uncertainty":
        if not isinstance(row.get("name"), str) or not isinstance(row.get("score"), (int, float)):
            return "an uncertainty score is not a number"
        return None
    return None


def _add_missing_columns(con: sqlite3.Connection) -> None:
    for table, columns in _ADDED_COLUMNS.items():
        have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
        for column, kind in columns.items():
            if column not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


class ProjectDB:
    """Thread-safe access to workbench.db (one connection per thread, serialised writes)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        try:
            if self.path.exists() or not readonly:
                self.check()
            if not readonly:
                self._create_schema()
        except BaseException:
            self.close()
            raise

    def _create_schema(self) -> None:
        with self.write() as con:
            con.executescript(_SCHEMA)
            _add_missing_columns(con)
            if self.schema_version() != SCHEMA_VERSION:
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                            (SCHEMA_VERSION,))

    def check(self) -> None:
        """Refuse a damaged file, a newer schema or a value this code cannot use, by name."""
        try:
            result = [r[0] for r in self.con.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.Error as exc:
            raise sqlite_error(self.path, exc, "read") from exc
        if result != ["ok"]:
            raise _damaged(self.path, "; ".join(map(str, result[:3])))
        version = self.schema_version()
        if version is not None and version > SCHEMA_VERSION:
            raise ProjectError(
                f"{self.path} has database schema {version}, made by a newer Workbench (this "
                f"one knows schema {SCHEMA_VERSION}). Update Workbench to open this project.")
        for table in TABLES:
            for row in self.query(f"SELECT * FROM {table}"):
                problem = row_problem(table, dict(row))
                if problem:
                    raise _damaged(self.path, f"in table {table}, {problem}")

    def schema_version(self) -> int | None:
        rows = self.query("SELECT value FROM meta WHERE key = 'schema_version'")
        if not rows:
            return None
        try:
            return int(rows[0]["value"])
        except (TypeError, ValueError) as exc:
            raise _damaged(self.path, f"schema_version is {rows[0]['value']!r}") from exc

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise ProjectError(f"{self.path}: the project was closed.")
        try:
            if self.readonly:
                con = self._connect_readonly()
            else:
                con = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise sqlite_error(self.path, exc, "open") from exc
        con.row_factory = sqlite3.Row
        with self._all_lock:
            self._all.append(con)
        return con

    def _connect_readonly(self) -> sqlite3.Connection:
        """A read-only connection. SQLite needs to create the WAL index (-shm) even to read,
        which a read-only mount or a full disk refuses; then, when no WAL holds committed
        changes (no or an empty -wal file), the file is read as immutable."""
        uri = self.path.resolve().as_uri()
        wal = Path(f"{self.path}-wal")
        no_wal = not wal.exists() or wal.stat().st_size == 0  # nothing committed in a WAL
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=10, check_same_thread=False)
        try:
            con.execute("PRAGMA schema_version").fetchall()
            return con
        except sqlite3.OperationalError as exc:
            kind = "_".join((getattr(exc, "sqlite_errorname", "") or "").split("_")[:2])
            if kind not in ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_READONLY") or not no_wal:
                con.close()
                raise
        con.close()
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=10,
                               check_same_thread=False)

    @property
    def con(self) -> sqlite3.Connection:
        """This thread's connection."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        return con

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A serialised write transaction on this thread's connection. Nested blocks join the
        outermost one, so several changes (and file renames between them) commit together."""
        if self.readonly:
            raise ReadOnlyError(f"{self.path}: the project is open read-only.")
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield self.con
            finally:
                self._local.depth -= 1
            return
        with self._write_lock:
            self._local.depth = 1
            try:
                fault_point("write.db")
                con = self.con
                with con:
                    yield con
            except sqlite3.Error as exc:
                raise sqlite_error(self.path, exc) from exc
            except OSError as exc:
                raise translate_os_error(exc, self.path) from exc
            finally:
                self._local.depth = 0

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        if self.readonly and not self.path.exists():
            return []
        try:
            return self.con.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            if "no such table" in str(exc):
                return []
            raise sqlite_error(self.path, exc, "read") from exc

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            for con in self._all:
                con.close()
            self._all.clear()

    # -- image status -----------------------------------------------------------------------
    def statuses(self) -> dict[str, str]:
        return {r["name"]: r["status"] for r in self.query("SELECT name, status FROM image_status")}

    def get_status(self, name: str) -> str | None:
        rows = self.query("SELECT status FROM image_status WHERE name = ?", (name,))
        return rows[0]["status"] if rows else None

    def set_statuses(self, values: dict[str, str]) -> None:
        now = time.time()
        with self.write() as con:
            con.executemany(
                "INSERT INTO image_status VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE "
                "SET status = excluded.status, updated_at = excluded.updated_at",
                [(n, s, now) for n, s in values.items()],
            )

    def delete_statuses(self, names: Iterable[str]) -> None:
        with self.write() as con:
            con.executemany("DELETE FROM image_status WHERE name = ?", [(n,) for n in names])

    # -- images started in the window and not yet marked done --------------------------------
    def in_progress(self) -> set[str]:
        return {r["name"] for r in self.query("SELECT name FROM in_progress")}

    def set_in_progress(self, names: Iterable[str], on: bool) -> None:
        now = time.time()
        with self.write() as con:
            if on:
                con.executemany("INSERT OR IGNORE INTO in_progress VALUES (?, ?)",
                                [(n, now) for n in names])
            else:
                con.executemany("DELETE FROM in_progress WHERE name = ?", [(n,) for n in names])

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        with self.write() as con:
            if value is None:
                con.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- training runs (workbench.core.runs has the record type and the rules) ---------------
    def add_run(self, run_id: str, config: dict[str, Any], *, created_at: float | None = None,
                parent: str | None = None, pid: int | None = None,
                host: str | None = None) -> None:
        """Record a new run as running, started at ``created_at`` (default: now)."""
        with self.write() as con:
            con.execute(
                "INSERT INTO runs (run_id, created_at, config, status, parent, pid, host) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, time.time() if created_at is None else created_at,
                 json.dumps(config, default=str), RunStatus.RUNNING.value, parent, pid, host),
            )

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Change a run's fields; a status change must be legal (runs.TRANSITIONS), and a run
        that becomes finished becomes the current model, in the same transaction."""
        unknown = set(fields) - RUN_FIELDS
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        for key in _JSON_RUN_FIELDS:
            if key in fields and fields[key] is not None and not isinstance(fields[key], str):
                fields[key] = json.dumps(fields[key], default=str)
        if not fields:
            return
        with self.write() as con:
            row = con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            if "status" in fields:
                new = check_transition(run_id, row["status"], fields["status"])
                fields["status"] = new.value
                if new is RunStatus.FINISHED:
                    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                (CURRENT_MODEL_KEY, run_id))
            cols = ", ".join(f"{k} = ?" for k in fields)
            con.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", (*fields.values(), run_id))

    def list_runs(self) -> list[Run]:
        """Every run, newest first."""
        rows = self.query("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC")
        return [Run.from_row(dict(r)) for r in rows]

    def get_run(self, run_id: str) -> Run | None:
        rows = self.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return Run.from_row(dict(rows[0])) if rows else None

    def delete_run(self, run_id: str) -> None:
        """Forget a run (its files are the caller's); the current-model choice goes with it."""
        with self.write() as con:
            con.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            con.execute("DELETE FROM meta WHERE key = ? AND value = ?",
                        (CURRENT_MODEL_KEY, run_id))
            con.execute("DELETE FROM uncertainty WHERE run_id = ?", (run_id,))

    # -- corrections queue (see workbench.core.queue.RefitQueue for the API to use) ----------
    def queue_add(self, name: str, reason: str = "", score: float | None = None, *,
                  run_id: str | None = None, change: dict[str, Any] | None = None) -> int:
        with self.write() as con:
            cur = con.execute(
                "INSERT INTO queue (name, reason, score, added_at, run_id, change, position) "
                "VALUES (?, ?, ?, ?, ?, ?, "
                "(SELECT COALESCE(MAX(position), 0) + 1 FROM queue))",
                (name, reason, score, time.time(), run_id,
                 json.dumps(change) if change is not None else None),
            )
            return int(cur.lastrowid or 0)

    def queue_list(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM queue ORDER BY COALESCE(position, id), id")
        out = []
        for row in rows:
            d = dict(row)
            d["change"] = json.loads(d["change"]) if d.get("change") else {}
            out.append(d)
        return out

    def queue_remove(self, entry_id: int) -> None:
        self.queue_remove_many([entry_id])

    def queue_remove_many(self, entry_ids: Iterable[int]) -> None:
        with self.write() as con:
            con.executemany("DELETE FROM queue WHERE id = ?", [(int(i),) for i in entry_ids])

    def queue_set_positions(self, positions: dict[int, float]) -> None:
        with self.write() as con:
            con.executemany("UPDATE queue SET position = ? WHERE id = ?",
                            [(p, int(i)) for i, p in positions.items()])

    def queue_mark_used(self, entry_ids: Iterable[int], run_id: str) -> None:
        with self.write() as con:
            con.executemany("UPDATE queue SET used_by = ? WHERE id = ?",
                            [(run_id, int(i)) for i in entry_ids])

    # -- uncertainty of unlabelled images (active learning) ----------------------------------
    def set_uncertainty(self, run_id: str, scores: dict[str, float]) -> None:
        """Replace every stored score by ``scores`` from ``run_id`` (one transaction)."""
        now = time.time()
        with self.write() as con:
            con.execute("DELETE FROM uncertainty")
            con.executemany("INSERT INTO uncertainty VALUES (?, ?, ?, ?)",
                            [(n, run_id, float(v), now) for n, v in scores.items()])

    def uncertainty(self) -> dict[str, float]:
        """name -> score, most uncertain first."""
        rows = self.query("SELECT name, score FROM uncertainty ORDER BY score DESC, name")
        return {r["name"]: r["score"] for r in rows}

    def uncertainty_run(self) -> str | None:
        rows = self.query("SELECT run_id FROM uncertainty LIMIT 1")
        return rows[0]["run_id"] if rows else None
