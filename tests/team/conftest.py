"""One throwaway PostgreSQL server per test session (per pytest-xdist worker), a fresh
database per test.

The server comes from workbench.core.team.server (Debian's initdb/pg_ctl; as root it runs as
the ``postgres`` user, on a free 127.0.0.1 port). Under CI=true a server that cannot start
fails the team tests loudly; on a developer's machine without PostgreSQL they are skipped
with the reason (``make system-deps`` installs it as root).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.project import Project
from workbench.core.team.server import ServerStartError, ThrowawayServer

SEG_CLASSES = ["background", "shape"]
PASSWORD = "secret-{}"  # each annotator role's password in the tests


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayServer]:
    server = ThrowawayServer()
    try:
        server.start()
    except (ServerStartError, OSError) as exc:
        server.cleanup()
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: the team tests need a PostgreSQL server and it did not start: "
                        f"{exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server for the team tests: {exc}")
    yield server
    server.cleanup()


@dataclass
class TeamSetup:
    server: ThrowawayServer
    dbname: str

    @property
    def url(self) -> str:
        return self.server.url(self.dbname)

    @property
    def admin(self) -> dict[str, str]:
        return {"user": self.server.superuser}

    def user(self, name: str) -> dict[str, str]:
        return {"user": name, "password": PASSWORD.format(name)}

    def env(self, name: str | None = None) -> dict[str, str]:
        """Environment for a CLI subprocess acting as ``name`` (None: the admin)."""
        creds = self.admin if name is None else self.user(name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGUSER"] = creds["user"]
        if "password" in creds:
            env["PGPASSWORD"] = creds["password"]
        return env


@pytest.fixture(autouse=True)
def _local_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Team journals go to the user's data folder: a private one per test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def team_db(pg_server: ThrowawayServer) -> Iterator[TeamSetup]:
    """A fresh, empty database for one test (dropped afterwards)."""
    import psycopg

    dbname = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{dbname}"')
    yield TeamSetup(pg_server, dbname)
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def add_user(setup: TeamSetup, project: Project, name: str) -> None:
    """What `workbench team P add-user NAME` does, from Python."""
    from workbench.core.team.admin import add_user as _add

    _add(project, name, PASSWORD.format(name))  # type: ignore[arg-type]


def make_images(folder: Path, n: int, size: int = 32) -> list[Path]:
    """``img_00.png`` ...: a bright square on dark noise (its mask: :func:`shape_mask`)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
        img[shape_mask(i, size) == 1] = 220
        path = folder / f"img_{i:02d}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def shape_mask(i: int, size: int = 32, value: int = 1) -> np.ndarray:
    """A square whose place depends on ``i``: class ``value`` inside, background around."""
    mask = np.zeros((size, size), np.uint8)
    o = 2 + i % (size // 2)
    mask[o:o + size // 4, o:o + size // 4] = value
    return mask


@pytest.fixture
def team_project(team_db: TeamSetup, tmp_path: Path) -> Iterator[tuple[TeamSetup, Path]]:
    """A segmentation team project of 8 unlabelled 32x32 images, with annotators alice, bob
    and carol; yields (setup, project folder). Nobody holds it open."""
    root = tmp_path / "shared" / "cells"
    with Project.create(root, name="cells", task="segmentation", classes=SEG_CLASSES,
                        database=team_db.url, credentials=team_db.admin) as project:
        project.add_images(make_images(tmp_path / "src", 8))
        for name in ("alice", "bob", "carol"):
            add_user(team_db, project, name)
    yield team_db, root
