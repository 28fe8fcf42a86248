"""Undoable changes to captions: one user edit (of a caption or a title), or one whole captioning run.

The commands change records through a `CaptionTarget` (the gallery's item model is one), so this
module does not import the item model, which imports it to turn edits into commands."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Protocol

from PySide6.QtGui import QUndoCommand

from visioncap_desktop.records import CaptionSnapshot, ImageRecord, edited_snapshot, titled_snapshot


class CaptionTarget(Protocol):
    """What the commands need from the records' owner."""

    def record_for_path(self, path: str) -> ImageRecord | None: ...

    def set_snapshot(self, path: str, snapshot: CaptionSnapshot) -> bool: ...

    def set_snapshots(self, snapshots: Mapping[str, CaptionSnapshot]) -> int: ...


class EditCaptionCommand(QUndoCommand):
    """The user changed one caption: each committed edit is its own undo step."""

    def __init__(self, model: CaptionTarget, path: str, caption: str):
        record = model.record_for_path(path)
        if record is None:
            raise KeyError(path)
        super().__init__(f"Edit caption of {PurePosixPath(record.name).name}")
        self._model = model
        self._path = path
        self._before = record.snapshot()
        self._after = edited_snapshot(record, caption)

    def redo(self) -> None:
        self._model.set_snapshot(self._path, self._after)

    def undo(self) -> None:
        self._model.set_snapshot(self._path, self._before)


class EditTitleCommand(QUndoCommand):
    """The user changed one photo's title (the side panel's Title field)."""

    def __init__(self, model: CaptionTarget, path: str, title: str):
        record = model.record_for_path(path)
        if record is None:
            raise KeyError(path)
        super().__init__(f"Edit title of {PurePosixPath(record.name).name}")
        self._model = model
        self._path = path
        self._before = record.snapshot()
        self._after = titled_snapshot(record, title)

    def redo(self) -> None:
        self._model.set_snapshot(self._path, self._after)

    def undo(self) -> None:
        self._model.set_snapshot(self._path, self._before)


class CaptionRunCommand(QUndoCommand):
    """Every caption one run changed, undone and redone together.

    The run applies its results as they arrive and pushes the command with its first change, so
    edits made later in the run come after it on the stack (undone first); the results that
    follow are added to it. Its first redo() (called by QUndoStack.push) has nothing to do.
    """

    def __init__(self, model: CaptionTarget):
        super().__init__("Caption images")
        self._model = model
        self._before: dict[str, CaptionSnapshot] = {}
        self._after: dict[str, CaptionSnapshot] = {}
        self._pushed = False

    def add(self, path: str, before: CaptionSnapshot, after: CaptionSnapshot) -> None:
        self._before.setdefault(path, before)  # the state before the run, if a path comes twice
        self._after[path] = after

    def __len__(self) -> int:
        return len(self._after)

    def after(self, path: str) -> CaptionSnapshot | None:
        """What this run last set `path` to (None: the run has not changed it)."""
        return self._after.get(path)

    def finish(self, text: str) -> None:
        self.setText(text)

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True
            return
        self._model.set_snapshots(self._after)

    def undo(self) -> None:
        self._model.set_snapshots(self._before)
