"""What an import did: files added, labels attached, and every file skipped with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.core.names import display


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)  # image names new in the project
    existing: list[str] = field(default_factory=list)  # identical files already in the project
    labelled: list[str] = field(default_factory=list)  # image names that got a mask / tags
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    error: str | None = None  # set when the import stopped early (disk full, read-only)

    def skip(self, path: object, reason: str) -> None:
        self.skipped.append((display(path), display(reason)))

    @property
    def images(self) -> list[str]:
        """Names of all images the import refers to (new and already present)."""
        return self.added + self.existing

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        lines = [
            (f"Imported {len(self.added)} image(s) ({len(self.existing)} already present), "
            f"{len(self.labelled)} with labels; skipped {len(self.skipped)} file(s).")
        ]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        if self.error:
            lines.append(f"Import stopped: {self.error}")
        return "\n".join(lines)
