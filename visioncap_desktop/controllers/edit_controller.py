"""Caption edits, their undo history, and drafts of text being typed.

Every user edit reaches the records as one undoable command: typed in the gallery (the item
model's setData pushes it) or committed from the side panel (`commit_caption`). Each committed
edit is its own undo step; text being typed is no edit until it is committed (Enter, leaving
the editor), only a draft. A captioning run is one step, pushed with its first change (see
RunController). Undo and redo first ask the editors to commit what is typed
(`typing_to_finish`), and do nothing while a run is going (`set_locked`). Edits that span many
records belong here, each pushed as one command over all of them.

Drafts: text typed in either editor is written to the folder's drafts file (see store.py) at
most DRAFT_QUIET_MS after the last keystroke and DRAFT_MAX_WAIT_MS after the first one not yet
written, however long the typing goes on, so it survives the app being killed. A draft stays in
the file until the caption store has had time to save the caption it became; when a folder is
opened, drafts that differ from the saved captions are offered back.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMessageBox

from visioncap_desktop.controllers.message import Message
from visioncap_desktop.dialogs.prompts import Prompts
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.gallery.undo_commands import EditCaptionCommand, EditTitleCommand
from visioncap_desktop.store import (
    StoreFormatError,
    drafts_path,
    keep_aside,
    read_drafts,
    write_drafts,
)
from visioncap_desktop.wording import plural, verb

log = logging.getLogger(__name__)

DRAFT_QUIET_MS = 300  # a draft is written this long after the last keystroke...
DRAFT_MAX_WAIT_MS = 600  # ...and never later than this after the first keystroke not yet written
# a draft that became the caption stays on disk this long, beyond the store's SAVE_DELAY_MS
KEEP_COMMITTED_S = 2.0


class _Draft:
    __slots__ = ("committed_at", "text")

    def __init__(self, text: str):
        self.text = text
        self.committed_at: float | None = None  # when the caption first equalled the text


class EditController(QObject):
    history_changed = Signal()  # something to undo or redo, or its text, changed
    typing_to_finish = Signal()  # editors: commit what is typed now (an undo or redo follows)
    message = Signal(object)  # Message

    def __init__(self, gallery_model: GalleryModel, undo_stack: QUndoStack, prompts: Prompts | None = None,
                 parent: QObject | None = None):
        """`undo_stack`: the one the item model pushes its edits on. `prompts`: asks whether to
        restore drafts (None: drafts are restored without asking)."""
        super().__init__(parent)
        self.undo_stack = undo_stack
        self._model = gallery_model
        self._prompts = prompts
        self._locked = False
        self._folder: Path | None = None
        self._drafts_file: Path | None = None
        self._drafts: dict[str, _Draft] = {}  # by path: typed in this session
        self._unoffered: dict[str, str] = {}  # by name: read from the file, not yet offered back
        self._drafts_dirty = False
        self._quiet = QTimer(self, singleShot=True, interval=DRAFT_QUIET_MS)
        self._max_wait = QTimer(self, singleShot=True, interval=DRAFT_MAX_WAIT_MS)
        self._prune = QTimer(self, singleShot=True, interval=int(KEEP_COMMITTED_S * 1000) + 100)
        for timer in (self._quiet, self._max_wait, self._prune):
            timer.timeout.connect(self.write_drafts)
        self.undo_stack.canUndoChanged.connect(self.history_changed)
        self.undo_stack.canRedoChanged.connect(self.history_changed)
        self.undo_stack.indexChanged.connect(self.history_changed)
        gallery_model.dataChanged.connect(self._on_data_changed)

    # --- edits and history ------------------------------------------------------------------------

    def commit_caption(self, path: str, caption: str) -> None:
        """A caption typed outside the gallery view (the side panel): one undo step."""
        record = self._model.record_for_path(path)
        if record is not None and caption != record.caption:
            self.undo_stack.push(EditCaptionCommand(self._model, path, caption))

    def commit_title(self, path: str, title: str) -> None:
        """A title typed in the side panel: one undo step."""
        record = self._model.record_for_path(path)
        if record is not None and title.strip() != record.title:
            self.undo_stack.push(EditTitleCommand(self._model, path, title))

    def undo(self) -> None:
        self._step_history(self.undo_stack.undo)

    def redo(self) -> None:
        self._step_history(self.undo_stack.redo)

    def _step_history(self, step) -> None:
        if self._locked:
            return
        self.typing_to_finish.emit()
        step()

    def set_locked(self, locked: bool) -> None:
        """While a run is going, undo and redo do nothing (the run's step is still growing)."""
        self._locked = locked

    def clear(self) -> None:
        """Forget the history (another folder was opened: its records are gone)."""
        self.undo_stack.clear()

    # --- drafts -----------------------------------------------------------------------------------

    def set_draft(self, path: str, text: str) -> None:
        """The text in an editor of `path` now (the caption itself: no draft)."""
        record = self._model.record_for_path(path)
        if record is None or self._drafts_file is None:
            return
        draft = self._drafts.get(path)
        if draft is None and text == record.caption:
            return
        if draft is None:
            draft = self._drafts[path] = _Draft(text)
        draft.text = text
        draft.committed_at = None
        self._drafts_dirty = True
        self._quiet.start()
        if not self._max_wait.isActive():
            self._max_wait.start()

    def write_drafts(self) -> None:
        """Write the drafts file now (drafts committed long enough ago are left out)."""
        self._quiet.stop()
        self._max_wait.stop()
        self._prune.stop()
        if self._drafts_file is None:
            return
        self._mark_committed()
        now = time.monotonic()
        expired = [p for p, d in self._drafts.items() if d.committed_at is not None
                   and now - d.committed_at >= KEEP_COMMITTED_S]
        for path in expired:
            del self._drafts[path]
        if not (self._drafts_dirty or expired):
            return
        try:
            write_drafts(self._drafts_file, self._folder, self.drafts())
        except OSError as exc:
            log.warning("could not write drafts %s: %s", self._drafts_file, exc)
        self._drafts_dirty = False
        if any(d.committed_at is not None for d in self._drafts.values()):
            self._prune.start()

    def drafts(self) -> dict[str, str]:
        """{name: text} of the drafts held now, committed or not: what the file gets."""
        drafts = dict(self._unoffered)
        for path, draft in self._drafts.items():
            record = self._model.record_for_path(path)
            if record is not None:
                drafts[record.name] = draft.text
        return drafts

    def open_folder(self, folder: str | Path | None) -> None:
        """Another folder is open (its records are loading): finish the previous folder's drafts
        (its captions are saved by now), forget the history, read the new folder's drafts."""
        self._finish_drafts()
        self.clear()
        self._folder = Path(folder) if folder else None
        self._drafts_file = drafts_path(self._folder) if self._folder else None
        self._drafts = {}
        self._unoffered = {}
        if self._drafts_file is None:
            return
        try:
            self._unoffered = read_drafts(self._drafts_file)
        except OSError as exc:
            self.message.emit(Message("warning", "Drafts could not be read",
                                      f"Captions typed but not saved last time could not be read: {exc}"))
        except StoreFormatError as exc:  # truncated, not UTF-8, from a newer version: kept, not overwritten
            try:
                kept = f"The file was kept as {keep_aside(self._drafts_file)}."
            except OSError as move_error:
                kept = f"It could not be moved aside ({move_error}) and will be replaced by new drafts."
            log.warning("unreadable drafts %s: %s", self._drafts_file, exc)
            self.message.emit(Message("warning", "Drafts could not be read",
                                      f"Captions typed but not saved last time could not be read ({exc}). {kept}"))

    def offer_drafts(self) -> int:
        """The folder's records are loaded: offer back the drafts that differ from the saved
        captions (restored as one undo step). Returns the number restored."""
        if not self._unoffered:
            return 0
        records = {r.name: r for r in self._model.records()}
        # drafts of files not listed now (a subfolder left out) stay for a later time
        here = {n: t for n, t in self._unoffered.items() if n in records}
        self._unoffered = {n: t for n, t in self._unoffered.items() if n not in records}
        waiting = {n: t for n, t in here.items() if t != records[n].caption}
        self._drafts_dirty = True
        if not waiting:
            self.write_drafts()
            return 0
        names = sorted(waiting)
        shown = "\n".join(f"{n}: {waiting[n][:60]}" for n in names[:5]) + ("\n..." if len(names) > 5 else "")
        buttons = QMessageBox.StandardButton
        if self._prompts is not None and self._prompts.ask(
            "Restore typed captions?",
            f"VisionCap stopped while {plural(len(names), 'caption')} {verb(len(names), 'was')} being typed:"
            f"\n\n{shown}\n\n"
            "Restore them? (Undo takes them back.)", buttons.Yes | buttons.No, buttons.Yes,
        ) != buttons.Yes:
            self.write_drafts()
            return 0
        self.undo_stack.beginMacro(f"Restore {plural(len(names), 'typed caption')}")
        for name in names:
            path = records[name].path
            self.undo_stack.push(EditCaptionCommand(self._model, path, waiting[name]))
            self._drafts[path] = _Draft(waiting[name])  # kept on disk until the store has it
        self.undo_stack.endMacro()
        self.write_drafts()
        return len(names)

    def shutdown(self) -> None:
        """The folder's captions are saved: the drafts file keeps only what is not committed."""
        self._finish_drafts()
        self._drafts_file = None

    def _finish_drafts(self) -> None:
        if self._drafts_file is None:
            return
        self._mark_committed()
        # the editors committed their text when the folder closed; the records of a folder
        # already closed are gone from the model
        committed = [p for p, d in self._drafts.items()
                     if d.committed_at is not None or self._model.record_for_path(p) is None]
        for path in committed:
            del self._drafts[path]
        self._drafts_dirty |= bool(committed)
        self.write_drafts()

    def _mark_committed(self) -> None:
        now = time.monotonic()
        for path, draft in self._drafts.items():
            if draft.committed_at is None:
                record = self._model.record_for_path(path)
                if record is not None and record.caption == draft.text:
                    draft.committed_at = now

    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        if self._drafts and Qt.ItemDataRole.DecorationRole not in roles:
            self._mark_committed()
            if any(d.committed_at is not None for d in self._drafts.values()) and not self._prune.isActive():
                self._prune.start()
