"""Batch edits: one change applied to many captions (find and replace, a prefix, tidied
whitespace, a tag renamed everywhere), applied in slices and pushed as one undo step.

The text work is Qt-free (visioncap_desktop.batch_edit, visioncap_desktop.tags). The window
gives this controller two functions instead of itself: `scope_records(scope)`, the records of
"selected", "filtered" or "all" in row order, and `scope_sizes()`, how many each holds.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QWidget

from visioncap_desktop.batch_edit import BatchEdit, BatchEditError, compile_edit, describe
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.dialogs.batch_edit_dialog import BatchEditDialog
from visioncap_desktop.gallery.batch_command import (
    BatchCaptionCommand,
    Change,
    Snapshots,
    change_steps,
    restore_steps,
)
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.gc_pauses import freeze_long_lived, pause_collections, resume_collections
from visioncap_desktop.records import ImageRecord, edited_snapshot
from visioncap_desktop.sliced import SlicedJob
from visioncap_desktop.wording import plural

ScopeRecords = Callable[[str], list[ImageRecord]]


class BatchEditController(QObject):
    status = Signal(str, int)  # status bar text, milliseconds to show it
    message = Signal(object)  # Message
    busy_changed = Signal(bool)  # a batch (or its undo) is being applied
    batch_finished = Signal(int)  # captions changed (0 when nothing changed)

    def __init__(self, gallery_model: GalleryModel, undo_stack: QUndoStack, scope_records: ScopeRecords,
                 scope_sizes: Callable[[], dict[str, int]], parent: QObject | None = None):
        """`undo_stack`: the one the item model pushes its edits on."""
        super().__init__(parent)
        self._model = gallery_model
        self._undo_stack = undo_stack
        self._scope_records = scope_records
        self._scope_sizes = scope_sizes
        self._job: SlicedJob | None = None
        self.dialog: BatchEditDialog | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def open_dialog(self, parent: QWidget | None = None, scope: str | None = None) -> BatchEditDialog:
        """Show the batch edit dialog (one, non-modal); `scope` preselects what it edits."""
        if self.dialog is None:
            self.dialog = BatchEditDialog(self._scope_records, self._scope_sizes, parent)
            self.dialog.apply_requested.connect(self.apply_edit)
            self.batch_finished.connect(self.dialog.recount)
        self.dialog.show_for(scope)
        return self.dialog

    def apply_edit(self, edit: BatchEdit, scope: str, protect_edited: bool) -> bool:
        """Apply `edit` to the captions of `scope` as one undo step; False if it cannot start."""
        try:
            change_caption = compile_edit(edit)
        except BatchEditError as exc:
            self.message.emit(Message("warning", "Batch edit", str(exc)))
            return False
        return self.change_captions(self._scope_records(scope), change_caption, describe(edit), protect_edited)

    def change_captions(self, records: list[ImageRecord], change_caption: Callable[[str], str], text: str,
                        protect_edited: bool = False) -> bool:
        """Apply `change_caption` to `records` (edited ones skipped if `protect_edited`), in
        slices, then push one undo step named `text`. False if another batch is running."""
        def change(record: ImageRecord):
            caption = change_caption(record.caption)
            return edited_snapshot(record, caption) if caption != record.caption else None

        return self.change_records(records, change, text, protect_edited)

    def change_records(self, records: list[ImageRecord], change: Change, text: str,
                       protect_edited: bool = False) -> bool:
        """`change_captions` for a change that needs the whole record (a title, the keywords read
        from each photo): `change` returns the record's new snapshot, or None to leave it."""
        if self.busy:
            self.status.emit("A batch edit is still being applied; try again in a moment.", 5000)
            return False
        protected = 0

        def chosen():
            nonlocal protected
            for record in records:
                if protect_edited and record.edited:
                    protected += 1
                else:
                    yield record.path

        self._start(change_steps(self._model, chosen(), change),
                    lambda result: self._on_applied(result, text, protected))
        return True

    def finish_now(self) -> None:
        """Apply the rest of a running batch at once (the folder is closing)."""
        if self._job is not None:
            self._job.finish_now()

    # --- running ------------------------------------------------------------------------------

    def _start(self, steps, done: Callable[[tuple[Snapshots, Snapshots]], None]) -> None:
        # No cycle collections while a batch runs: its 100,000 new snapshots would make each one
        # walk them all again (a full collection mid-batch stalled the window for 400 ms; see
        # benchmarks/app_batch_edit.py). They hold no cycles: reference counting frees them.
        pause_collections()
        self._job = SlicedJob(steps, self)
        self._job.finished.connect(lambda result: self._finish(result, done))
        self.busy_changed.emit(True)
        self._job.start()

    def _finish(self, result, done) -> None:
        self._job.deleteLater()
        self._job = None
        # the snapshots live as long as the undo history: kept out of later collections too
        freeze_long_lived("batch edit applied")
        resume_collections()
        self.busy_changed.emit(False)
        done(result)

    def _on_applied(self, result: tuple[Snapshots, Snapshots], text: str, protected: int) -> None:
        before, after = result
        kept = f"; {plural(protected, 'edited caption')} left as {'it was' if protected == 1 else 'they were'}" if protected else ""
        if not after:
            self.status.emit(f"{text}: no caption changed{kept}.", 8000)
        else:
            self._undo_stack.push(BatchCaptionCommand(f"{text} ({len(after):,} captions)", before, after,
                                                      self._restore))
            self.status.emit(f"{text}: {plural(len(after), 'caption')} changed{kept}. Ctrl+Z undoes it.", 8000)
        self.batch_finished.emit(len(after))

    def _restore(self, target: Snapshots, expected: Snapshots) -> None:
        """Undo or redo of a batch (called by its command)."""
        self.finish_now()  # one at a time: a batch still applying ends before its undo starts
        self._start(restore_steps(self._model, target, expected), lambda result: self.batch_finished.emit(len(result[1])))
