"""Helpers for driving the annotation workspace with real mouse and key events."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator, Sequence

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from workbench.qt.annotation import AnnotationWorkspace


def widget_point(ws: AnnotationWorkspace, x: float, y: float) -> QPoint:
    return ws.canvas.to_widget(QPointF(x, y)).toPoint()


def drag_in(ws: AnnotationWorkspace, points: Sequence[tuple[float, float]],
            button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    """Press at the first image point, move through the rest, release at the last."""
    vp = ws.canvas.viewport()
    pts = [widget_point(ws, x, y) for x, y in points]
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, pts[0])
    for p in pts[1:]:
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, pts[-1])


def click_in(ws: AnnotationWorkspace, x: float, y: float) -> None:
    QTest.mouseClick(ws.canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, widget_point(ws, x, y))


@pytest.fixture
def drag() -> Callable[..., None]:
    return drag_in


@pytest.fixture
def click() -> Callable[..., None]:
    return click_in


def _workspace(qtbot, project) -> Iterator[AnnotationWorkspace]:
    """Shown workspace with the project's first image open; pending edits flushed at teardown."""
    ws = AnnotationWorkspace(project)
    qtbot.addWidget(ws)
    ws.resize(700, 500)
    ws.show()
    qtbot.waitExposed(ws)
    ws.open_image(project.image_names()[0])
    ws.canvas.setFocus()
    yield ws
    ws.flush()


@pytest.fixture
def seg_ws(qtbot, seg_project) -> Iterator[AnnotationWorkspace]:
    """Workspace on the 48x48 shapes project, first image open."""
    yield from _workspace(qtbot, seg_project)


@pytest.fixture
def tag_ws(qtbot, tag_project) -> Iterator[AnnotationWorkspace]:
    """Workspace on the tags project, first image open."""
    yield from _workspace(qtbot, tag_project)
