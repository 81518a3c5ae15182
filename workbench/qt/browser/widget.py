"""The image browser panel: status filter on top, thumbnail list below, keyboard navigation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QVBoxLayout,
    QWidget,
)

from workbench.qt.browser.delegate import ImageItemDelegate
from workbench.qt.browser.model import ImageFilterProxy, ImageListModel, NameRole
from workbench.qt.browser.thumbnails import ThumbnailCache, ThumbnailLoader

FILTER_LABELS = (("All images", "all"), ("Unlabelled", "unlabelled"),
                 ("In progress", "in_progress"), ("Labelled", "labelled"),
                 ("Reviewed", "reviewed"), ("Most uncertain first", "uncertain"))
DIRECTIONS = ("next", "prev", "next_unlabelled")


class ImageSource(Protocol):
    """What the browser needs from a project (workbench.core.project.Project satisfies it)."""

    root: Path

    def image_names(self) -> list[str]: ...
    def image_path(self, name: str) -> Path: ...
    def statuses(self) -> Mapping[str, object]: ...


def thumbnail_dir(root: Path) -> Path:
    return Path(root) / ".cache" / "thumbs"


class ImageBrowser(QWidget):
    """Lists a project's images; emits ``currentImageChanged(name)`` when the selection moves."""

    currentImageChanged = Signal(str)
    filterChanged = Signal(str)
    orderChanged = Signal(str)  # "list" | "uncertain": the order N follows

    def __init__(self, model: ImageListModel, loader: ThumbnailLoader | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.loader = loader
        self.proxy = ImageFilterProxy(self)
        self._uncertainty: list[str] = []  # unlabelled images, most uncertain first
        self.n_order = "list"  # the order N follows: "list", or "uncertain" once ranked
        self.proxy.setSourceModel(model)
        self.filter_box = QComboBox(objectName="imageFilter")
        for label, key in FILTER_LABELS:
            self.filter_box.addItem(label, key)
        self.count_label = QLabel(objectName="hint")
        # Under the filter: the order N follows, so a jump in uncertainty order is explained
        # where the list is; the link switches back to list order.
        self.order_label = QLabel(objectName="nOrder")
        self.order_label.setWordWrap(True)
        self.order_label.setTextFormat(Qt.TextFormat.RichText)
        self.order_label.linkActivated.connect(self.set_n_order)
        self.view = QListView(objectName="imageList")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(ImageItemDelegate(self.view))
        self.view.setUniformItemSizes(True)  # the view never asks all 10,000 rows for a size
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setMouseTracking(True)
        # Names are elided by the delegate; a horizontal scroll bar would only steal a row.
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._layout()
        self.filter_box.currentIndexChanged.connect(self._on_filter_index)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset):
            signal.connect(self._update_count)
        self._update_count()
        self._show_order()

    @classmethod
    def for_project(cls, project: ImageSource, parent: QWidget | None = None) -> ImageBrowser:
        cache = ThumbnailCache(thumbnail_dir(project.root))
        loader = ThumbnailLoader(project.image_path, cache)
        model = ImageListModel(project.image_names(), project.statuses(), loader)
        browser = cls(model, loader, parent)
        loader.setParent(browser)
        model.setParent(browser)
        return browser

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_box, 1)
        top.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.order_label)
        layout.addWidget(self.view, 1)

    # -- queries ---------------------------------------------------------------------------
    def current_name(self) -> str | None:
        index = self.view.currentIndex()
        return str(index.data(NameRole)) if index.isValid() else None

    def visible_names(self) -> list[str]:
        return [str(self.proxy.index(r, 0).data(NameRole)) for r in range(self.proxy.rowCount())]

    # -- commands --------------------------------------------------------------------------
    def select(self, name: str) -> bool:
        """Make ``name`` current (showing it even if the filter would hide it)."""
        row = self.model.row_of(name)
        if row < 0:
            return False
        self.proxy.set_pinned(name)
        proxy_index = self.proxy.mapFromSource(self.model.index(row))
        # a jump to a row off screen centres it; a step to a neighbour just keeps it visible
        # (measured before selecting, which itself scrolls the row just into view)
        shown = self.view.viewport().rect().contains(self.view.visualRect(proxy_index))
        self.view.selectionModel().setCurrentIndex(
            proxy_index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(proxy_index, QAbstractItemView.ScrollHint.EnsureVisible if shown
                           else QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def select_first(self) -> bool:
        if self.proxy.rowCount() == 0:
            return False
        return self.select(str(self.proxy.index(0, 0).data(NameRole)))

    def navigate(self, direction: str) -> bool:
        """Move to the next / previous visible image or the next one to do (unlabelled or in
        progress, wrapping); returns False when there is nowhere to go."""
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}; use one of {DIRECTIONS}")
        if direction == "next_unlabelled":
            target = self._next_unlabelled()
            return target is not None and self.select(target)
        current = self.view.currentIndex()
        if not current.isValid():
            return self.select_first()
        row = current.row() + (1 if direction == "next" else -1)
        if not 0 <= row < self.proxy.rowCount():
            return False
        return self.select(str(self.proxy.index(row, 0).data(NameRole)))

    def set_uncertainty(self, scores: Mapping[str, float]) -> None:
        """The model's uncertainty per unlabelled image (most uncertain first): "Most
        uncertain first" sorts by it and N follows it (the label under the filter says so)."""
        self._uncertainty = list(scores)
        self.proxy.set_scores(scores)
        self.set_n_order("uncertain" if self._uncertainty else "list")

    def set_n_order(self, order: str) -> None:
        """Which order N takes the images to do in: "list" or "uncertain" (when ranked)."""
        if order not in ("list", "uncertain"):
            raise ValueError(f"unknown order {order!r}; use 'list' or 'uncertain'")
        if order == "uncertain" and not self._uncertainty:
            order = "list"
        self.n_order = order
        self._show_order()
        self.orderChanged.emit(order)

    def _show_order(self) -> None:
        if self.n_order == "uncertain":
            text = ("<b>N</b>: most uncertain first (the model's ranking) · "
                    "<a href='list'>use list order</a>")
            tip = ("N goes to the unlabelled image the last ranking found most uncertain, "
                   "then to images in progress, whatever the filter above shows.")
        else:
            more = " · <a href='uncertain'>most uncertain first</a>" if self._uncertainty else ""
            text = f"<b>N</b>: next to do in list order{more}"
            tip = ("N goes to the next image that is unlabelled or in progress (labelled here "
                   "but not yet marked done with R), in the list's order.")
        self.order_label.setText(text)
        self.order_label.setToolTip(tip)

    def set_in_progress(self, names: Iterable[str]) -> None:
        self.model.set_in_progress(names)
        if self.proxy.mode == "in_progress":
            self.proxy.invalidate()
        self._update_count()

    def _to_do(self, row: int) -> bool:
        if self._held_by_other(row):  # team projects: someone else is on it
            return False
        return self.model.status_at(row) == "unlabelled" or self.model.in_progress_at(row)

    def _held_by_other(self, row: int) -> bool:
        holder = self.model.holder(self.model.name_at(row))
        return bool(holder) and holder != "you"

    def _next_unlabelled(self) -> str | None:
        """The next image to do: unlabelled or in progress, in the order N follows."""
        current = self.current_name()
        ranked = self._uncertainty if self.n_order == "uncertain" else []
        if ranked:  # the next in uncertainty order after the current image, still unlabelled
            start = ranked.index(current) if current in ranked else -1
            for name in ranked[start + 1:] + ranked[:start + 1]:
                row = self.model.row_of(name)
                if name != current and row >= 0 and self.model.status_at(row) == "unlabelled" \
                        and not self._held_by_other(row):
                    return name
        start = self.model.row_of(current) if current is not None else -1
        total = self.model.rowCount()
        for step in range(1, total + 1):
            row = (start + step) % total
            if self._to_do(row) and self.model.name_at(row) != current:
                return self.model.name_at(row)
        return None

    def set_filter(self, mode: str) -> None:
        index = self.filter_box.findData(mode)
        if index < 0:
            raise ValueError(f"unknown image filter {mode!r}")
        self.filter_box.setCurrentIndex(index)

    def set_holders(self, holders: Mapping[str, str]) -> None:
        """Team projects: show who holds which image (name -> role)."""
        self.model.set_holders(holders)

    def set_status(self, name: str, status: object) -> None:
        self.model.set_status(name, status)
        self._update_count()

    def reload(self, names: list[str], statuses: Mapping[str, object]) -> None:
        """Replace the rows (after an import), keeping the current image selected."""
        current = self.current_name()
        self.model.reset(names, statuses)
        if current is not None:
            self.select(current)

    def shutdown(self) -> None:
        if self.loader is not None:
            self.loader.stop()

    # -- slots -----------------------------------------------------------------------------
    def _on_filter_index(self, index: int) -> None:
        mode = str(self.filter_box.itemData(index))
        self.proxy.set_mode(mode)
        current = self.view.currentIndex()
        if current.isValid():
            self.view.scrollTo(current, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._update_count()
        self.filterChanged.emit(mode)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            name = str(current.data(NameRole))
            self.proxy.set_pinned(name)
            self.currentImageChanged.emit(name)

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        text = f"{total:,} images" if shown == total else f"{shown:,} of {total:,}"
        self.count_label.setText(text)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
