"""Caption edits and their undo history.

Every user edit reaches the records as one undoable command: typed in the gallery (the item
model's setData pushes it) or committed from the side panel (`commit_caption`). Consecutive
edits of one image merge into one step; a captioning run is pushed as one step when it ends.
Edits that span many records belong here, each pushed as one command over all of them.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QUndoStack

from visioncap_desktop.gallery.item_model import GalleryModel


class EditController(QObject):
    history_changed = Signal()  # something to undo or redo, or its text, changed

    def __init__(self, gallery_model: GalleryModel, undo_stack: QUndoStack, parent: QObject | None = None):
        """`undo_stack`: the one the item model pushes its edits on."""
        super().__init__(parent)
        self.undo_stack = undo_stack
        self._model = gallery_model
        self.undo_stack.canUndoChanged.connect(self.history_changed)
        self.undo_stack.canRedoChanged.connect(self.history_changed)
        self.undo_stack.indexChanged.connect(self.history_changed)

    def commit_caption(self, path: str, caption: str) -> None:
        """A caption the user finished editing outside the gallery view."""
        index = self._model.index_for_path(path)
        if index.isValid():
            self._model.setData(index, caption, Qt.ItemDataRole.EditRole)

    def undo(self) -> None:
        self.undo_stack.undo()

    def redo(self) -> None:
        self.undo_stack.redo()

    def clear(self) -> None:
        """Forget the history (another folder was opened: its records are gone)."""
        self.undo_stack.clear()
