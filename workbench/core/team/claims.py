"""Claims with leases, review, and the team overview (``workbench claim / release / team``).

A claim is a row ``(image, holder, expires_at)``; it is live while ``expires_at > now()`` in the
server's clock. ``claim_next`` picks free images with ``FOR UPDATE SKIP LOCKED`` (concurrent
callers skip each other's candidates instead of waiting) and inserts with ``ON CONFLICT ... WHERE
the old claim expired``, which re-checks against the newest committed claim: two callers can
never both get an image, whatever their timing. A killed annotator's claims simply expire.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.core.errors import ClaimError, LabelError
from workbench.core.manifest import Status
from workbench.core.team.db import TeamDB

if TYPE_CHECKING:
    from workbench.core.team.project import TeamProject

_FREE = """
SELECT i.name FROM images i
WHERE NOT EXISTS (SELECT 1 FROM label_heads h JOIN label_versions v
                  ON v.name = h.name AND v.version = h.version
                  WHERE h.name = i.name AND v.kind <> 'cleared')
  AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.name = i.name AND c.expires_at > now())
  AND i.name = ANY(%(present)s)
ORDER BY i.name
LIMIT %(n)s
FOR UPDATE OF i SKIP LOCKED
"""

# Re-checked against the newest committed claim: a candidate that another caller claimed
# after our snapshot is not returned.
_TAKE = """
INSERT INTO claims AS c (name, holder, expires_at)
SELECT name, current_user, now() + make_interval(secs => %(lease)s) FROM unnest(%(names)s::text[])
    AS t(name)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, claimed_at = now(),
    expires_at = excluded.expires_at, note = ''
    WHERE c.expires_at <= now()
