"""Live training plots: LR, momentum, loss and metrics, redrawn on a timer.

Batches can arrive hundreds of times a second on a fast GPU; redrawing on each would starve the
event loop. So the data go into plain Python lists, and the run monitor's QTimer calls
``refresh`` at 10 Hz, which pushes them into curves created once with ``setData`` only when
something changed.

Legends are text lines under the plots, never boxes on the data; the four plots sit in a row
when the panel is wide and short (a dock under the image), in a 2x2 grid or a column otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QResizeEvent
from PySide6.QtWidgets import QGraphicsItem, QGridLayout, QLabel, QVBoxLayout, QWidget

from workbench.qt.theme import current_colors
from workbench.qt.training.hover import HoverReadout

REFRESH_HZ = 10


LOSS_COLOR, RAW_LOSS_COLOR, VALID_COLOR = "#1f77b4", "#a5c8e4", "#d62728"
METRIC_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


class CurveBuffers:
    """Everything the plots show, as plain lists (the plots' single source of data)."""

    def __init__(self) -> None:
        self.iters: list[float] = []
        self.lrs: list[float] = []
        self.moms: list[float] = []
        self.losses: list[float] = []
        self.smooth_losses: list[float] = []
        self.epoch_iters: list[float] = []
        self.valid_losses: list[float] = []
        self.metrics: dict[str, list[float]] = {}

    def add_batch(self, iteration: float, lr: float, mom: float, loss: float,
                  smooth_loss: float) -> None:
        self.iters.append(iteration)
        self.lrs.append(lr)
        self.moms.append(mom)
        self.losses.append(loss)
        self.smooth_losses.append(smooth_loss)

    def add_epoch(self, iteration: float, valid_loss: float, metrics: dict[str, float]) -> None:
        self.epoch_iters.append(iteration)
        self.valid_losses.append(valid_loss)
        for name, value in metrics.items():
            self.metrics.setdefault(name, []).append(value)


def _make_plot(name: str, title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setTitle(title, size="10pt")  # pyqtgraph's larger default is cut off in a narrow dock
    plot.setObjectName(name)
    plot.setBackground(current_colors().base)  # white in the light theme, dark in the dark
    item = plot.getPlotItem()
    item.setLabel("left", left)
    item.setLabel("bottom", bottom)
    item.showGrid(x=True, y=True, alpha=0.25)
    item.setMenuEnabled(True)  # keeps pyqtgraph's own "Export..." entry on right click
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        # "lr (x0.001)" with ticks 0..1 is harder to read than plain 0.001 ticks.
        axis.enableAutoSIPrefix(False)
        # Axis text is the costliest part of a redraw; cache it while its range is unchanged.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot.setMinimumSize(150, 120)
    return plot


def legend_html(entries: Sequence[tuple[str, str, str]]) -> str:
    """Rich text for a legend line: (mark, colour, name) per entry, e.g. ("━", "#1f77b4", "lr")."""
    # Non-breaking spaces inside an entry: a wrapped legend breaks only between entries.
    return " &nbsp; ".join(f'<span style="color:{color}; font-weight:bold">{mark}</span>&nbsp;'
                           f"{name.replace(' ', '&nbsp;')}" for mark, color, name in entries)


def legend_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


def _cell(plot: pg.PlotWidget, legend: QLabel | None) -> QWidget:
    cell = QWidget()
    layout = QVBoxLayout(cell)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(plot, 1)
    if legend is not None:
        layout.addWidget(legend)
    return cell


def _finite(values: Sequence[float]) -> np.ndarray:
    """As float array with non-finite values masked to NaN (pyqtgraph skips them with connect)."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr), arr, np.nan)


class LivePlots(QWidget):
    """Four plots: LR and momentum vs iteration, loss (train raw/smoothed, valid), metrics."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buffers = CurveBuffers()
        self._dirty = False
        self.redraws = 0  # counted so tests and the benchmark can check the throttle
        self.lr_plot = _make_plot("lrPlot", "Learning rate", "lr", "iteration")
        self.mom_plot = _make_plot("momPlot", "Momentum", "momentum", "iteration")
        self.loss_plot = _make_plot("lossPlot", "Loss", "loss", "iteration")
        self.metric_plot = _make_plot("metricPlot", "Metrics", "value", "epoch")
        self.loss_legend = legend_label("lossLegend")
        self.loss_legend.setText(legend_html([("━", RAW_LOSS_COLOR, "train (raw)"),
                                              ("━", LOSS_COLOR, "train (smoothed)"),
                                              ("●", VALID_COLOR, "valid")]))
        self.metric_legend = legend_label("metricLegend")
        self._build_curves()
        self._cells = [_cell(self.lr_plot, None), _cell(self.mom_plot, None),
                       _cell(self.loss_plot, self.loss_legend),
                       _cell(self.metric_plot, self.metric_legend)]
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(6)
        self.columns = 0
        self.set_columns(2)
        self._hovers = [
            HoverReadout(self.lr_plot, self._lr_series, x_name="iter"),
            HoverReadout(self.mom_plot, self._mom_series, x_name="iter"),
            HoverReadout(self.loss_plot, self._loss_series, x_name="iter"),
            HoverReadout(self.metric_plot, self._metric_series, x_name="epoch"),
        ]

    def set_columns(self, columns: int) -> None:
        """4: one strip; 2: a 2x2 grid; 1: a column."""
        if columns == self.columns:
            return
        self.columns = columns
        for i, cell in enumerate(self._cells):
            self._grid.removeWidget(cell)
            self._grid.addWidget(cell, i // columns, i % columns)
        for i in range(4):
            self._grid.setColumnStretch(i, 1 if i < columns else 0)
            self._grid.setRowStretch(i, 1 if i < 4 // columns else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        size = event.size()
        ratio = size.width() / max(1, size.height())
        self.set_columns(4 if ratio >= 2.4 else 2 if ratio >= 0.6 else 1)

    def _build_curves(self) -> None:
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen("#1f77b4", width=2), name="lr")
        self.mom_curve = self.mom_plot.plot(pen=pg.mkPen("#ff7f0e", width=2), name="momentum")
        self.raw_loss_curve = self.loss_plot.plot(
            pen=pg.mkPen(RAW_LOSS_COLOR), name="train (raw)", connect="finite")
        self.smooth_loss_curve = self.loss_plot.plot(
            pen=pg.mkPen(LOSS_COLOR, width=2), name="train (smoothed)", connect="finite")
        self.valid_loss_curve = self.loss_plot.plot(
            pen=pg.mkPen(VALID_COLOR, width=2), symbol="o", symbolSize=7,
            symbolBrush=VALID_COLOR, name="valid", connect="finite")
        self.metric_curves: dict[str, pg.PlotDataItem] = {}
        self.stage_lines: list[tuple[pg.PlotWidget, pg.InfiniteLine]] = []

    def mark_stage(self, x: float, name: str) -> None:
        """Dashed line where a new stage of the recipe starts (its schedule restarts there),
        named at the top. The name's anchor follows the line's place in the view (left edge:
        name to the right of the line; right edge: to its left), so a name narrower than the
        plot is never cut at the plot's edge."""
        pen = pg.mkPen(110, 110, 110, 160, style=pg.QtCore.Qt.PenStyle.DashLine)
        font = QFont()
        font.setPointSizeF(8)
        for plot in (self.lr_plot, self.mom_plot, self.loss_plot):
            low, high = plot.getPlotItem().vb.viewRange()[0]
            place = min(1.0, max(0.0, (x - low) / (high - low))) if high > low else 0.0
            line = pg.InfiniteLine(pos=x, angle=90, movable=False, pen=pen, label=name,
                                   labelOpts={"position": 0.97, "color": (90, 90, 90),
                                              "anchors": [(place, 0.0), (place, 0.0)]})
            line.label.setFont(font)
            plot.addItem(line, ignoreBounds=True)
            self.stage_lines.append((plot, line))

    def reset(self, metric_names: Sequence[str] = ()) -> None:
        """Forget the previous run's data; create metric curves for this run's metrics."""
        self.buffers = CurveBuffers()
        for plot, line in self.stage_lines:
            plot.removeItem(line)
        self.stage_lines = []
        if list(self.metric_curves) != list(metric_names):
            for curve in self.metric_curves.values():
                self.metric_plot.removeItem(curve)
            self.metric_curves = {}
            entries = []
            for i, name in enumerate(metric_names):
                color = METRIC_COLORS[i % len(METRIC_COLORS)]
                self.metric_curves[name] = self.metric_plot.plot(
                    pen=pg.mkPen(color, width=2), symbol="o", symbolSize=7, symbolBrush=color,
                    name=name, connect="finite")
                entries.append(("●", color, name))
            self.metric_legend.setText(legend_html(entries))
        for name in metric_names:
            self.buffers.metrics[name] = []
        for plot in (self.lr_plot, self.mom_plot, self.loss_plot, self.metric_plot):
            plot.getPlotItem().enableAutoRange(x=True)
        self._dirty = True
        self.refresh()

    def set_x_span(self, iterations: int, epochs: int) -> None:
        """Fix the x axes to the whole planned run: the one-cycle shapes fill in from left to
        right, and the x axes need not be re-laid out on every redraw."""
        for plot in (self.lr_plot, self.mom_plot, self.loss_plot):
            plot.getPlotItem().enableAutoRange(x=False)
            plot.setXRange(0, max(1, iterations) + 1, padding=0.02)
        self.metric_plot.getPlotItem().enableAutoRange(x=False)
        self.metric_plot.setXRange(0.5, max(1, epochs) + 0.5, padding=0.02)

    def add_batch(self, iteration: float, lr: float, mom: float, loss: float,
                  smooth_loss: float) -> None:
        """Buffer one batch; cheap, drawn at the next timer tick."""
        self.buffers.add_batch(iteration, lr, mom, loss, smooth_loss)
        self._dirty = True

    def add_epoch(self, iteration: float, valid_loss: float, metrics: dict[str, float]) -> None:
        self.buffers.add_epoch(iteration, valid_loss, metrics)
        self._dirty = True

    def refresh(self) -> None:
        """Push the buffers into the curves if anything changed since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        b = self.buffers
        x = np.asarray(b.iters, dtype=float)
        self.lr_curve.setData(x, _finite(b.lrs))
        self.mom_curve.setData(x, _finite(b.moms))
        self.raw_loss_curve.setData(x, _finite(b.losses))
        self.smooth_loss_curve.setData(x, _finite(b.smooth_losses))
        self.valid_loss_curve.setData(np.asarray(b.epoch_iters, float), _finite(b.valid_losses))
        for name, curve in self.metric_curves.items():
            values = b.metrics.get(name, [])
            curve.setData(np.arange(1, len(values) + 1, dtype=float), _finite(values))

    def save_png(self, path: str | Path) -> Path:
        """Save all four plots as one PNG (what the user sees, at screen resolution)."""
        self.refresh()
        path = Path(path)
        if not self.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}; choose a writable folder")
        return path

    # Hover read-outs: each returns (x values, [(label, y values)]) for the plot under the mouse.
    def _lr_series(self) -> tuple[list[float], list[tuple[str, list[float]]]]:
        return self.buffers.iters, [("lr", self.buffers.lrs)]

    def _mom_series(self) -> tuple[list[float], list[tuple[str, list[float]]]]:
        return self.buffers.iters, [("mom", self.buffers.moms)]

    def _loss_series(self) -> tuple[list[float], list[tuple[str, list[float]]]]:
        b = self.buffers
        series = [("loss", b.losses), ("smooth", b.smooth_losses)]
        if b.epoch_iters and b.iters:
            # Valid loss is per epoch: show the latest epoch at or before the hovered iteration.
            last = np.searchsorted(b.epoch_iters, b.iters, side="right") - 1
            valid = [b.valid_losses[i] if i >= 0 else float("nan") for i in last]
            series.append(("valid", valid))
        return b.iters, series

    def _metric_series(self) -> tuple[list[float], list[tuple[str, list[float]]]]:
        metrics = self.buffers.metrics
        n = max((len(v) for v in metrics.values()), default=0)
        return list(range(1, n + 1)), [(k, v) for k, v in metrics.items()]
