"""The image list as a Qt item model, plus the status filter.

The model holds only names and statuses, so a 10,000-image project lists instantly; the
thumbnail of a row is requested the first time a view asks for its decoration, which views do
only for rows they paint.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QImage, QPixmap

from workbench.qt.browser.thumbnails import ThumbnailLoader

NameRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2
ThumbnailStateRole = Qt.ItemDataRole.UserRole + 3  # "ready" | "loading" | "failed"
InProgressRole = Qt.ItemDataRole.UserRole + 4  # labelled, started here, not marked done yet
HolderRole = Qt.ItemDataRole.UserRole + 5  # team projects: who holds the image ("" = nobody)

STATUSES = ("unlabelled", "labelled", "reviewed")
FILTERS = {  # filter key -> statuses it shows
    "all": frozenset(STATUSES),
    "unlabelled": frozenset({"unlabelled"}),
    "labelled": frozenset({"labelled", "reviewed"}),
    "reviewed": frozenset({"reviewed"}),
    "uncertain": frozenset({"unlabelled"}),  # sorted by the model's uncertainty, highest first
    "in_progress": frozenset(),  # labelled images not marked done (see ImageListModel)
}
_MAX_PIXMAPS = 3000  # in-memory thumbnails kept (~110 MB at 96 px worst case); disk has the rest

Index = QModelIndex | QPersistentModelIndex


def status_text(status: object) -> str:
    """A Status enum member or plain string as its value ("labelled")."""
    return str(getattr(status, "value", status))


class ImageListModel(QAbstractListModel):
    """Rows are image names in project order; roles give status and a lazily made thumbnail."""

    def __init__(self, names: Iterable[str], statuses: Mapping[str, object],
                 loader: ThumbnailLoader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._statuses: list[str] = []
        self._rows: dict[str, int] = {}
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: dict[str, str] = {}
        self._in_progress: set[str] = set()
        self._holders: dict[str, str] = {}
        self._loader = loader
        if loader is not None:
            loader.thumbnailReady.connect(self._on_thumbnail)
            loader.thumbnailFailed.connect(self._on_failed)
        self.reset(names, statuses)

    # -- Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._names)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._names):
            return None
        name = self._names[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, NameRole):
            return name
        if role == StatusRole:
            return self._statuses[index.row()]
        if role == InProgressRole:
            return self.in_progress_at(index.row())
        if role == HolderRole:
            return self._holders.get(name, "")
        if role == Qt.ItemDataRole.ToolTipRole:
            reason = self._failed.get(name)
            state = ("labelled, in progress: press R (Reviewed) when it is done"
                     if self.in_progress_at(index.row()) else self._statuses[index.row()])
            tip = f"{name} — {state}"
            if self._holders.get(name):
                tip += f", held by {self._holders[name]}"
            return f"{tip}\n{reason}" if reason else tip
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(name)
        if role == ThumbnailStateRole:
            if name in self._pixmaps:
                return "ready"
            return "failed" if name in self._failed else "loading"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # -- our API ---------------------------------------------------------------------------
    def reset(self, names: Iterable[str], statuses: Mapping[str, object]) -> None:
        self.beginResetModel()
        self._names = list(names)
        self._rows = {n: i for i, n in enumerate(self._names)}
        self._statuses = [status_text(statuses.get(n, "unlabelled")) for n in self._names]
        self._failed.clear()
        self.endResetModel()

    def names(self) -> list[str]:
        return list(self._names)

    def row_of(self, name: str) -> int:
        return self._rows.get(name, -1)

    def name_at(self, row: int) -> str:
        return self._names[row]

    def status(self, name: str) -> str:
        return self._statuses[self._rows[name]]

    def status_at(self, row: int) -> str:
        return self._statuses[row]

    def set_status(self, name: str, status: object) -> None:
        row = self._rows.get(name)
        value = status_text(status)
        if row is None or self._statuses[row] == value:
            return
        self._statuses[row] = value
        index = self.index(row)
        self.dataChanged.emit(index, index, [StatusRole, Qt.ItemDataRole.ToolTipRole])

    def in_progress_at(self, row: int) -> bool:
        """Labelled here and not marked done yet: N ("next to do") still visits it."""
        return self._statuses[row] == "labelled" and self._names[row] in self._in_progress

    def in_progress_names(self) -> set[str]:
        return {n for n in self._in_progress if n in self._rows
                and self.in_progress_at(self._rows[n])}

    def set_in_progress(self, names: Iterable[str]) -> None:
        """Which images are in progress (from the project); repaints the rows that change."""
        new = set(names)
        changed = (new ^ self._in_progress) & set(self._rows)
        self._in_progress = new
        for name in changed:
            index = self.index(self._rows[name])
            self.dataChanged.emit(index, index, [InProgressRole, Qt.ItemDataRole.ToolTipRole])

    def set_holders(self, holders: Mapping[str, str]) -> None:
        """Who holds which image (team projects); repaints the rows that change."""
        new = {n: h for n, h in holders.items() if n in self._rows}
        changed = {n for n in set(new) | set(self._holders)
                   if new.get(n) != self._holders.get(n)}
        self._holders = new
        for name in changed:
            index = self.index(self._rows[name])
            self.dataChanged.emit(index, index, [HolderRole, Qt.ItemDataRole.ToolTipRole])

    def holder(self, name: str) -> str:
        return self._holders.get(name, "")

    def counts(self) -> dict[str, int]:
        result = dict.fromkeys(STATUSES, 0)
        for status in self._statuses:
            result[status] = result.get(status, 0) + 1
        return result

    def _thumbnail(self, name: str) -> QPixmap | None:
        pixmap = self._pixmaps.get(name)
        if pixmap is not None:
            self._pixmaps.move_to_end(name)
            return pixmap
        if self._loader is not None and name not in self._failed:
            self._loader.request(name)
        return None

    def _on_thumbnail(self, name: str, image: QImage) -> None:
        self._pixmaps[name] = QPixmap.fromImage(image)
        while len(self._pixmaps) > _MAX_PIXMAPS:
            self._pixmaps.popitem(last=False)
        self._emit_decoration(name)

    def _on_failed(self, name: str, reason: str) -> None:
        self._failed[name] = reason
        self._emit_decoration(name)

    def _emit_decoration(self, name: str) -> None:
        row = self._rows.get(name)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole,
                                                 ThumbnailStateRole])


class ImageFilterProxy(QSortFilterProxyModel):
    """Shows the rows whose status matches the filter, and always the pinned (open) image, so
    labelling the open image under "unlabelled" does not yank it out of the list."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = "all"
        self._pinned: str | None = None
        self._scores: dict[str, float] = {}

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in FILTERS:
            raise ValueError(f"unknown image filter {mode!r}; use one of {sorted(FILTERS)}")
        if mode != self._mode:
            self._begin_change()
            self._mode = mode
            self._end_change()
            # -1: back to the project's order
            if mode == "uncertain":
                self.sort(0, Qt.SortOrder.DescendingOrder)
            else:
                self.sort(-1, Qt.SortOrder.AscendingOrder)

    def set_scores(self, scores: Mapping[str, float]) -> None:
        """Uncertainty per image name (the "uncertain" mode sorts by it, highest first)."""
        self._scores = dict(scores)
        if self._mode == "uncertain":
            self._begin_change()
            self._end_change()
            self.sort(0, Qt.SortOrder.DescendingOrder)

    def lessThan(self, left: Index, right: Index) -> bool:
        # Unscored images sort below every scored one, then in list order.
        model = self.sourceModel()
        a = self._scores.get(model.name_at(left.row()), float("-inf"))
        b = self._scores.get(model.name_at(right.row()), float("-inf"))
        return a < b if a != b else left.row() > right.row()

    def set_pinned(self, name: str | None) -> None:
        if name == self._pinned:
            return
        if self._mode == "all":  # every row is shown anyway: no refilter, no relayout
            self._pinned = name
            return
        self._begin_change()
        self._pinned = name
        self._end_change()

    # Qt 6.10 replaced invalidateFilter() with begin/endFilterChange(); support both.
    def _begin_change(self) -> None:
        if hasattr(self, "endFilterChange"):
            self.beginFilterChange()

    def _end_change(self) -> None:
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if self._mode == "all":
            return True
        model = self.sourceModel()
        assert isinstance(model, ImageListModel)
        if model.name_at(source_row) == self._pinned:
            return True
        if self._mode == "in_progress":
            return model.in_progress_at(source_row)
        return model.status_at(source_row) in FILTERS[self._mode]
