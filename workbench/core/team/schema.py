"""Tables of a team project's PostgreSQL database, and the grants of its annotator role.

The tables that a local project keeps in ``workbench.db`` (image status, runs, queue,
uncertainty, in-progress marks, meta) have the same columns here, so one store API serves
both. Team projects add:

* ``images``: every image name in the shared folder (claims pick from it);
* ``label_versions``: every mask (PNG bytes) or tag set ever saved, numbered per image, never
  updated or deleted (annotators have no UPDATE/DELETE grant on it); ``label_heads`` names the
  current version of each image;
* ``claims``: who holds which image until when (leases in server time, so clients' clocks do
  not matter);
* ``conflicts``: refused saves, kept for review; ``reviews``: accept / reject with a note;
* ``run_labels``: the label version of each image a training run read;
* ``audit``: who did what when.

Author, actor and reviewer columns are set by triggers to ``current_user``: nobody can write
under another role's name.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
CHANNEL = "workbench_changes"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    name TEXT PRIMARY KEY, added_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS image_status (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('unlabelled', 'labelled', 'reviewed')),
    updated_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running', finished_at DOUBLE PRECISION,
    best_metric DOUBLE PRECISION, metric_name TEXT, epochs INTEGER, history TEXT, error TEXT,
    parent TEXT, queue_items TEXT, threshold DOUBLE PRECISION, guard TEXT, pid INTEGER,
    host TEXT, seq BIGSERIAL);
CREATE TABLE IF NOT EXISTS queue (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    score DOUBLE PRECISION, added_at DOUBLE PRECISION NOT NULL, run_id TEXT, change TEXT,
    used_by TEXT, position DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS uncertainty (
    name TEXT PRIMARY KEY, run_id TEXT NOT NULL, score DOUBLE PRECISION NOT NULL,
    scored_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS in_progress (name TEXT PRIMARY KEY, since DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS label_versions (
    name TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0),
    kind TEXT NOT NULL CHECK (kind IN ('mask', 'tags', 'cleared')),
    png BYTEA, tags TEXT, base_version INTEGER NOT NULL,
    author TEXT NOT NULL DEFAULT current_user,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS label_heads (
    name TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(), expires_at TIMESTAMPTZ NOT NULL,
    note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS conflicts (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, png BYTEA, tags TEXT,
    base_version INTEGER NOT NULL, current_version INTEGER NOT NULL, reason TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT current_user,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS reviews (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
    note TEXT NOT NULL DEFAULT '', reviewer TEXT NOT NULL DEFAULT current_user,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS run_labels (
    run_id TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor TEXT NOT NULL DEFAULT current_user, action TEXT NOT NULL, name TEXT,
    detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS claims_holder ON claims (holder);
CREATE INDEX IF NOT EXISTS audit_name ON audit (name);

CREATE OR REPLACE FUNCTION workbench_as_current_user() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'label_versions' OR TG_TABLE_NAME = 'conflicts' THEN
        NEW.author := current_user;
    ELSIF TG_TABLE_NAME = 'reviews' THEN
        NEW.reviewer := current_user;
    ELSIF TG_TABLE_NAME = 'audit' THEN
        NEW.actor := current_user;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

_STAMPED = ("label_versions", "conflicts", "reviews", "audit")
TRIGGERS = "".join(
    f"CREATE OR REPLACE TRIGGER {t}_as_current_user BEFORE INSERT ON {t} FOR EACH ROW "
    "EXECUTE FUNCTION workbench_as_current_user();\n" for t in _STAMPED)

#: What an annotator may do, table by table: history, conflicts, reviews and the audit log
#: can only grow.
ANNOTATOR_GRANTS = {
    "meta": "SELECT, INSERT, UPDATE, DELETE",
    "images": "SELECT, INSERT, UPDATE (added_at)",  # FOR UPDATE needs an UPDATE grant
    "image_status": "SELECT, INSERT, UPDATE, DELETE",
    "runs": "SELECT, INSERT, UPDATE, DELETE",
    "queue": "SELECT, INSERT, UPDATE, DELETE",
    "uncertainty": "SELECT, INSERT, UPDATE, DELETE",
    "in_progress": "SELECT, INSERT, UPDATE, DELETE",
    "label_versions": "SELECT, INSERT",
    "label_heads": "SELECT, INSERT, UPDATE",
    "claims": "SELECT, INSERT, UPDATE, DELETE",
    "conflicts": "SELECT, INSERT",
    "reviews": "SELECT, INSERT",
    "run_labels": "SELECT, INSERT",
    "audit": "SELECT, INSERT",
}
SEQUENCES = ("runs_seq_seq", "queue_id_seq", "conflicts_id_seq", "reviews_id_seq", "audit_id_seq")
TABLES = tuple(ANNOTATOR_GRANTS)


def annotator_role(dbname: str) -> str:
    """The group role whose grants every annotator of database ``dbname`` inherits."""
    return f"workbench_{dbname}_annotator"[:63]
