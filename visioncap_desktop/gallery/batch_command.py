"""One undo step for a change to many captions (a batch edit, a tag renamed everywhere), and
the steps that apply such a change to the item model a few hundred records at a time.

Applying 100,000 captions in one call takes seconds when a filter is set (the proxy re-filters
every changed row), so the change is a generator run in slices (visioncap_desktop.sliced);
undo and redo apply their snapshots the same way. A record changed by something else between
two slices (the user typing in it) is left as it is: each step applies a snapshot only where
the record still holds the one expected.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping
from itertools import islice

from PySide6.QtGui import QUndoCommand

from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.records import CaptionSnapshot, ImageRecord

STEP = 250  # records per step of a slice

Change = Callable[[ImageRecord], CaptionSnapshot | None]  # None: leave the record as it is
Snapshots = dict[str, CaptionSnapshot]


def change_steps(model: GalleryModel, paths: Iterable[str], change: Change) -> Generator[None, None, tuple[Snapshots, Snapshots]]:
    """Apply `change` to the records of `paths`, STEP records per step; returns (before, after)
    of the records that changed. `paths` in row order (as the gallery and its filter list them)
    keep each step's dataChanged to a few rows."""
    before: Snapshots = {}
    after: Snapshots = {}
    paths = iter(paths)  # consumed as the steps go: no pass over every record before the first
    while chunk := list(islice(paths, STEP)):
        pending: Snapshots = {}
        for path in chunk:
            record = model.record_for_path(path)
            if record is None:
                continue
            snapshot = change(record)
            if snapshot is not None and snapshot != record.snapshot():
                before[path] = record.snapshot()
                after[path] = pending[path] = snapshot
        model.set_snapshots(pending)
        yield
    return before, after


def restore_steps(model: GalleryModel, target: Mapping[str, CaptionSnapshot],
                  expected: Mapping[str, CaptionSnapshot]) -> Generator[None, None, tuple[Snapshots, Snapshots]]:
    """Undo or redo: `target` applied where a record still holds its `expected` snapshot
    (in the order the batch applied it: row order, unless the gallery was sorted since)."""
    def change(record: ImageRecord) -> CaptionSnapshot | None:
        return target[record.path] if record.snapshot() == expected[record.path] else None

    return (yield from change_steps(model, list(target), change))


class BatchCaptionCommand(QUndoCommand):
    """The captions one batch changed, undone and redone together.

    The batch applies its changes before the command is pushed, so the first redo() (called by
    QUndoStack.push) has nothing to do. `apply(target, expected)` applies snapshots (in slices,
    see restore_steps)."""

    def __init__(self, text: str, before: Snapshots, after: Snapshots,
                 apply: Callable[[Snapshots, Snapshots], None]):
        super().__init__(text)
        self._before = before
        self._after = after
        self._apply = apply
        self._pushed = False

    def __len__(self) -> int:
        return len(self._after)

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True
            return
        self._apply(self._after, self._before)

    def undo(self) -> None:
        self._apply(self._before, self._after)
