"""Filtering of the gallery: a text search over names and captions, and a state filter.

The proxy does not sort (GalleryModel sorts its own rows, see there), so it keeps the source
order. With no filter active, filterAcceptsRow returns at once: it runs for every inserted row.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from visioncap_desktop.models.records import CaptionState, ImageRecord

STATE_FILTERS = {
    "all": None,
    "uncaptioned": lambda r: r.needs_caption,
    "edited": lambda r: r.edited,
    "errors": lambda r: r.state is CaptionState.ERROR,
}


class GalleryFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDynamicSortFilter(True)  # re-filter rows whose caption or state changes
        self._needle = ""
        self._state_filter = "all"

    @property
    def state_filter(self) -> str:
        return self._state_filter

    @property
    def search_text(self) -> str:
        return self._needle

    def set_search_text(self, text: str) -> None:
        needle = text.strip().casefold()
        if needle != self._needle:
            self._refilter(lambda: setattr(self, "_needle", needle))

    def set_state_filter(self, name: str) -> None:
        if name not in STATE_FILTERS:
            raise ValueError(f"state filter must be one of {tuple(STATE_FILTERS)}, got {name!r}")
        if name != self._state_filter:
            self._refilter(lambda: setattr(self, "_state_filter", name))

    def _refilter(self, change) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()

    def accepts(self, record: ImageRecord) -> bool:
        test = STATE_FILTERS[self._state_filter]
        if test is not None and not test(record):
            return False
        return not self._needle or self._needle in record.name.casefold() or self._needle in record.caption.casefold()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._needle and self._state_filter == "all":
            return True
        return self.accepts(self.sourceModel().record(source_row))

    def source_records(self, proxy_indexes=None) -> list[ImageRecord]:
        """Records in the proxy's order: all visible rows, or those of `proxy_indexes`."""
        source = self.sourceModel()
        if proxy_indexes is None:
            rows = (self.mapToSource(self.index(r, 0)).row() for r in range(self.rowCount()))
        else:
            rows = sorted(self.mapToSource(i).row() for i in proxy_indexes if i.isValid())
        return [source.record(r) for r in rows]
