"""Choosing a project folder to open."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from workbench.qt.dialogs.recent import MANIFEST


def is_project_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def choose_project_folder(parent: QWidget | None, start: Path | None = None) -> Path | None:
    """Ask for a folder holding workbench.json; explains and returns None for other folders."""
    folder = QFileDialog.getExistingDirectory(parent, "Open project", str(start or Path.home()))
    if not folder:
        return None
    path = Path(folder)
    if not is_project_dir(path):
        QMessageBox.warning(parent, "Not a Workbench project",
                            f"{path} has no {MANIFEST}. Choose a project folder, or create a new "
                            "project and import these images into it.")
        return None
    return path
