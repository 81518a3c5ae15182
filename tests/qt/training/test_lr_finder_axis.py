"""Early in an LR sweep the finder's axis labels must not overlap (with one or two points the
log axis spanned a sliver of a decade and labelled every minor tick on top of the next)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math

import pytest
from PySide6.QtGui import QImage, QPainter

from workbench.qt.training.lr_finder_plot import LRFinderPlot


def label_rects(axis) -> list[tuple[object, str]]:
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    specs = axis.generateDrawSpecs(painter)
    painter.end()
    return [] if specs is None else [(rect, text) for rect, _flags, text in specs[2]]


@pytest.mark.parametrize("width", [320, 640, 1100])
def test_axis_labels_never_overlap_during_the_sweep(qtbot, width):
    plot = LRFinderPlot()
    qtbot.addWidget(plot)
    plot.resize(width, 260)
    plot.show()
    qtbot.waitExposed(plot)
    plot.begin_live(100)
    item = plot.plot.getPlotItem()
    for points in (1, 2, 3, 5, 12, 40, 100):
        while len(plot.lrs) < points:
            i = len(plot.lrs)
            plot.add_point(1e-7 * (1e8 ** (i / 99)), 1.0 - 0.002 * i)
        plot._draw_live()
        qtbot.wait(20)
        for side in ("bottom", "left"):
            labels = label_rects(item.getAxis(side))
            assert labels, (points, side)
            for a in range(len(labels)):
                for b in range(a + 1, len(labels)):
                    assert not labels[a][0].intersects(labels[b][0]), (
                        points, side, labels[a][1], labels[b][1])
    # While it runs the axis already spans the whole sweep (the curve fills in from the left).
    low, high = item.getViewBox().viewRange()[0]
    assert low <= -7 + 0.2 and high >= 1 - 0.2, (low, high)
    plot.stop_live()
    assert math.isclose(plot.lrs[-1], 10.0, rel_tol=1e-6)
