"""Team-project commands: ``claim``, ``release``, ``team`` (overview, ``add-user``),
``history``, ``review``, ``convert`` (no Qt, no torch). Identity is the PostgreSQL role that
libpq logs in as (PGUSER, ~/.pgpass, ...), never a name typed here."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.core.errors import ProjectError
from workbench.core.project import Project


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "claim", help="claim the next unlabelled images nobody holds (team projects)",
        description="Claim the next N unlabelled images that nobody holds, for your PostgreSQL "
                    "role, until the lease ends. Two callers never get the same image.")
    p.add_argument("project", type=Path)
    p.add_argument("--count", type=int, default=1, help="how many images (default: 1)")
    p.add_argument("--lease", type=float, default=None, metavar="SECONDS",
                   help="how long the claims last (default: one hour)")
    p.add_argument("--json", action="store_true", help='print {"claimed": [...]}')
    p.set_defaults(func=cmd_claim)

    p = subparsers.add_parser("release", help="release your claims (all, or the images named)")
    p.add_argument("project", type=Path)
    p.add_argument("images", nargs="*", help="image names (default: all your claims)")
    p.set_defaults(func=cmd_release)

    p = subparsers.add_parser(
        "team", help="who holds what, counts per user and status; add-user / remove-user",
        description="Without an action: the team overview. `team P add-user NAME` (team "
                    "lead) creates PostgreSQL role NAME with exactly an annotator's grants; "
                    "the password is read from standard input (or asked for on a terminal). "
                    "`team P remove-user NAME` takes the grants away and releases NAME's "
                    "claims; the role and its history stay.")
    p.add_argument("project", type=Path)
    p.add_argument("action", nargs="?", choices=["add-user", "remove-user"])
    p.add_argument("name", nargs="?", help="the annotator's role name")
    p.add_argument("--no-password", action="store_true",
                   help="add-user: no password (certificate or peer authentication)")
    p.add_argument("--audit", type=int, metavar="N", default=0,
                   help="also show the newest N entries of the audit log (who did what when)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_team)

    p = subparsers.add_parser("history", help="the saved versions of an image's label")
    p.add_argument("project", type=Path)
    p.add_argument("image")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--revert", type=int, metavar="VERSION",
                   help="save VERSION again as the newest version (you must hold the image "
                        "or nobody may)")
    p.add_argument("--take-conflict", type=int, metavar="ID",
                   help="save conflict copy ID (a refused save, listed here) as the newest "
                        "version")
    p.set_defaults(func=cmd_history)

    p = subparsers.add_parser(
        "review", help="accept or reject an image's current label (not your own)",
        description="Accept marks the image reviewed; --reject needs --note and sends the "
                    "image back to its labeller (claimed for them, with the note).")
    p.add_argument("project", type=Path)
    p.add_argument("image")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--accept", action="store_true")
    verdict.add_argument("--reject", action="store_true")
    p.add_argument("--note", default="", help="what to fix (required with --reject)")
    p.set_defaults(func=cmd_review)

    p = subparsers.add_parser(
        "convert", help="turn a local project into a team project (nothing is lost)",
        description="Copy every label, status, run, queue item and score of a local project "
                    "into an empty PostgreSQL database in one transaction, check them, then "
                    "make the folder a team project. The local files stay as a backup.")
    p.add_argument("project", type=Path)
    p.add_argument("--database", required=True, metavar="URL",
                   help="postgresql://HOST:PORT/DBNAME (an existing, empty database)")
    p.set_defaults(func=cmd_convert)


def _team(project: Project, command: str) -> Any:
    if not project.is_team:
        raise ProjectError(f"{project.root} is a local project; `{command}` works on team "
                           "projects (see `workbench convert --help`).")
    return project


def cmd_claim(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        team = _team(project, "claim")
        kwargs = {} if args.lease is None else {"lease_s": args.lease}
        names = team.claim_next(args.count, **kwargs)
    if args.json:
        print(json.dumps({"claimed": names}))
    else:
        for name in names:
            print(name)
        if not names:
            print("nothing to claim: every unlabelled image is held by someone", file=sys.stderr)
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        released = _team(project, "release").release(args.images or None)
    print(f"released {len(released)} claim(s){': ' if released else ''}{', '.join(released)}")
    return 0


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _read_password(name: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {name}: ")
        if first != getpass.getpass("Again: "):
            raise ProjectError("The two passwords differ; nothing was changed.")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise ProjectError(f"No password given for {name} (use --no-password for certificate "
                           "or peer authentication).")
    return password


def cmd_team(args: argparse.Namespace) -> int:
    if args.action == "remove-user":
        if not args.name:
            raise ProjectError("Usage: workbench team P remove-user NAME")
        from workbench.core.team.admin import remove_user

        with Project.open(args.project) as project:
            remove_user(_team(project, "team remove-user"), args.name)
        print(f"{args.name} is no longer an annotator of {args.project}; their claims were "
              "released, their versions and reviews stay in the history")
        return 0
    if args.action == "add-user":
        if not args.name:
            raise ProjectError("Usage: workbench team P add-user NAME")
        from workbench.core.team.admin import add_user

        password = None if args.no_password else _read_password(args.name)
        with Project.open(args.project) as project:
            created = add_user(_team(project, "team add-user"), args.name, password)
            group = f"workbench_{project.url.dbname}_annotator"
        print(f"{'Created' if created else 'Updated'} role {args.name}: an annotator of "
              f"{args.project} (member of {group})")
        return 0
    with Project.open(args.project, readonly=True) as project:
        team = _team(project, "team")
        summary = team.summary()
        if args.audit > 0:
            summary["audit"] = team.audit_log(args.audit)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{summary['project']} on {summary['database']} (you are {summary['you']})")
    status = ", ".join(f"{k}: {v}" for k, v in sorted(summary["status"].items()))
    print(f"  images by status: {status or 'none'}; conflicts kept: {summary['conflicts']}")
    print("  per user:")
    for user, counts in summary["per_user"].items():
        print(f"    {user}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"  claims ({len(summary['claims'])}):")
    for claim in summary["claims"]:
        note = f"  [{claim['note']}]" if claim["note"] else ""
        print(f"    {claim['image']}: {claim['holder']} until {_when(claim['expires_at'])}{note}")
    if "audit" in summary:
        print(f"  audit log (newest {len(summary['audit'])}):")
        for entry in summary["audit"]:
            print(f"    {_when(entry['time'])}  {entry['actor']:<12} {entry['action']:<13} "
                  f"{entry['image'] or ''}  {entry['detail']}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    readonly = args.revert is None and args.take_conflict is None
    with Project.open(args.project, readonly=readonly) as project:
        team = _team(project, "history")
        if args.revert is not None:
            version = team.revert(args.image, args.revert)
            print(f"{args.image}: version {args.revert} saved again as version {version}")
        if args.take_conflict is not None:
            if args.take_conflict not in {c["id"] for c in team.conflict_copies(args.image)}:
                raise ProjectError(f"{args.image} has no conflict copy #{args.take_conflict}.")
            version = team.take_conflict(args.take_conflict)
            print(f"{args.image}: conflict copy #{args.take_conflict} saved as version "
                  f"{version}")
        versions = team.history(args.image)
        from workbench.core.team.claims import reviews

        checks = reviews(team.db, args.image)
        kept = team.conflict_copies(args.image)
    if args.json:
        print(json.dumps({"image": args.image, "versions": [v.to_json() for v in versions],
                          "reviews": checks, "conflicts": kept}, indent=2))
        return 0
    if not versions:
        print(f"{args.image}: no saved versions")
    for v in versions:
        mark = "*" if v.current else " "
        note = f"  ({v.note})" if v.note else ""
        print(f"{mark} v{v.version}  {v.kind:<7}  {v.author:<16} {_when(v.created_at)}  "
              f"from v{v.base_version}{note}")
    for r in checks:
        note = f": {r['note']}" if r["note"] else ""
        print(f"  review of v{r['version']}: {r['verdict']} by {r['reviewer']} at "
              f"{_when(float(r['time']))}{note}")
    for c in kept:
        why = "held by someone else" if c["reason"] == "held" else "its base was stale"
        print(f"  conflict copy #{c['id']}: {c['kind']} by {c['author']} at {_when(c['time'])}, "
              f"from v{c['base_version']} while v{c['current_version']} was current ({why}); "
              f"--take-conflict {c['id']} saves it")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        _team(project, "review").review(args.image, accept=args.accept, note=args.note)
    print(f"{args.image}: {'accepted' if args.accept else 'rejected, sent back to its labeller'}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from workbench.core.team.admin import convert, local_files_note

    with Project.open(args.project) as project:
        counts = convert(project, args.database)
    print(f"Converted {args.project} into a team project on {args.database}: "
          + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print(local_files_note(Path(args.project)))
    return 0
