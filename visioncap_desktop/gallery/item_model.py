"""The gallery's item model: one row per ImageRecord.

Rows only change between begin*/end* calls, every caption change emits dataChanged, and
`records_changed` tells the owner that there is something new to save. Thumbnails come from a
ThumbnailLoader, asked only when a view paints a row, so only visible rows are ever decoded.

Sorting is done here, on the record list, rather than in the proxy: a proxy sort calls back into
Python for every comparison, which takes seconds for 100,000 rows; list.sort on a precomputed key
takes milliseconds.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from operator import attrgetter

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QUndoStack

from core.fingerprint import FileState
from visioncap_desktop.gallery.undo_commands import EditCaptionCommand
from visioncap_desktop.records import (
    CaptionSnapshot,
    CaptionState,
    ImageRecord,
    edited_snapshot,
    run_may_replace,
)

ROLE_RECORD = Qt.ItemDataRole.UserRole + 1  # the ImageRecord itself (read-only use)
ROLE_PATH = Qt.ItemDataRole.UserRole + 2
ROLE_STATE = Qt.ItemDataRole.UserRole + 3  # CaptionState value string
ROLE_ERROR = Qt.ItemDataRole.UserRole + 4
ROLE_FILTER = Qt.ItemDataRole.UserRole + 5  # "<state>\n<name>\n<caption>": what the proxy filters on
ROLE_SOURCE = Qt.ItemDataRole.UserRole + 6  # where the caption was read from ("" for the model or the user)

SORT_KEYS = ("name", "name_desc", "state", "caption")
_STATE_ORDER = {CaptionState.ERROR: 0, CaptionState.PENDING: 1, CaptionState.EDITED: 2, CaptionState.CAPTIONED: 3}


def _sort_spec(key: str):
    if key == "state":
        return (lambda r: (_STATE_ORDER[r.state], r.sort_key)), False
    if key == "caption":
        return (lambda r: (r.caption.casefold(), r.sort_key)), False
    return attrgetter("sort_key"), key == "name_desc"


class GalleryModel(QAbstractListModel):
    records_changed = Signal()  # a caption, state or error changed: the store needs saving
    counts_changed = Signal()

    def __init__(self, thumbnails=None, parent=None, undo_stack: QUndoStack | None = None):
        """`thumbnails`: an object with `pixmap(path) -> QPixmap | None` and a
        `thumbnail_ready(str, int, int)` signal (a ThumbnailLoader), or None. `undo_stack`:
        where user edits through setData go as undoable commands (None: applied directly)."""
        super().__init__(parent)
        self._records: list[ImageRecord] = []
        self._rows: dict[str, int] = {}  # path -> row
        self._counts: Counter[CaptionState] = Counter()
        self._sort_key = "name"
        self._thumbnails = thumbnails
        self.undo_stack = undo_stack
        if thumbnails is not None:
            thumbnails.thumbnail_ready.connect(self.on_thumbnail_ready)

    # --- Qt model interface -------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._records):
            return None
        record = self._records[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return record.name
        if role == Qt.ItemDataRole.EditRole:
            return record.caption
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole name, however the tile shortens it
            text = f"{record.name}\n{record.path}"
            text = f"{text}\n{record.caption}" if record.caption else text
            return f"{text}\n({record.source_label})" if record.source_label else text
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.pixmap(record.path) if self._thumbnails is not None else None
        if role == ROLE_RECORD:
            return record
        if role == ROLE_PATH:
            return record.path
        if role == ROLE_STATE:
            return record.state.value
        if role == ROLE_ERROR:
            return record.error
        if role == ROLE_FILTER:
            return f"{record.state.value}\n{record.name}\n{record.caption}"
        if role == ROLE_SOURCE:
            return record.source
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """A user edit of a caption. With an undo stack it becomes an undoable command."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or not isinstance(value, str):
            return False
        record = self._records[index.row()]
        if value == record.caption:  # confirming a caption unchanged is not an edit
            return True
        if self.undo_stack is not None:
            self.undo_stack.push(EditCaptionCommand(self, record.path, value))
        else:
            self.set_snapshot(record.path, edited_snapshot(record, value))
        return True

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column == 0:
            self.sort_records("name_desc" if order == Qt.SortOrder.DescendingOrder else "name")

    # --- records --------------------------------------------------------------------------------

    def clear(self) -> None:
        self.beginResetModel()
        self._records = []
        self._rows = {}
        self._counts = Counter()
        self.endResetModel()
        self.counts_changed.emit()

    def add_records(self, records: Iterable[ImageRecord]) -> None:
        """Append records (a scan batch); paths already present are skipped."""
        new = [r for r in records if r.path not in self._rows]
        if not new:
            return
        first = len(self._records)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._records.extend(new)
        for row, record in enumerate(new, first):
            self._rows[record.path] = row
            self._counts[record.state] += 1
        self.endInsertRows()
        self.counts_changed.emit()

    def sort_records(self, key: str | None = None) -> None:
        """Reorder rows by `key` (one of SORT_KEYS; default: the last one used)."""
        if key is not None:
            if key not in SORT_KEYS:
                raise ValueError(f"sort key must be one of {SORT_KEYS}, got {key!r}")
            self._sort_key = key
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        paths = [self._records[i.row()].path if i.isValid() else None for i in persistent]
        sort_key, reverse = _sort_spec(self._sort_key)
        self._records.sort(key=sort_key, reverse=reverse)
        self._rows = dict(zip(map(attrgetter("path"), self._records), range(len(self._records))))
        self.changePersistentIndexList(
            persistent, [self.index(self._rows[p]) if p is not None else QModelIndex() for p in paths]
        )
        self.layoutChanged.emit()

    def adopt_order(self, records: list[ImageRecord], rows: dict[str, int]) -> bool:
        """Take a name order computed elsewhere (the scanner's thread) for the same records as
        held now (the caller makes sure: same scan). False, changing nothing, if the sort key is
        not "name" or the number of records differs."""
        if self._sort_key != "name" or len(records) != len(self._records):
            return False
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        paths = [self._records[i.row()].path if i.isValid() else None for i in persistent]
        self._records, self._rows = records, rows
        self.changePersistentIndexList(
            persistent, [self.index(rows[p]) if p is not None else QModelIndex() for p in paths]
        )
        self.layoutChanged.emit()
        return True

    @property
    def sort_key(self) -> str:
        return self._sort_key

    def records(self) -> list[ImageRecord]:
        """The records in row order (a new list; the records themselves are shared)."""
        return list(self._records)

    def record(self, row: int) -> ImageRecord:
        return self._records[row]

    def record_for_path(self, path: str) -> ImageRecord | None:
        row = self._rows.get(path)
        return None if row is None else self._records[row]

    def index_for_path(self, path: str) -> QModelIndex:
        row = self._rows.get(path)
        return QModelIndex() if row is None else self.index(row)

    def counts(self) -> dict[CaptionState, int]:
        return {state: self._counts[state] for state in CaptionState}

    # --- changes --------------------------------------------------------------------------------

    def set_snapshot(self, path: str, snapshot: CaptionSnapshot) -> bool:
        """Set caption, state, error and model of one record; False if the path is not here."""
        return bool(self.set_snapshots({path: snapshot}))

    def set_snapshots(self, snapshots: Mapping[str, CaptionSnapshot]) -> int:
        """Apply many snapshots with one dataChanged over the affected row range."""
        rows = []
        for path, snapshot in snapshots.items():
            row = self._rows.get(path)
            if row is None:
                continue
            record = self._records[row]
            if record.snapshot() == snapshot:
                continue
            self._counts[record.state] -= 1
            if record.caption != snapshot.caption:
                record.changed_ns = time.time_ns()  # what the conflict rule compares files with
            record.apply(snapshot)
            self._counts[record.state] += 1
            rows.append(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))
            self.records_changed.emit()
            self.counts_changed.emit()
        return len(rows)

    def apply_result(
        self, path: str, snapshot: CaptionSnapshot, overwrite_edited: bool = False
    ) -> tuple[CaptionSnapshot, CaptionSnapshot] | None:
        """Apply a captioning result. An edited caption is kept unless `overwrite_edited`.
        Returns (before, after) when the record changed, for the run's undo command."""
        record = self.record_for_path(path)
        if record is None or not run_may_replace(record, overwrite_edited):
            return None
        before = record.snapshot()
        if before == snapshot or not self.set_snapshot(path, snapshot):
            return None
        return before, snapshot

    def set_file_states(self, states: Mapping[str, FileState]) -> None:
        """Record each file's fingerprint (path -> FileState); saved with the captions."""
        changed = False
        for path, state in states.items():
            record = self.record_for_path(path)
            if record is not None:
                record.set_file_state(state)
                changed = changed or record.state is not CaptionState.PENDING
        if changed:
            self.records_changed.emit()

    def add_seen(self, seen: Mapping[str, Mapping[str, FileState]], noted: bool = False) -> None:
        """Record the state of files a caption was read from or written to (path -> {source
        key: state}), so they do not come back as changed; with `noted`, of files whose
        different caption was reported (records.FileFacts.noted)."""
        changed = False
        for path, states in seen.items():
            record = self.record_for_path(path)
            if record is not None and states:
                (record.noted if noted else record.seen).update(states)
                changed = True
        if changed:
            self.records_changed.emit()

    def set_dimensions(self, path: str, width: int, height: int) -> None:
        record = self.record_for_path(path)
        if record is not None and (record.width, record.height) != (width, height):
            record.width, record.height = width, height

    @Slot(str, int, int)
    def on_thumbnail_ready(self, path: str, width: int, height: int) -> None:
        row = self._rows.get(path)
        if row is not None:
            if width > 0 and height > 0:
                self.set_dimensions(path, width, height)
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
