"""The recent-projects list, kept in a settings object the app passes in (never a global)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

MANIFEST = "workbench.json"


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
