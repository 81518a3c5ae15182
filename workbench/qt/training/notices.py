"""The panel's notice box: what the engine decided on its own during a job (batch size cut,
random init, CPU instead of a GPU, almost nothing trained), kept visible until the next job."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

STYLES = {
    "warning": "background:#fff4e5; color:#663c00; border:1px solid #ffd8a8;",
    "info": "background:#e8f4fd; color:#0d3c61; border:1px solid #b6dcf8;",
}


class NoticeBox(QLabel):
    """One line per notice, ⚠ for warnings and ℹ for information; hidden while empty. The box
    takes the colour of its most severe notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainNotices")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setVisible(False)
        self._items: list[tuple[str, str]] = []
        self._kinds: set[str] = set()

    def add(self, text: str, level: str = "warning", kind: str = "") -> None:
        self._kinds.add(kind)
        if (level, text) in self._items:
            return
        self._items.append((level, text))
        worst = "warning" if any(lv == "warning" for lv, _ in self._items) else "info"
        self.setStyleSheet(f"QLabel {{ {STYLES[worst]} padding:6px; border-radius:4px; }}")
        self.setText("<br>".join(("⚠ " if lv == "warning" else "ℹ ") + _escape(t)
                                 for lv, t in self._items))
        self.setVisible(True)

    def has(self, kind: str) -> bool:
        """Whether a notice of ``kind`` (e.g. "few_iterations") was added since clear_all."""
        return kind in self._kinds

    def clear_all(self) -> None:
        self._items.clear()
        self._kinds.clear()
        self.clear()
        self.setVisible(False)

    def items(self) -> list[tuple[str, str]]:
        """(level, text) of each notice shown, oldest first."""
        return list(self._items)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
