"""Hover read-out for a pyqtgraph plot: a vertical line and the values at the nearest point."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF

Series = tuple[Sequence[float], list[tuple[str, Sequence[float]]]]


def format_value(value: float) -> str:
    """Short, readable number: scientific for tiny/huge values (learning rates), else 4 digits."""
    if not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4):
        return f"{value:.2e}"
    return f"{value:.4g}"


class HoverReadout:
    """Shows ``x: y1, y2 ...`` for the data point nearest to the mouse, on a rate-limited proxy."""

    def __init__(self, plot: pg.PlotWidget, series: Callable[[], Series], x_name: str,
                 log_x: bool = False) -> None:
        self._plot = plot
        self._series = series
        self._x_name = x_name
        self._log_x = log_x
        self.text = ""
        self._line = pg.InfiniteLine(angle=90, movable=False,
                                     pen=pg.mkPen(120, 120, 120, 120, style=pg.QtCore.Qt.DashLine))
        self._label = pg.TextItem(color=(30, 30, 30), anchor=(0, 0), fill=(255, 255, 255, 200))
        for item in (self._line, self._label):
            item.setVisible(False)
            item.setZValue(100)
            plot.addItem(item, ignoreBounds=True)
        # SignalProxy limits how often we look up values, whatever the mouse event rate.
        self._proxy = pg.SignalProxy(plot.scene().sigMouseMoved, rateLimit=30, slot=self._moved)

    def _moved(self, event: tuple[QPointF]) -> None:
        pos = event[0]
        view = self._plot.getPlotItem().vb
        if not self._plot.sceneBoundingRect().contains(pos):
            self.hide()
            return
        point = view.mapSceneToView(pos)
        self.show_at(point.x())

    def show_at(self, view_x: float) -> str:
        """Show the values nearest to ``view_x`` (view coordinates; log10 on a log axis)."""
        xs, series = self._series()
        if len(xs) == 0:
            self.hide()
            return ""
        x_arr = np.asarray(xs, dtype=float)
        target = 10.0 ** view_x if self._log_x else view_x
        idx = int(np.argmin(np.abs(x_arr - target)))
        parts = [f"{self._x_name} {format_value(float(x_arr[idx]))}"]
        for name, values in series:
            if idx < len(values):
                parts.append(f"{name} {format_value(float(values[idx]))}")
        self.text = "\n".join(parts)
        line_x = math.log10(x_arr[idx]) if self._log_x and x_arr[idx] > 0 else x_arr[idx]
        self._line.setPos(line_x)
        self._label.setText(self.text)
        view_range = self._plot.getPlotItem().vb.viewRange()
        self._label.setPos(line_x, view_range[1][1])
        # Keep the label inside the plot: flip it to the left of the line on the right half.
        mid = (view_range[0][0] + view_range[0][1]) / 2
        self._label.setAnchor((1, 0) if line_x > mid else (0, 0))
        self._line.setVisible(True)
        self._label.setVisible(True)
        return self.text

    def hide(self) -> None:
        self._line.setVisible(False)
        self._label.setVisible(False)
