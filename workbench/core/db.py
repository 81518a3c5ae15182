"""``workbench.db``: per-image status, training-run history and the corrections queue.

SQLite in WAL mode so readers (thumbnail threads, a read-only CLI) never block the writer. Each
thread gets its own connection (sqlite3 connections must not be shared across threads without
care); writes are serialised by one lock so two threads never race for the write lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.core.errors import DiskFullError, ProjectError, ReadOnlyError

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS image_status (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running', finished_at REAL, best_metric REAL,
    metric_name TEXT, epochs INTEGER, history TEXT, error TEXT, parent TEXT, queue_items TEXT);
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
    "runs": {"parent": "TEXT", "queue_items": "TEXT"},
    "queue": {"run_id": "TEXT", "change": "TEXT", "used_by": "TEXT", "position": "REAL"},
}
RUN_FIELDS = frozenset(
    {"status", "finished_at", "best_metric", "metric_name", "epochs", "history", "error",
     "parent", "queue_items"}
)
RUN_STATUSES = frozenset({"running", "finished", "cancelled", "failed"})


def _write_error(path: Path, exc: sqlite3.Error) -> Exception:
    text = str(exc)
    if "disk is full" in text:
        return DiskFullError(f"Cannot write {path}: the disk is full. Free some space; the "
                             "database was left as it was before this change.")
    if "readonly" in text or "read-only" in text:
        return ReadOnlyError(f"Cannot write {path}: the file or its folder is read-only.")
    return ProjectError(f"Cannot write the project database {path} ({text}).")


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
        if not readonly:
            with self.write() as con:
                con.executescript(_SCHEMA)
                _add_missing_columns(con)
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise ProjectError(f"{self.path}: the project was closed.")
        try:
            if self.readonly:
                con = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                    check_same_thread=False,
                )
            else:
                con = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise ProjectError(f"Cannot open the project database {self.path} ({exc}).") from exc
        con.row_factory = sqlite3.Row
        with self._all_lock:
            self._all.append(con)
        return con

    @property
    def con(self) -> sqlite3.Connection:
        """This thread's connection."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        return con

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A serialised write transaction on this thread's connection."""
        if self.readonly:
            raise ReadOnlyError(f"{self.path}: the project is open read-only.")
        with self._write_lock:
            con = self.con
            try:
                with con:
                    yield con
            except sqlite3.OperationalError as exc:
                raise _write_error(self.path, exc) from exc

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        if self.readonly and not self.path.exists():
            return []
        try:
            return self.con.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise ProjectError(f"Cannot read the project database {self.path} ({exc}).") from exc

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

    # -- training runs ----------------------------------------------------------------------
    def add_run(self, run_id: str, config: dict[str, Any]) -> None:
        with self.write() as con:
            con.execute(
                "INSERT INTO runs (run_id, created_at, config) VALUES (?, ?, ?)",
                (run_id, time.time(), json.dumps(config, default=str)),
            )

    def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - RUN_FIELDS
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        if "status" in fields and fields["status"] not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_STATUSES)}")
        for key in ("history", "queue_items"):
            if key in fields and not isinstance(fields[key], str):
                fields[key] = json.dumps(fields[key], default=str)
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.write() as con:
            cur = con.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", (*fields.values(), run_id))
            if cur.rowcount == 0:
                raise KeyError(run_id)

    @staticmethod
    def _run_row(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["config"] = json.loads(d["config"]) if d["config"] else {}
        d["history"] = json.loads(d["history"]) if d["history"] else None
        d["queue_items"] = json.loads(d["queue_items"]) if d.get("queue_items") else []
        return d

    def list_runs(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC")
        return [self._run_row(r) for r in rows]

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return self._run_row(rows[0]) if rows else None

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
