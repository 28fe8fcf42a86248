"""The side panel: the current image large, its caption in an editor, and its details.

The editor is a CaptionEdit (see its keys). Typing is reported as a draft at once
(`draft_changed`: the edit controller writes drafts to disk) and becomes the caption only when
committed (`caption_committed`, one undo step): by Enter, Ctrl+Enter or Alt+Down/Up (which then
ask for the next or previous image), by leaving the editor, or by another image being shown.
Nothing is committed by a pause in typing, so a half-typed word never becomes a caption or a
tag. Esc puts the committed caption back. Under the editor, an estimate of the caption's CLIP
tokens and its characters (visioncap_desktop.token_count).

Below it, an optional Title (written with the caption as the photo's XMP dc:title): committed by
Enter or by leaving the field (`title_committed`, one undo step), Esc puts the committed one back.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap, QTextCursor
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from visioncap_desktop.records import CaptionState, ImageRecord
from visioncap_desktop.theme import warning_colour
from visioncap_desktop.token_count import counter_text
from visioncap_desktop.widgets.caption_edit import CaptionEdit


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


class SidePanel(QWidget):
    caption_committed = Signal(str, str)  # path, caption
    draft_changed = Signal(str, str)  # path, the text in the editor now
    title_committed = Signal(str, str)  # path, title
    step_requested = Signal(int)  # +1/-1: show the next/previous image (the edit is committed)

    def __init__(self, previews, parent=None):
        """`previews`: a ThumbnailLoader of large previews."""
        super().__init__(parent)
        self._previews = previews
        self._record: ImageRecord | None = None
        self._pixmap: QPixmap | None = None
        self._dirty = False
        self._setting_text = False

        self.preview = QLabel(self)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(240, 180)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setText("No image selected")

        self.editor = CaptionEdit(self)
        self.editor.setMaximumHeight(110)
        self.editor.setEnabled(False)
        self.editor.installEventFilter(self)
        self.counter = QLabel(self)
        self.counter.setToolTip("An estimate: CLIP reads 77 tokens (75 of them text); rare words and made-up "
                                "trigger words take more tokens than counted here.")

        self.title_edit = QLineEdit(self)
        self.title_edit.setPlaceholderText("optional; written with the caption as the photo's title")
        self.title_edit.setToolTip("The photo's title (XMP dc:title), written beside the caption when you "
                                   "embed captions or write XMP sidecars. Enter keeps it, Esc drops what you typed.")
        self.title_edit.setEnabled(False)
        self.title_edit.installEventFilter(self)
        self.title_edit.editingFinished.connect(self.commit_title)

        self.details: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key, label in (("name", "File"), ("state", "State"), ("error", "Error"), ("model", "Model"),
                           ("dimensions", "Dimensions"), ("size", "Size"), ("path", "Path")):
            value = QLabel(self)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.details[key] = value
            form.addRow(f"{label}:", value)

        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(QLabel("Caption:", self))
        layout.addWidget(self.editor)
        layout.addWidget(self.counter)
        title_row = QHBoxLayout()
        title_label = QLabel("&Title:", self)
        title_label.setBuddy(self.title_edit)
        title_row.addWidget(title_label)
        title_row.addWidget(self.title_edit, 1)
        layout.addLayout(title_row)
        layout.addLayout(form)

        self.editor.textChanged.connect(self._on_text_changed)
        self.editor.textChanged.connect(self._count)
        self._count()
        self.editor.commit_requested.connect(self._on_commit_requested)
        self.editor.cancel_requested.connect(self._on_cancel_requested)
        previews.thumbnail_ready.connect(self._on_preview_ready)

    def sizeHint(self) -> QSize:
        return QSize(360, 600)

    @property
    def record(self) -> ImageRecord | None:
        return self._record

    def show_record(self, record: ImageRecord | None) -> None:
        """Show `record` (None: nothing selected); a pending edit of the previous one is committed."""
        self.commit()
        self.commit_title()
        self._record = record
        self._pixmap = None
        self.editor.setEnabled(record is not None)
        self.title_edit.setEnabled(record is not None)
        self.title_edit.setText(record.title if record is not None else "")
        if record is None:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("No image selected")
            self._set_text("")
            for label in self.details.values():
                label.setText("")
            return
        self.refresh()
        pixmap = self._previews.pixmap(record.path)
        if pixmap is not None:
            self._set_preview(pixmap)
        else:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("Loading...")

    def refresh(self) -> None:
        """Re-read the shown record (its caption or state changed). Text being typed wins."""
        record = self._record
        if record is None:
            return
        if not self._dirty and self.editor.toPlainText() != record.caption:
            self._set_text(record.caption)
        if not self.title_edit.isModified() and self.title_edit.text() != record.title:
            self.title_edit.setText(record.title)  # an undo, or titles read from the photos
        d = self.details
        d["name"].setText(record.name)
        d["state"].setText(f"{record.state.value} ({record.source_label})" if record.source else record.state.value)
        d["error"].setText(record.error if record.state is CaptionState.ERROR else "")
        d["model"].setText(f"{record.model} ({record.style})" if record.model and record.style else record.model)
        d["dimensions"].setText(f"{record.width} x {record.height}" if record.width else "")
        d["path"].setText(record.path)
        try:
            d["size"].setText(format_bytes(os.stat(record.path).st_size))
        except OSError:
            d["size"].setText("file not found")
        failure = self._previews.failure(record.path)
        if failure and record.state is not CaptionState.ERROR:
            d["error"].setText(failure)

    def set_known_tags(self, tags: list[str]) -> None:
        """The tags the editor completes (see CaptionEdit)."""
        self.editor.set_known_tags(tags)

    def commit(self) -> None:
        """Make the typed text the caption now, if anything was typed since the last commit."""
        send = self._record is not None and self._dirty
        self._dirty = False
        if send:
            self.caption_committed.emit(self._record.path, self.editor.toPlainText())

    def commit_title(self) -> None:
        """Make the typed title the record's, if one was typed since the last commit."""
        if self._record is not None and self.title_edit.isModified():
            self.title_edit.setModified(False)
            self.title_committed.emit(self._record.path, self.title_edit.text())

    def _on_commit_requested(self, step: int) -> None:
        self.commit()
        if step:
            self.step_requested.emit(step)

    def _on_cancel_requested(self) -> None:
        self._dirty = False
        if self._record is not None:
            self._set_text(self._record.caption)
            self.draft_changed.emit(self._record.path, self._record.caption)

    def _set_text(self, text: str) -> None:
        self._setting_text = True
        try:
            self.editor.setPlainText(text)
            self.editor.moveCursor(QTextCursor.MoveOperation.End)  # typing goes on from the end, as inline
        finally:
            self._setting_text = False

    def _on_text_changed(self) -> None:
        if self._setting_text or self._record is None:
            return
        self._dirty = True
        self.draft_changed.emit(self._record.path, self.editor.toPlainText())

    def _count(self) -> None:
        text, over = counter_text(self.editor.toPlainText())
        self.counter.setText(text)
        colour = warning_colour(self.palette()).name() if over else ""
        self.counter.setStyleSheet(f"color: {colour}" if colour else "")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # the warning colour follows the theme
            self._count()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.title_edit and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            self.title_edit.setText(self._record.title if self._record is not None else "")  # not modified now
            return True
        if (watched is self.editor and event.type() == QEvent.Type.FocusOut
                and event.reason() != Qt.FocusReason.PopupFocusReason):  # the tag completer's list
            self.commit()
        return super().eventFilter(watched, event)

    def _on_preview_ready(self, path: str, width: int, height: int) -> None:
        if self._record is not None and path == self._record.path:
            pixmap = self._previews.pixmap(path)
            if pixmap is not None:
                self._set_preview(pixmap)
            else:
                self.preview.setText(f"Cannot show this image:\n{self._previews.failure(path) or ''}")
            self.refresh()

    def _set_preview(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._scale_preview()

    def _scale_preview(self) -> None:
        if self._pixmap is None:
            return
        size = self.preview.size()
        scaled = self._pixmap
        if self._pixmap.width() > size.width() or self._pixmap.height() > size.height():
            scaled = self._pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.preview.setPixmap(scaled)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._scale_preview()
