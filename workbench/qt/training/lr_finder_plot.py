"""LR finder plot: loss vs learning rate on a log axis, suggestions marked and clickable.

Clicking the curve picks the learning rate of the nearest recorded point; clicking a suggestion
marker (or its button) picks that suggestion. Either way ``lrPicked(float)`` is emitted and the
panel writes it into the max-LR field. While a sweep runs, ``add_point`` buffers its points
and a 10 Hz timer draws them, so the curve fills in live.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.qt.theme import current_colors
from workbench.qt.training.hover import HoverReadout, format_value
from workbench.qt.training.plots import REFRESH_HZ, legend_html, legend_label

SUGGESTION_COLORS = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
LABEL_GAP_PX = 6


class SparseLabelAxis(pg.AxisItem):
    """An axis whose tick labels never overlap: labels that would touch one already placed
    are left out, whole decades ("10⁻⁶", "0.01") placed first. pyqtgraph labels every minor
    tick of a log axis spanning a decade or two (2·10⁻⁷, 3·10⁻⁷, ...), which early in a sweep
    drew them over each other."""

    def generateDrawSpecs(self, p):
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        return axis, ticks, sparse_labels(texts)


def sparse_labels(texts: list) -> list:
    """Keep the (rect, flags, text) labels that do not overlap, whole decades first."""
    kept: list = []
    for spec in sorted(texts, key=lambda t: "·" in t[2]):
        rect = spec[0].adjusted(-LABEL_GAP_PX / 2, 0, LABEL_GAP_PX / 2, 0)
        if not any(rect.intersects(other[0]) for other in kept):
            kept.append(spec)
    return kept


class LRFinderPlot(QWidget):
    """Plot widget (object name ``lrFinderPlot``) plus one button per suggestion."""

    lrPicked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.suggestions: dict[str, float] = {}
        self.plot = pg.PlotWidget(title="LR finder",
                                  axisItems={"bottom": SparseLabelAxis("bottom")})
        self.plot.setObjectName("lrFinderPlot")
        self.plot.setBackground(current_colors().base)
        item = self.plot.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.setLabel("left", "loss")
        item.setLabel("bottom", "learning rate (log scale)")
        item.showGrid(x=True, y=True, alpha=0.25)
        for side in ("left", "bottom"):  # "(x1e-09)" under a log axis reads as nonsense
            item.getAxis(side).enableAutoSIPrefix(False)
        self.plot.setMinimumHeight(180)
        self.curve = self.plot.plot(pen=pg.mkPen("#1f77b4", width=2), name="loss",
                                    connect="finite")
        self.curve.setCurveClickable(True, width=12)
        self.curve.sigClicked.connect(self._curve_clicked)
        # Markers are plotted in view coordinates (log10 lr) because ScatterPlotItem added
        # directly does not follow the PlotItem's log mode.
        self.markers = pg.ScatterPlotItem(size=13, pen=pg.mkPen("k"), hoverable=True,
                                          tip=self._marker_tip)
        self.markers.setZValue(50)
        self.markers.sigClicked.connect(self._marker_clicked)
        self.plot.addItem(self.markers)
        self._hover = HoverReadout(self.plot, self._series, x_name="lr", log_x=True)
        self.legend = legend_label("lrFinderLegend")
        self.hint = QLabel("Run the LR finder, then click the curve or a suggestion to use it.")
        self.hint.setWordWrap(True)
        self._live_timer = QTimer(self)
        self._live_timer.setInterval(int(1000 / REFRESH_HZ))
        self._live_timer.timeout.connect(self._draw_live)
        self._live_dirty = False
        self._live_its = 0
        self.live = False  # a sweep is running and its points are being drawn
        self._buttons_row = QHBoxLayout()
        self._buttons_row.setContentsMargins(0, 0, 0, 0)
        self.suggestion_buttons: dict[str, QPushButton] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)
        layout.addLayout(self._buttons_row)
        layout.addWidget(self.hint)
        self._set_legend()

    def begin_live(self, num_it: int) -> None:
        """A sweep starts: forget the last result and draw the new points as they come."""
        self.set_result([], [], {})
        self.live = True
        self._live_its = num_it
        self.hint.setText(f"Finding the learning rate: the curve fills in over {num_it} "
                          "batches.")
        self._live_timer.start()

    def add_point(self, lr: float, loss: float) -> None:
        """One point of the running sweep; cheap, drawn at the next timer tick."""
        self.lrs.append(float(lr))
        self.losses.append(float(loss))
        self._live_dirty = True

    def stop_live(self) -> None:
        self._live_timer.stop()
        self.live = False
        self._draw_live()

    def _draw_live(self) -> None:
        if not self._live_dirty:
            return
        self._live_dirty = False
        losses = np.asarray(self.losses, dtype=float)
        self.curve.setData(np.asarray(self.lrs, dtype=float),
                           np.where(np.isfinite(losses), losses, np.nan))
        self._live_x_range()
        self._clip_y_range()

    def _live_x_range(self) -> None:
        """While the sweep runs, the x axis spans the whole sweep (the learning rate grows by
        the same factor each batch), so the curve fills in from the left. Autoranged to the
        first points, the axis spanned a sliver of a decade and its labels overlapped."""
        if not self.lrs:
            return
        start = math.log10(self.lrs[0])
        if len(self.lrs) >= 2 and self.lrs[1] > self.lrs[0]:
            step = math.log10(self.lrs[1]) - start
            end = start + step * max(self._live_its - 1, len(self.lrs) - 1)
        else:
            end = start + 2.0  # one point: a span whose ticks are whole decades
        end = max(end, math.log10(self.lrs[-1]), start + 1.0)
        self.plot.getPlotItem().setXRange(start, end, padding=0.02)

    def _set_legend(self) -> None:
        entries = [("━", "#1f77b4", "smoothed loss")]
        for i, (name, lr) in enumerate(self.suggestions.items()):
            entries.append(("●", SUGGESTION_COLORS[i % len(SUGGESTION_COLORS)],
                            f"{name} {format_value(lr)}"))
        self.legend.setText(legend_html(entries))

    def set_result(self, lrs: Sequence[float], losses: Sequence[float],
                   suggestions: Mapping[str, float]) -> None:
        """Show one LR finder run (replaces the previous one)."""
        self._live_timer.stop()
        self.live = False
        self._live_dirty = False
        self.lrs = [float(v) for v in lrs]
        self.losses = [float(v) for v in losses]
        self.suggestions = {k: float(v) for k, v in suggestions.items() if v and v > 0}
        loss_arr = np.asarray(self.losses, dtype=float)
        self.curve.setData(np.asarray(self.lrs, dtype=float),
                           np.where(np.isfinite(loss_arr), loss_arr, np.nan))
        spots = []
        for i, (name, lr) in enumerate(self.suggestions.items()):
            color = SUGGESTION_COLORS[i % len(SUGGESTION_COLORS)]
            spots.append({"pos": (math.log10(lr), self.loss_at(lr)), "data": (name, lr),
                          "brush": pg.mkBrush(color), "symbol": "o"})
        self.markers.setData(spots)
        self._set_legend()
        self._rebuild_buttons()
        self.plot.getPlotItem().enableAutoRange()
        self._clip_y_range()
        if self.suggestions:
            self.hint.setText("Click a marker, a “Use …” button or a point on the curve to "
                              "use that learning rate as Max LR.")

    def clear(self) -> None:
        self.set_result([], [], {})
        self.hint.setText("Run the LR finder, then click the curve or a suggestion to use it.")

    def loss_at(self, lr: float) -> float:
        """Loss of the recorded point nearest to ``lr`` (in log space)."""
        if not self.lrs:
            return float("nan")
        idx = self.nearest_index(math.log10(lr))
        return self.losses[idx]

    def nearest_index(self, log_lr: float) -> int:
        logs = np.log10(np.asarray(self.lrs, dtype=float))
        return int(np.argmin(np.abs(logs - log_lr)))

    def suggestion_pos(self, name: str) -> tuple[float, float]:
        """Marker position in view coordinates (log10 lr, loss); for tests and tooling."""
        lr = self.suggestions[name]
        return math.log10(lr), self.loss_at(lr)

    def _clip_y_range(self) -> None:
        # The loss explodes at the end of the sweep; scale y to the useful part of the curve.
        finite = [v for v in self.losses if math.isfinite(v)]
        if len(finite) < 3:
            return
        low = min(finite)
        high = min(max(finite), finite[0] * 1.5 if finite[0] > low else max(finite))
        if high > low:
            pad = 0.05 * (high - low)
            self.plot.getPlotItem().setYRange(low - pad, high + pad, padding=0)

    def _rebuild_buttons(self) -> None:
        for button in self.suggestion_buttons.values():
            self._buttons_row.removeWidget(button)
            button.deleteLater()
        self.suggestion_buttons = {}
        for name, lr in self.suggestions.items():
            button = QPushButton(f"Use {name}: {format_value(lr)}")
            button.setToolTip(f"Set the max learning rate to the '{name}' suggestion")
            button.clicked.connect(lambda _=False, v=lr: self.lrPicked.emit(v))
            self._buttons_row.addWidget(button)
            self.suggestion_buttons[name] = button

    def _curve_clicked(self, _item: object, event: object) -> None:
        if not self.lrs:
            return
        # The curve's local x coordinate is log10(lr) because the plot is in log mode.
        idx = self.nearest_index(event.pos().x())
        self.lrPicked.emit(self.lrs[idx])

    def _marker_clicked(self, _item: object, points: Sequence[object], *_rest: object) -> None:
        if len(points):
            _name, lr = points[0].data()
            self.lrPicked.emit(float(lr))

    def _marker_tip(self, x: float, y: float, data: object) -> str:
        name, lr = data
        return f"{name}: lr {format_value(lr)}, loss {format_value(y)} (click to use)"

    def _series(self) -> tuple[list[float], list[tuple[str, list[float]]]]:
        return self.lrs, [("loss", self.losses)]
