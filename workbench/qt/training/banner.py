"""The panel's message line: errors, warnings and results in words, coloured by level."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

BANNER_STYLES = {
    "error": "background:#fdecea; color:#611a15; border:1px solid #f5c2c0;",
    "warning": "background:#fff4e5; color:#663c00; border:1px solid #ffd8a8;",
    "ok": "background:#edf7ed; color:#1e4620; border:1px solid #b7dfb9;",
    "info": "background:#e8f4fd; color:#0d3c61; border:1px solid #b6dcf8;",
}
ERROR_TITLES = {
    "labels": "Not enough labelled images",
    "nan": "Training stopped: the loss is no longer a number",
    "oom": "Out of memory",
    "cancelled": "Cancelled",
    "error": "Training failed",
}


class Banner(QLabel):
    """``trainMessage``: hidden until there is something to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainMessage")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setVisible(False)

    def show_message(self, level: str, text: str) -> None:
        self.setStyleSheet(f"QLabel {{ {BANNER_STYLES[level]} padding:6px; border-radius:4px; }}")
        self.setText(text)
        self.setProperty("level", level)
        self.setVisible(bool(text))

    def show_error(self, kind: str, text: str) -> None:
        level = "warning" if kind == "cancelled" else "error"
        self.show_message(level, f"<b>{ERROR_TITLES.get(kind, ERROR_TITLES['error'])}</b><br>"
                          f"{escape(text)}")

    def message(self) -> tuple[str, str]:
        """(level, text) shown; ("", "") when none."""
        if self.isHidden():
            return "", ""
        return str(self.property("level")), self.text()


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
