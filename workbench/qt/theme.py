"""The look: Fusion style, a restrained palette, a small style sheet and the bundled SVG icons.

Fusion renders the same on every platform and honours the palette, so the QSS only has to set
spacing, radii and a few accents instead of restyling every widget.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from workbench.resources import resource_path

ICON_DIR = resource_path("icons")
THEME_DIR = resource_path("theme")
_ICON_INK = "#3b4252"  # the stroke colour the SVG files are drawn with; recoloured per theme


@dataclass(frozen=True)
class Colors:
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    canvas: str


LIGHT = Colors(window="#f3f4f6", base="#ffffff", alt_base="#f7f8fa", text="#1f2933",
               muted="#6b7280", border="#d5d9e0", accent="#3d7be0", accent_text="#ffffff",
               canvas="#2b2f36")
DARK = Colors(window="#24272d", base="#1c1f24", alt_base="#22252b", text="#e5e7eb",
              muted="#9aa3af", border="#3a3f47", accent="#4c8df0", accent_text="#ffffff",
              canvas="#15171a")
THEMES = {"light": LIGHT, "dark": DARK}

# Status colours are shared by the image list, the progress readout and tests.
STATUS_COLORS = {"unlabelled": "#9aa3af", "labelled": "#2f9e62", "reviewed": "#3d7be0",
                 "in progress": "#e0a030"}


def current_colors() -> Colors:
    app = QApplication.instance()
    name = app.property("workbenchTheme") if app is not None else None
    return THEMES.get(name or "light", LIGHT)


def _palette(c: Colors) -> QPalette:
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.window, QPalette.ColorRole.WindowText: c.text,
        QPalette.ColorRole.Base: c.base, QPalette.ColorRole.AlternateBase: c.alt_base,
        QPalette.ColorRole.Text: c.text, QPalette.ColorRole.Button: c.base,
        QPalette.ColorRole.ButtonText: c.text, QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: c.accent_text, QPalette.ColorRole.ToolTipBase: c.base,
        QPalette.ColorRole.ToolTipText: c.text, QPalette.ColorRole.PlaceholderText: c.muted,
        QPalette.ColorRole.Mid: c.border, QPalette.ColorRole.Link: c.accent,
    }
    for role, value in roles.items():
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.muted))
    return pal


def style_sheet(c: Colors) -> str:
    """The QSS template with the theme's colours filled in."""
    template = (THEME_DIR / "workbench.qss").read_text(encoding="utf-8")
    # longest names first, so "@accent" does not eat the front of "@accent_text"
    for field, value in sorted(vars(c).items(), key=lambda kv: -len(kv[0])):
        template = template.replace("@" + field, value)
    return template


def apply_theme(app: QApplication, name: str | None = None) -> str:
    """Style ``app``; ``name`` is "light" or "dark" (default: $WORKBENCH_THEME, else light)."""
    name = name or os.environ.get("WORKBENCH_THEME", "light")
    colors = THEMES.get(name, LIGHT)
    app.setStyle("Fusion")
    app.setPalette(_palette(colors))
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 9.5))
    app.setFont(font)
    app.setStyleSheet(style_sheet(colors))
    app.setProperty("workbenchTheme", name)
    icon.cache_clear()
    app.setWindowIcon(icon("app"))
    return name


@functools.lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """An icon from resources/icons/<name>.svg, inked in the theme's text colour."""
    svg = (ICON_DIR / f"{name}.svg").read_text(encoding="utf-8")
    svg = svg.replace(_ICON_INK, current_colors().text)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    result = QIcon()
    for size in (16, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(pixmap)
    return result
