"""A throwaway PostgreSQL server in a temporary folder (tests, benchmarks, trying things out).

Uses the Debian/Ubuntu ``postgresql`` package's ``initdb`` and ``pg_ctl`` (or any on PATH). Two
traps it handles: ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user with its data folder owned by that user; and the package's own cluster may
already listen on 5432, so this one listens on a free 127.0.0.1 port with its socket in its own
folder. Only the superuser logs in without a password (``trust`` on 127.0.0.1); every other role
needs its password (``scram-sha-256``), so a wrong password fails as on a real server. Durability
settings are off (fsync): it is thrown away.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # packaging/check_system_libs.py imports this module with any python3
    from typing import Self

__all__ = ["ServerStartError", "ThrowawayServer", "find_pg_bin"]

log = logging.getLogger(__name__)

SUPERUSER = "postgres"


class ServerStartError(RuntimeError):
    """The throwaway server could not be started (not installed, initdb or pg_ctl failed)."""


def find_pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else
    PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class ThrowawayServer:
    """``with ThrowawayServer() as server: server.url("db")``; stopped and deleted on exit."""

    def __init__(self, *, port: int | None = None, durable: bool = False) -> None:
        self.bin = find_pg_bin()
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
        self.data = self.folder / "data"
        self.sockdir = self.folder / "sock"
        self.logfile = self.folder / "server.log"
        self.running = False
        self.durable = durable  # True: fsync and synchronous commit as on a real server

    # -- running the package's programs, as postgres when we are root ----------------------
    def _cmd(self, *args: str) -> list[str]:
        assert self.bin is not None
        cmd = [str(self.bin / args[0]), *args[1:]]
        if _is_root():
            return ["runuser", "-u", SUPERUSER, "--", *cmd]
        return cmd

    def _run(self, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise ServerStartError(f"{args[0]} failed ({proc.returncode}): {' | '.join(tail)}")

    def start(self) -> Self:
        if self.bin is None:
            raise ServerStartError(
                "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on "
                "PATH); install the 'postgresql' package (`make system-deps` does as root).")
        self.sockdir.mkdir()
        if _is_root():
            shutil.chown(self.folder, SUPERUSER, SUPERUSER)
            shutil.chown(self.sockdir, SUPERUSER, SUPERUSER)
            os.chmod(self.folder, 0o755)
        user = SUPERUSER if _is_root() else os.environ.get("USER") or SUPERUSER
        self.superuser = user
        self._run("initdb", "-D", str(self.data), "-U", user, "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        # The superuser connects without a password over 127.0.0.1; every other role needs one.
        hba = self.data / "pg_hba.conf"
        lines = [f"host all {user} 127.0.0.1/32 trust", "local all all trust",
                 "host all all 127.0.0.1/32 scram-sha-256"]
        content = "\n".join(lines) + "\n"
        if _is_root():
            subprocess.run(["runuser", "-u", SUPERUSER, "--", "tee", str(hba)], input=content,
                           text=True, capture_output=True, check=True)
        else:
            hba.write_text(content)
        self.start_again()
        return self

    def stop(self) -> None:
        if self.running:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop",
                          timeout=60)
            except (ServerStartError, subprocess.TimeoutExpired) as exc:
                log.warning("could not stop the throwaway server: %s", exc)
            self.running = False

    def start_again(self) -> None:
        """Start a stopped server again on the same port and data (reconnect tests)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", self._opts(),
                  "-w", "-t", "60", "start")
        self.running = True

    def _opts(self) -> str:
        fast = "" if self.durable else \
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        return (f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 "
                f"-c max_connections=200{fast}")

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://127.0.0.1:{self.port}/{dbname}"

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={self.superuser}"

    def wait_until_up(self, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise ServerStartError(f"server on port {self.port} did not come up")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