RETURNING c.name
"""

_CLAIM_ONE = """
INSERT INTO claims AS c (name, holder, expires_at)
VALUES (%(name)s, current_user, now() + make_interval(secs => %(lease)s))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
    claimed_at = CASE WHEN c.holder = excluded.holder AND c.expires_at > now()
                      THEN c.claimed_at ELSE now() END,
    -- a renewal never shortens a longer claim (a rejected image's, back with its labeller)
    expires_at = CASE WHEN c.holder = excluded.holder
                      THEN greatest(c.expires_at, excluded.expires_at)
                      ELSE excluded.expires_at END
    WHERE c.holder = current_user OR c.expires_at <= now()
RETURNING c.name, c.claimed_at = now() AS fresh
"""


def _check_lease(lease_s: float) -> float:
    if not 0 < float(lease_s) <= 30 * 24 * 3600:
        raise ClaimError(f"A lease must be between 1 second and 30 days, got {lease_s} s.")
    return float(lease_s)


def claim_next(db: TeamDB, count: int, lease_s: float, present: list[str]) -> list[str]:
    """Claim up to ``count`` unlabelled images nobody holds, for this role; their names.
    Only names in ``present`` (the shared folder as this client lists it) are candidates: an
    image deleted from the folder stays in the database for its history, not for claims."""
    if count < 1:
        raise ClaimError(f"--count must be at least 1, got {count}.")
    lease = _check_lease(lease_s)
    got: list[str] = []
    for _attempt in range(100):  # candidates lost to a concurrent claimer: pick again
        with db.write() as con:
            candidates = [r["name"] for r in
                          con.execute(_FREE, {"n": count - len(got),
                                              "present": present}).fetchall()]
            if not candidates:
                break
            rows = con.execute(_TAKE, {"names": candidates, "lease": lease}).fetchall()
            names = [r["name"] for r in rows]
            for name in names:
                db.audit("claim", name, {"lease_s": lease})
                db.notify({"event": "claim", "image": name, "user": db.user})
        got += names
        if len(got) >= count:
            break
    return sorted(got)


def claim_one(db: TeamDB, name: str, lease_s: float) -> str | None:
    """Claim or renew ``name``: None when this role holds it now, else its holder's name."""
    lease = _check_lease(lease_s)
    with db.write() as con:
        row = con.execute(_CLAIM_ONE, {"name": name, "lease": lease}).fetchone()
        if row is not None:
            if row["fresh"]:  # a new claim, not a renewal
                db.audit("claim", name, {"lease_s": lease})
                db.notify({"event": "claim", "image": name, "user": db.user})
            return None
        holder = con.execute("SELECT holder FROM claims WHERE name = %s", (name,)).fetchone()
    return str(holder["holder"]) if holder else None


def release(db: TeamDB, names: list[str] | None) -> list[str]:
    """Release this role's claims (all, or ``names``); someone else's claim is refused."""
    with db.write() as con:
        if names:
            others = con.execute(
                "SELECT name, holder FROM claims WHERE name = ANY(%s) AND holder <> current_user "
                "AND expires_at > now()", (names,)).fetchall()
            if others:
                held = ", ".join(f"{r['name']} (held by {r['holder']})" for r in others)
                raise ClaimError(f"Cannot release {held}: only the holder can.")
            rows = con.execute("DELETE FROM claims WHERE name = ANY(%s) AND holder = current_user "
                               "RETURNING name", (names,)).fetchall()
        else:
            rows = con.execute("DELETE FROM claims WHERE holder = current_user RETURNING name"
                               ).fetchall()
        released = sorted(r["name"] for r in rows)
        for name in released:
            db.audit("release", name)
            db.notify({"event": "release", "image": name, "user": db.user})
    return released


def live_claims(db: TeamDB) -> dict[str, dict[str, Any]]:
    """image -> {holder, claimed_at, expires_at (epoch s), note} of every live claim."""
    rows = db.query(
        "SELECT name, holder, note, extract(epoch FROM claimed_at)::float8 AS claimed_at, "
        "extract(epoch FROM expires_at)::float8 AS expires_at FROM claims WHERE expires_at > now() "
        "ORDER BY name")
    return {r["name"]: {"holder": r["holder"], "note": r["note"],
                        "claimed_at": float(r["claimed_at"]),
                        "expires_at": float(r["expires_at"])} for r in rows}


def review(db: TeamDB, name: str, *, accept: bool, note: str) -> None:
    """Accept (reviewed) or reject (back to its labeller, claimed for them, with the note) the
    current version of ``name``; the reviewer must not be its labeller."""
    from workbench.core.team.project import REJECT_LEASE_S

    note = note.strip()
    if not accept and not note:
        raise LabelError(f"Rejecting {name} needs a note saying what to fix (--note).")
    with db.write() as con:
        head = con.execute(
            "SELECT v.version, v.author, v.kind FROM label_heads h JOIN label_versions v "
            "ON v.name = h.name AND v.version = h.version WHERE h.name = %s FOR UPDATE OF h",
            (name,)).fetchone()
        if head is None or head["kind"] == "cleared":
            raise LabelError(f"{name} has no label to review.")
        if head["author"] == db.user:
            raise LabelError(f"{name} (version {head['version']}) was labelled by you; "
                             "someone else must review it.")
        verdict = "accepted" if accept else "rejected"
        con.execute("INSERT INTO reviews (name, version, verdict, note) VALUES (%s, %s, %s, %s)",
                    (name, head["version"], verdict, note))
        status = Status.REVIEWED if accept else Status.UNLABELLED
        db.set_statuses({name: status.value})
        if not accept:
            con.execute(
                "INSERT INTO claims AS c (name, holder, expires_at, note) VALUES "
                "(%s, %s, now() + make_interval(secs => %s), %s) ON CONFLICT (name) DO UPDATE "
                "SET holder = excluded.holder, claimed_at = now(), "
                "expires_at = excluded.expires_at, note = excluded.note",
                (name, head["author"], REJECT_LEASE_S, f"rejected by {db.user}: {note}"))
        db.audit(verdict, name, {"version": head["version"], "note": note,
                                 "labeller": head["author"]})
        db.notify({"event": verdict, "image": name, "user": db.user})


def reviews(db: TeamDB, name: str) -> list[dict[str, Any]]:
    return db.query("SELECT version, verdict, note, reviewer, extract(epoch FROM created_at)::float8 AS "
                    "time FROM reviews WHERE name = %s ORDER BY id", (name,))


def summary(project: TeamProject) -> dict[str, Any]:
    """Who holds what, and counts per user and status (``workbench team P``)."""
    db = project.db
    held = live_claims(db)
    statuses = project.statuses()
    authors = {r["name"]: r["author"] for r in db.query(
        "SELECT h.name, v.author FROM label_heads h JOIN label_versions v "
        "ON v.name = h.name AND v.version = h.version WHERE v.kind <> 'cleared'")}
    per_user: dict[str, Counter[str]] = {}
    for name, claim in held.items():
        per_user.setdefault(claim["holder"], Counter())["holding"] += 1
    for name, author in authors.items():
        status = statuses.get(name)
        if status is not None:
            per_user.setdefault(author, Counter())[status.value] += 1
    conflicts = db.query("SELECT count(*) AS n FROM conflicts")[0]["n"]
    return {
        "project": project.name, "database": str(db.url), "you": db.user,
        "claims": [{"image": n, **c, "expires": _iso(c["expires_at"])} for n, c in held.items()],
        "per_user": {u: dict(c) for u, c in sorted(per_user.items())},
        "status": dict(Counter(s.value for s in statuses.values())),
        "conflicts": int(conflicts),
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")
