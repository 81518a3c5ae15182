"""The database address of a team project and connections to it.

``workbench.json`` keeps ``postgresql://HOST:PORT/DBNAME`` and nothing else: user names,
passwords and TLS settings come from libpq's usual places (``PGUSER``, ``PGPASSWORD``,
``~/.pgpass``, ``PGSSLMODE``, ...), so the manifest can sit on a shared folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from workbench.core.errors import ProjectError

__all__ = ["DatabaseURL", "TeamConnectionError", "connect", "one_line_cause"]

_DBNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_$-]{0,62}$")


class TeamConnectionError(ProjectError):
    """The team project's server cannot be reached or refuses us (one line: URL and cause)."""


@dataclass(frozen=True)
class DatabaseURL:
    host: str
    port: int
    dbname: str

    @classmethod
    def parse(cls, text: str) -> DatabaseURL:
        """Check ``postgresql://HOST[:PORT]/DBNAME``; credentials in it are refused by name."""
        try:
            parts = urlsplit(str(text).strip())
            port = parts.port
        except ValueError as exc:
            raise ProjectError(f"Database URL {text!r} is not valid ({exc}); use "
                               "postgresql://HOST:PORT/DBNAME.") from exc
        if parts.scheme not in ("postgresql", "postgres"):
            raise ProjectError(f"Database URL {text!r} must start with postgresql:// (e.g. "
                               "postgresql://db.lab.example:5432/cells).")
        if parts.password is not None or parts.username is not None:
            raise ProjectError(
                "The database URL must not contain a user name or password: it is stored in "
                "workbench.json on the shared folder. Use PGUSER and PGPASSWORD or ~/.pgpass "
                "instead.")
        if parts.query or parts.fragment:
            raise ProjectError(f"Database URL {text!r} must not carry options (?...); set "
                               "them with libpq's environment (e.g. PGSSLMODE=verify-full).")
        if not parts.hostname:
            raise ProjectError(f"Database URL {text!r} names no host; use "
                               "postgresql://HOST:PORT/DBNAME.")
        dbname = unquote(parts.path.lstrip("/"))
        if not _DBNAME.match(dbname):
            raise ProjectError(f"Database URL {text!r} needs a database name of letters, "
                               "digits, '_', '$' or '-' (at most 63), e.g. .../cells.")
        url = cls(parts.hostname, port or 5432, dbname)
        require_client(url)  # every team operation starts from its URL
        return url

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{host}:{self.port}/{self.dbname}"


def require_client(url: DatabaseURL) -> None:
    """Refuse in one line when this computer lacks the PostgreSQL client: psycopg loads the
    system's libpq (Debian/Ubuntu package libpq5), which a local project never needs."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        cause = str(exc).strip().splitlines()[-1].strip(" -") if str(exc).strip() else repr(exc)
        raise TeamConnectionError(
            f"Cannot use the team project at {url}: this computer lacks the PostgreSQL client "
            f"library libpq (install it: apt install libpq5) — {cause}") from None


def one_line_cause(exc: BaseException) -> str:
    """The server's or libpq's reason in one line, without the 'connection failed:' noise."""
    text = " ".join(str(exc).split())
    for marker in ("FATAL: ", "ERROR: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r"connection to server [^:]*? failed: ", "", text)
    return text.strip() or type(exc).__name__


def connect(url: DatabaseURL, credentials: Mapping[str, str] | None = None, *,
            autocommit: bool = True, timeout: int = 5) -> Any:
    """A psycopg connection (dict rows); TeamConnectionError in one line if it cannot be made."""
    import psycopg
    from psycopg.rows import dict_row

    params: dict[str, Any] = {"host": url.host, "port": url.port, "dbname": url.dbname,
                              "connect_timeout": timeout, "application_name": "workbench"}
    params.update({k: v for k, v in (credentials or {}).items() if v is not None})
    try:
        return psycopg.connect(autocommit=autocommit, row_factory=dict_row, **params)
    except psycopg.Error as exc:
        raise TeamConnectionError(f"Cannot connect to {url}: {one_line_cause(exc)}") from None
