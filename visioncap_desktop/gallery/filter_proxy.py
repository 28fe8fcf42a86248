"""Filtering of the gallery: a text search over names and captions, a state filter, and a tag
(one comma-separated part of the caption, matched whole and with its case).

The filter runs on Qt's C++ path: a regular expression over ROLE_FILTER ("<state>\\n<name>\\n
<caption>"). With no filter set, Qt accepts rows without calling into Python at all, which
matters when 100,000 rows are inserted or reordered; overriding filterAcceptsRow would cost a
Python call per row every time. The proxy does not sort (GalleryModel sorts its own rows), so
it keeps the source order.
"""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression, QSortFilterProxyModel, Qt

from visioncap_desktop.gallery.item_model import ROLE_FILTER
from visioncap_desktop.records import CaptionState, ImageRecord

STATE_FILTERS: dict[str, tuple[CaptionState, ...] | None] = {
    "all": None,
    "uncaptioned": (CaptionState.PENDING, CaptionState.ERROR),  # ImageRecord.needs_caption
    "edited": (CaptionState.EDITED,),
    "errors": (CaptionState.ERROR,),
}


def filter_pattern(state_filter: str, needle: str, tag: str = "") -> str:
    """The expression matching ROLE_FILTER texts that pass all filters ("" accepts all)."""
    states = STATE_FILTERS[state_filter]
    if states is None and not needle and not tag:
        return ""
    state_part = "[^\\n]*" if states is None else "(?:" + "|".join(s.value for s in states) + ")"
    # the needle may be in the name or the caption, never across the line between them
    needle_part = f"(?=[\\s\\S]*{QRegularExpression.escape(needle)})" if needle else ""
    # the tag is a whole part of the caption: after the line that ends the name, or a comma
    tag_part = (f"(?=[\\s\\S]*[\\n,][ \\t]*(?-i:{QRegularExpression.escape(tag)})[ \\t]*(?:,|\\z))"
                if tag else "")
    return f"\\A{state_part}\\n{needle_part}{tag_part}"


class GalleryFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDynamicSortFilter(True)  # re-filter rows whose caption or state changes
        self.setFilterRole(ROLE_FILTER)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._needle = ""
        self._state_filter = "all"
        self._tag = ""

    @property
    def state_filter(self) -> str:
        return self._state_filter

    @property
    def search_text(self) -> str:
        return self._needle

    def set_search_text(self, text: str) -> None:
        self._needle = " ".join(text.split())
        self._apply()

    @property
    def tag(self) -> str:
        return self._tag

    def set_tag(self, tag: str) -> None:
        """Show only images whose caption holds `tag` ("" shows all)."""
        self._tag = tag.strip()
        self._apply()

    def set_state_filter(self, name: str) -> None:
        if name not in STATE_FILTERS:
            raise ValueError(f"state filter must be one of {tuple(STATE_FILTERS)}, got {name!r}")
        self._state_filter = name
        self._apply()

    def _apply(self) -> None:
        pattern = filter_pattern(self._state_filter, self._needle, self._tag)
        if pattern != self.filterRegularExpression().pattern():
            self.setFilterRegularExpression(QRegularExpression(
                pattern, QRegularExpression.PatternOption.CaseInsensitiveOption))

    def source_records(self, proxy_indexes=None) -> list[ImageRecord]:
        """Records in the proxy's order: all visible rows, or those of `proxy_indexes`."""
        source = self.sourceModel()
        if proxy_indexes is None:
            rows = (self.mapToSource(self.index(r, 0)).row() for r in range(self.rowCount()))
        else:
            rows = sorted(self.mapToSource(i).row() for i in proxy_indexes if i.isValid())
        return [source.record(r) for r in rows]
