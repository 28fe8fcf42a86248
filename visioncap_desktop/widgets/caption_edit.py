"""The caption text box of both editors (the side panel's and the gallery's inline one): a
multi-line box whose keys are the app's, not the text box's own.

- Enter commits; Shift+Enter starts a new line (captions may hold line breaks: the store and the
  CSV and .txt exports keep them; the gallery draws them as spaces).
- Ctrl+Enter and Alt+Down commit and go to the next image; Ctrl+Shift+Enter and Alt+Up to the
  previous one.
- Ctrl+Z, Ctrl+Y and Ctrl+Shift+Z are left to the window's Undo and Redo actions, so they do the
  same thing wherever the focus is; the box keeps no undo history of its own.
- Tags, the comma-separated parts of a caption, are completed from `set_known_tags`: the part
  between the last comma before the cursor and the cursor is completed, and a chosen tag
  replaces it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QTextCursor
from PySide6.QtWidgets import QCompleter, QPlainTextEdit, QWidget

_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_CTRL = Qt.KeyboardModifier.ControlModifier
_SHIFT = Qt.KeyboardModifier.ShiftModifier
_ALT = Qt.KeyboardModifier.AltModifier


def commit_step(event: QKeyEvent) -> int | None:
    """What a key asks of an editor: 0 commit, +1/-1 commit and go to the next/previous image,
    None neither."""
    key = event.key()
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if key in _ENTER:
        return {Qt.KeyboardModifier.NoModifier: 0, _CTRL: 1, _CTRL | _SHIFT: -1}.get(mods)
    if mods == _ALT and key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
        return 1 if key == Qt.Key.Key_Down else -1
    return None


def is_history_key(event: QKeyEvent) -> bool:
    """Undo or redo, by any of the keys the window's actions answer to."""
    if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
        return True
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return (event.key(), mods) in ((Qt.Key.Key_Y, _CTRL), (Qt.Key.Key_Z, _CTRL | _SHIFT))


class HistoryKeysToWindow(QObject):
    """An event filter for the window's one-line boxes (the search box, the tag search): Ctrl+Z,
    Ctrl+Y and Ctrl+Shift+Z go to the window's Undo and Redo, as in the caption editors, instead
    of undoing the box's own typing (a QLineEdit takes them for itself first)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and is_history_key(event):
            # ShortcutOverride ignored: the window's shortcut runs; a KeyPress still arriving means
            # the action is disabled (a run is going), and the box must not undo by itself either
            event.ignore() if event.type() == QEvent.Type.ShortcutOverride else event.accept()
            return True
        return super().eventFilter(watched, event)


def tag_prefix(text: str, position: int) -> str:
    """The part of the tag being typed at `position`: after the last comma before it, without
    leading spaces."""
    return text[:position].rsplit(",", 1)[-1].lstrip()


class CaptionEdit(QPlainTextEdit):
    commit_requested = Signal(int)  # 0: commit; +1/-1: commit and go to the next/previous image
    cancel_requested = Signal()  # Esc: forget what was typed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setUndoRedoEnabled(False)
        self.setTabChangesFocus(True)
        self.setPlaceholderText("Caption")
        self._tags = QStringListModel(self)
        self._completer = QCompleter(self._tags, self)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self._completer.setWidget(self)
        self._completer.activated.connect(self._insert_completion)

    def completer(self) -> QCompleter:
        return self._completer

    def set_known_tags(self, tags: list[str]) -> None:
        """The tags to complete from (the folder's known tags)."""
        self._tags.setStringList(sorted(set(tags), key=str.casefold))

    def event(self, event: QEvent) -> bool:
        # the text box would take Ctrl+Z for itself: leave it to the window's action
        if event.type() == QEvent.Type.ShortcutOverride and is_history_key(event):
            event.ignore()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self._completer.popup()
        if popup.isVisible() and event.key() in (*_ENTER, Qt.Key.Key_Escape, Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            event.ignore()  # the completer takes them
            return
        step = commit_step(event)
        if step is not None:
            self.commit_requested.emit(step)
            event.accept()
            return
        if event.key() in _ENTER and event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == _SHIFT:
            self.textCursor().insertText("\n")
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self.cancel_requested.emit()
            event.accept()
            return
        if is_history_key(event):
            event.accept()  # the window's action is disabled (a run is going): nothing to do
            return
        super().keyPressEvent(event)
        typed = bool(event.text()) and event.text().isprintable()
        if typed or (popup.isVisible() and event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete)):
            self._update_completion()

    def _update_completion(self) -> None:
        cursor = self.textCursor()
        prefix = tag_prefix(self.toPlainText(), cursor.position())
        popup = self._completer.popup()
        if not prefix or not self._tags.rowCount():
            popup.hide()
            return
        if prefix != self._completer.completionPrefix():
            self._completer.setCompletionPrefix(prefix)
        count = self._completer.completionCount()
        if count == 0 or (count == 1 and self._completer.currentCompletion() == prefix):
            popup.hide()
            return
        popup.setCurrentIndex(self._completer.completionModel().index(0, 0))
        rect = self.cursorRect()
        rect.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width())
        self._completer.complete(rect)

    def _insert_completion(self, tag: str) -> None:
        cursor = self.textCursor()
        prefix = tag_prefix(self.toPlainText(), cursor.position())
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(prefix))
        cursor.insertText(tag)
        self.setTextCursor(cursor)
