"""``workbench repair PROJECT``: rebuild a damaged ``workbench.db`` from what can still be read.

The labels live in the files (masks, labels.csv), so a new database loses none of them. What
only the database knew (reviewed marks, run history, the corrections queue, uncertainty
scores) is copied row by row from the damaged file as far as it can be read and every row is
checked by the same rule the open applies; whatever could not be recovered is listed. The
damaged file is kept beside the new one, renamed, never deleted.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.db import TABLES, ProjectDB, row_problem
from workbench.core.errors import DatabaseDamagedError, ProjectError
from workbench.core.lock import ProjectLock
from workbench.core.manifest import Manifest, Status

log = logging.getLogger(__name__)

DB_NAME = "workbench.db"
_WHAT = {"image_status": "image statuses", "in_progress": "in-progress marks",
         "runs": "training runs", "queue": "queue items",
         "uncertainty": "uncertainty scores"}


@dataclass
class RepairReport:
    damaged: str | None = None  # the problem found (None: the database was healthy)
    moved_to: Path | None = None
    recovered: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    lost: list[str] = field(default_factory=list)  # what could not be recovered, one per line
    reviewed: int = 0  # reviewed marks among the recovered statuses

    def summary(self) -> str:
        if self.damaged is None:
            return "workbench.db is healthy; nothing to repair."
        lines = [f"workbench.db was damaged: {self.damaged}",
                 f"Moved it to {self.moved_to} and built a new one from the project's files.",
                 "Recovered: " + ", ".join(f"{n} {_WHAT[t]}" for t, n in self.recovered.items())
                 + f" ({self.reviewed} reviewed mark(s)). Labels (masks, labels.csv) live in "
                 "the files and were not affected."]
        if self.lost:
            lines.append("Could not recover:")
            lines += [f"  {line}" for line in self.lost]
        else:
            lines.append("Nothing was lost.")
        return "\n".join(lines)


def diagnose(path: Path) -> str | None:
    """What is wrong with the database at ``path`` (None: nothing; a missing file is fine)."""
    if not path.exists():
        return None
    try:
        ProjectDB(path, readonly=True).close()
    except DatabaseDamagedError as exc:
        return str(exc).split(": ", 1)[-1].split(". Run `workbench repair")[0]
    return None


def repair_project(root: str | os.PathLike[str]) -> RepairReport:
    """Check ``root``'s database; if damaged, move it aside, rebuild, and report."""
    from workbench.core.project import Project

    root = Path(root).expanduser().resolve()
    manifest = Manifest.load(root)  # a folder that is no project fails here, by name
    if manifest.database is not None:
        raise ProjectError(
            f"{root} is a team project: its database is on the server ({manifest.database}), "
            "which repair does not touch. Restore it from a pg_dump backup instead.")
    lock = ProjectLock(root)
    lock.acquire()
    try:
        path = root / DB_NAME
        report = RepairReport(damaged=diagnose(path))
        if report.damaged is None:
            return report
        report.moved_to = _move_aside(path)
        try:
            rows = _salvage(report.moved_to, report)
            _restore(path, rows, report)
            with Project.open(root) as project:  # reconciles statuses with the label files
                _list_orphan_runs(project, rows.get("runs", []), report)
        except BaseException:
            _put_back(report.moved_to, path)  # e.g. a full disk: as it was, damaged but whole
            raise
    finally:
        lock.release()
    log.info("repaired %s: %s", root, report.recovered)
    return report


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    try:
        for suffix in ("-wal", "-shm", ""):  # the WAL holds committed changes: keep it along
            src = Path(f"{path}{suffix}")
            if src.exists():
                os.replace(src, Path(f"{aside}{suffix}"))
    except OSError as exc:
        raise ProjectError(f"Cannot move the damaged {path} aside ({exc.strerror or exc}); "
                           "nothing was changed.") from exc
    return aside


def _put_back(aside: Path, path: Path) -> None:
    for suffix in ("-wal", "-shm", ""):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
        if Path(f"{aside}{suffix}").exists():
            os.replace(Path(f"{aside}{suffix}"), Path(f"{path}{suffix}"))


def _salvage(aside: Path, report: RepairReport) -> dict[str, list[dict[str, Any]]]:
    """Every readable, valid row of each table of the damaged copy."""
    rows: dict[str, list[dict[str, Any]]] = {}
    try:
        con = sqlite3.connect(f"{aside.as_uri()}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
    except sqlite3.Error as exc:
        report.lost = [f"{_WHAT[t]}: the file cannot be opened ({exc})" for t in TABLES]
        return rows
    try:
        for table in TABLES:
            rows[table] = _salvage_table(con, table, report)
    finally:
        con.close()
    return rows


def _salvage_table(con: sqlite3.Connection, table: str,
                   report: RepairReport) -> list[dict[str, Any]]:
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    try:
        for row in con.execute(f"SELECT * FROM {table}"):
            problem = row_problem(table, dict(row))
            if problem:
                bad.append(problem)
            else:
                good.append(dict(row))
    except sqlite3.DatabaseError as exc:
        what = "the rest of the table" if good or bad else "the whole table"
        report.lost.append(f"{_WHAT[table]}: {what} could not be read ({exc})")
    for problem in bad[:10]:
        report.lost.append(f"{_WHAT[table]}: dropped a row: {problem}")
    if len(bad) > 10:
        report.lost.append(f"{_WHAT[table]}: dropped {len(bad) - 10} more invalid row(s)")
    return good


def _restore(path: Path, rows: dict[str, list[dict[str, Any]]], report: RepairReport) -> None:
    db = ProjectDB(path)  # a fresh, empty database
    try:
        with db.write() as con:
            for table, table_rows in rows.items():
                columns = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                for row in table_rows:
                    keep = {k: v for k, v in row.items() if k in columns}
                    names = ", ".join(keep)
                    marks = ", ".join("?" * len(keep))
                    con.execute(f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})",
                                tuple(keep.values()))
                report.recovered[table] = len(table_rows)
    finally:
        db.close()
    report.reviewed = sum(1 for r in rows.get("image_status", [])
                          if r["status"] == Status.REVIEWED.value)
    for table in TABLES:
        report.recovered.setdefault(table, 0)


def _list_orphan_runs(project: Any, runs: list[dict[str, Any]], report: RepairReport) -> None:
    """Run folders under models/ whose record was lost: their files are kept, listed here."""
    known = {r["run_id"] for r in runs}
    models = Path(project.root) / "models"
    if not models.is_dir():
        return
    lost = sorted(d.name for d in models.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and d.name not in known)
    for run_id in lost:
        report.lost.append(f"the record of run {run_id} (its files in models/{run_id}/ are kept)")
