"""Side panel for multilabel images: one checkbox per tag, each with a key, and a filter."""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.annotation.seg_panel import muted_color, section, swatch


def tag_keys(count: int, reserved: Iterable[str]) -> list[str]:
    """Keys for ``count`` tags: 1–9, then letters not used by other shortcuts ('' when out)."""
    taken = {k.upper() for k in reserved}
    keys = [str(i) for i in range(1, 10)]
    keys += [c for c in string.ascii_uppercase if c not in taken]
    return (keys + [""] * count)[:count]


class TagPanel(QWidget):
    """Checkbox per tag; ``tagsChanged`` carries the checked tags in vocabulary order."""

    tagsChanged = Signal(list)
    sameAsPreviousRequested = Signal()

    def __init__(self, tags: Sequence[str], colors: Sequence[tuple[int, int, int]],
                 keys: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tagPanel")
        self.tags = list(tags)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 10)
        layout.setSpacing(6)
        layout.addWidget(section("Tags"))
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("tagFilter")
        self.filter_edit.setPlaceholderText("Filter tags   ( / )")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        layout.addWidget(self.filter_edit)
        box = QWidget()
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        box_layout.setSpacing(2)
        self.boxes: list[QCheckBox] = []
        self._texts: list[str] = []
        for tag, rgb, key in zip(self.tags, colors, keys):
            self._texts.append(f"{tag}" + (f"   ({key})" if key else ""))
            check = QCheckBox(self._texts[-1])
            check.setIcon(swatch(rgb, 12))
            check.setObjectName(f"tag_{tag}")
            check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            check.toggled.connect(self._emit)
            box_layout.addWidget(check)
            self.boxes.append(check)
        box_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(box)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout.addWidget(scroll, 1)
        self.same_button = QPushButton("Same as previous image  (S)")
        self.same_button.setObjectName("sameAsPreviousButton")
        self.same_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.same_button.clicked.connect(self.sameAsPreviousRequested)
        layout.addWidget(self.same_button)
        self.hint = QLabel("Ticking a tag saves it at once; Ctrl+Z undoes.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {muted_color()}; font-size: 11px;")
        layout.addWidget(self.hint)

    def checked(self) -> list[str]:
        return [tag for tag, box in zip(self.tags, self.boxes) if box.isChecked()]

    def set_checked(self, tags: Iterable[str], *, notify: bool = False) -> None:
        """Show ``tags`` as ticked; emits ``tagsChanged`` only with ``notify``."""
        wanted = set(tags)
        for tag, box in zip(self.tags, self.boxes):
            box.blockSignals(True)
            box.setChecked(tag in wanted)
            box.blockSignals(False)
        if notify:
            self._emit()

    def set_probabilities(self, probs: dict[str, float] | None) -> None:
        """Show the model's probability of each tag beside its tick (None: hide them)."""
        for tag, box, text in zip(self.tags, self.boxes, self._texts):
            p = None if probs is None else probs.get(tag)
            box.setText(text if p is None else f"{text}   {p:.2f}")
            box.setToolTip("" if p is None else f"Model: {p:.0%} {tag}")

    def toggle(self, index: int) -> None:
        if 0 <= index < len(self.boxes) and self.isEnabled():
            self.boxes[index].toggle()

    def _emit(self, *_args: object) -> None:
        self.tagsChanged.emit(self.checked())

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for tag, box in zip(self.tags, self.boxes):
            box.setVisible(needle in tag.lower())
