"""The recent-projects list, kept in a settings object the app passes in (never a global)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from workbench.core.errors import WorkbenchError
from workbench.core.manifest import Manifest

MANIFEST = "workbench.json"


def project_title(path: Path) -> str:
    """The name the project was created with ("Nuclei (demo)"), else its folder's name."""
    try:
        return Manifest.load(Path(path)).name or Path(path).name
    except WorkbenchError:
        return Path(path).name


class RecentProjects:
    """Most recent first, no duplicates, at most ``limit``; folders that are gone are skipped."""

    KEY = "recentProjects"

    def __init__(self, settings: QSettings, limit: int = 10) -> None:
        self._settings = settings
        self._limit = limit

    def _stored(self) -> list[str]:
        value = self._settings.value(self.KEY, [])
        if isinstance(value, str):  # QSettings returns a lone string for one-element lists
            value = [value]
        return [str(v) for v in (value or [])]

    def paths(self) -> list[Path]:
        return [Path(p) for p in self._stored() if (Path(p) / MANIFEST).is_file()]

    def add(self, path: str | Path) -> None:
        resolved = str(Path(path).expanduser().resolve())
        items = [resolved] + [p for p in self._stored() if p != resolved]
        self._settings.setValue(self.KEY, items[: self._limit])
        self._settings.sync()

    def remove(self, path: str | Path) -> None:
        resolved = str(Path(path).expanduser().resolve())
        self._settings.setValue(self.KEY, [p for p in self._stored() if p != resolved])
        self._settings.sync()
