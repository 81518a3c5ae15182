"""Per-project preferences: what the window should come back to when the project reopens.

Kept in ``<project>/.prefs.json`` as named sections (``training``, ``annotation``,
``import``), each a plain JSON object. They travel with the project folder, unlike per-user
settings. A missing or damaged file means "no preferences" (logged, never an error); a read-only
project keeps them in memory only.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from workbench.core.atomic import atomic_write_text
from workbench.core.errors import WorkbenchError

log = logging.getLogger(__name__)

PREFS_NAME = ".prefs.json"


class ProjectPrefs:
    """Sections of JSON values for one project, written atomically on :meth:`save`."""

    def __init__(self, root: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(root) / PREFS_NAME
        self.readonly = readonly
        self._data: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            log.warning("ignoring unreadable preferences %s: %s", self.path,
                        "nested too deeply" if isinstance(exc, RecursionError) else exc)
            return {}
        if not isinstance(data, dict):
            log.warning("ignoring preferences %s: not a JSON object", self.path)
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)}

    def section(self, name: str) -> dict[str, Any]:
        """A copy of section ``name`` ({} when never saved)."""
        return dict(self._data.get(name, {}))

    def update(self, name: str, values: dict[str, Any]) -> None:
        """Merge ``values`` into section ``name`` (in memory until :meth:`save`)."""
        self._data[name] = {**self._data.get(name, {}), **values}

    def save(self) -> bool:
        """Write the file if the project is writable; False (logged) when it cannot be."""
        if self.readonly:
            return False
        try:
            atomic_write_text(self.path, json.dumps(self._data, indent=1, sort_keys=True) + "\n")
        except WorkbenchError as exc:
            log.warning("could not save preferences: %s", exc)
            return False
        return True
