"""Every keyboard shortcut of the annotation workspace, and the help overlay that lists them.

One table drives the workspace's QActions and the help text. The corrections loop's two keys
(``cycle_view``, ``queue_add``) are created by ``qt/refit/hookup.py`` from this table's keys,
so the help stays right for them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget


@dataclass(frozen=True)
class Shortcut:
    action: str  # id used by the workspace to connect the action
    keys: tuple[str, ...]  # QKeySequence strings
    text: str
    section: str  # "all", "segmentation" or "multilabel"


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("next", ("PgDown", "D"), "Next image", "all"),
    Shortcut("prev", ("PgUp", "A"), "Previous image", "all"),
    Shortcut("next_unlabelled", ("N",), "Next image to do (unlabelled or in progress)", "all"),
    Shortcut("reviewed", ("R",), "Done: mark reviewed (again: back to labelled)", "all"),
    Shortcut("fit", ("F", "Ctrl+0"), "Fit image to window", "all"),
    Shortcut("one_to_one", ("Ctrl+1",), "Zoom 1:1 (one image pixel per screen pixel)", "all"),
    Shortcut("zoom_in", ("+", "="), "Zoom in", "all"),
    Shortcut("zoom_out", ("-",), "Zoom out", "all"),
    Shortcut("contrast", ("C",), "Auto contrast for dim images on / off (display only)", "all"),
    Shortcut("levels", ("L",), "Brightness / contrast: levels over the histogram", "all"),
    Shortcut("help", ("F1", "?"), "Show / hide this help", "all"),
    Shortcut("undo", ("Ctrl+Z",), "Undo (one stroke or tag change per step)", "all"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "all"),
    Shortcut("class", ("1", "2", "…", "9"), "Select class 1–9", "segmentation"),
    Shortcut("eraser", ("E", "0"), "Eraser (paint 'unlabelled')", "segmentation"),
    Shortcut("brush", ("B",), "Brush with the last class", "segmentation"),
    Shortcut("fill", ("G",), "Flood fill the connected region under the cursor", "segmentation"),
    Shortcut("wand", ("W",), "Magic wand: fill connected pixels of similar intensity",
             "segmentation"),
    Shortcut("polygon", ("P",), "Polygon / lasso: click points or drag", "segmentation"),
    Shortcut("close_polygon", ("Return",), "Close and fill the polygon", "segmentation"),
    Shortcut("cancel", ("Esc",), "Cancel the polygon / close this help / clear the tag filter",
             "all"),
    Shortcut("smaller", ("[",), "Smaller brush (wand: lower tolerance)", "segmentation"),
    Shortcut("bigger", ("]",), "Bigger brush (wand: higher tolerance)", "segmentation"),
    Shortcut("toggle_overlay", ("H",), "Hide / show the mask overlay", "segmentation"),
    Shortcut("only_class", ("O",), "Show only the selected class", "segmentation"),
    Shortcut("fill_unlabelled", ("U",), "Fill everything unlabelled with the class",
             "segmentation"),
    Shortcut("prediction", ("Ctrl+P",), "Start from the model's prediction (one undo step)",
             "segmentation"),
    Shortcut("cycle_view", ("V",), "Show the label, the prediction or the errors",
             "segmentation"),
    Shortcut("queue_add", ("Ctrl+E",), "Add this image to the corrections queue", "all"),
    Shortcut("tag", ("1", "…", "9", "then letters"), "Toggle a tag (key shown next to it)",
             "multilabel"),
    Shortcut("same_as_previous", ("S",), "Same tags as the previous image", "multilabel"),
    Shortcut("filter_tags", ("/",), "Filter the tag list", "multilabel"),
)

MOUSE: tuple[tuple[str, str, str], ...] = (
    ("Wheel", "Zoom at the cursor", "all"),
    ("Shift+wheel", "Wand tolerance (redoes the last wand click)", "segmentation"),
    ("Middle-drag / Space+drag", "Pan", "all"),
    ("Left-drag", "Paint with the brush / draw a lasso", "segmentation"),
    ("Right-drag", "Erase with the brush", "segmentation"),
    ("Double-click", "Close and fill the polygon", "segmentation"),
)

#: Tool bar entries (action id, button text, icon name in resources/icons); None = separator.
TOOLBAR: tuple[tuple[str, str, str | None] | None, ...] = (
    ("undo", "Undo", "edit-undo"), ("redo", "Redo", "edit-redo"), None,
    ("fit", "Fit", "zoom-fit"), ("one_to_one", "1:1", "zoom-original"), None,
    ("contrast", "Auto contrast", "contrast"), ("levels", "Levels", "levels"), None,
    ("prev", "Prev", "go-prev"), ("next", "Next", "go-next"),
    ("next_unlabelled", "Next to do", "next-unlabelled"), None,
    ("reviewed", "Reviewed", "reviewed"), ("help", "Shortcuts", "keyboard"),
)

#: Letters a multilabel tag key must not take.
RESERVED_LETTERS = "ADNRFSCL"


#: The help's closing line: how each task's work is kept.
SAVING = {
    "segmentation": "Every finished stroke is journalled and saved automatically.",
    "multilabel": "Each tick is written to labels.csv at once.",
}


def shortcuts_for(task: str) -> list[Shortcut]:
    return [s for s in SHORTCUTS if s.section in ("all", task)]


def help_html(task: str) -> str:
    """The help overlay's text: every shortcut and mouse gesture for ``task``."""
    rows = []
    for s in shortcuts_for(task):
        keys = " ".join(f"<span class='k'>{escape(k)}</span>" if k != "…" else "…"
                        for k in s.keys)
        rows.append(f"<tr><td align='right'>{keys}</td><td>{escape(s.text)}</td></tr>")
    for gesture, text, section in MOUSE:
        if section in ("all", task):
            rows.append(f"<tr><td align='right'><i>{escape(gesture)}</i></td>"
                        f"<td>{escape(text)}</td></tr>")
    return (
        "<style>td{padding:3px 10px;} .k{background:#3b4048;color:#fff;"
        "font-family:monospace;}</style>"
        "<h2 style='margin-bottom:8px'>Keyboard and mouse</h2>"
        f"<table align='center' cellspacing='0'>{''.join(rows)}</table>"
        f"<p style='color:#aab'>{escape(SAVING[task])} Press F1, ? or Esc to close.</p>"
    )


class HelpOverlay(QFrame):
    """Translucent panel over the workspace listing every shortcut; any key or click closes it."""

    closed = Signal()

    def __init__(self, task: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("helpOverlay")
        self.setStyleSheet(
            "#helpOverlay { background: rgba(20, 22, 26, 225); }"
            "#helpOverlay QLabel { color: #e8eaed; font-size: 13px; }"
        )
        self.label = QLabel(help_html(task))
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setStyleSheet("background: transparent;")
        scroll.viewport().setStyleSheet("background: transparent;")
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hide()

    def show_over_parent(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()
        self.setFocus()

    def text(self) -> str:
        return self.label.text()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.hide()
        self.closed.emit()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.hide()
        self.closed.emit()


def keys_of(action: str) -> tuple[str, ...]:
    """The keys ``SHORTCUTS`` gives ``action``."""
    return next(sc.keys for sc in SHORTCUTS if sc.action == action)
