"""Painting and inline editing of one gallery item: thumbnail, file name, caption, state.

One delegate paints every visible row (never a widget per image). Two layouts: "grid" (tiles,
thumbnail above the text) and "list" (rows, thumbnail on the left).
"""

from __future__ import annotations

import re

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QPixmap,
    QTextCursor,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from visioncap_desktop.gallery.item_model import ROLE_PATH, ROLE_RECORD
from visioncap_desktop.records import CaptionState, ImageRecord
from visioncap_desktop.theme import is_dark
from visioncap_desktop.widgets.caption_edit import CaptionEdit, commit_step

PADDING = 6
THUMB_SIZE = 128  # the default thumbnail side (settings' thumbnail_size)
SMALL_IMAGE = 128  # pictures smaller than this (the smallest decode size) are never blown up
CAPTION_LINES = 3  # caption lines under a grid tile

STATE_COLOURS = {
    CaptionState.PENDING: QColor(140, 140, 140),
    CaptionState.CAPTIONED: QColor(46, 139, 87),
    CaptionState.EDITED: QColor(52, 101, 164),
    CaptionState.ERROR: QColor(204, 0, 0),
}
ERROR_TEXT = {False: QColor(204, 0, 0), True: QColor(255, 120, 120)}  # on a light / a dark base


def one_line(text: str) -> str:
    """`text` with its line breaks (any kind) and tabs as spaces: a name drawn on one line."""
    return " ".join(text.replace("\t", " ").splitlines())


_COUNTER = re.compile(r"\d{1,8}$")  # the number that tells photos of a series apart


def elide_name(name: str, metrics: QFontMetrics, width: int) -> str:
    """`name` in at most `width` pixels: whole when it fits, else cut at the end of its stem with
    the extension kept, and the stem's closing number too ("Bythesea_a…2020.jpg",
    "IMG_2024…0042.jpg"), so the tiles of a series stay told apart."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 5:
        return metrics.elidedText(name, Qt.TextElideMode.ElideRight, width)
    counter = _COUNTER.search(stem)
    for kept in ((counter.group() if counter and counter.start() > 0 else ""), ""):
        tail = f"\u2026{kept}.{extension}"
        room = width - metrics.horizontalAdvance(tail)
        if room >= metrics.horizontalAdvance(stem[:3]):
            break
    else:
        return metrics.elidedText(name, Qt.TextElideMode.ElideRight, width)
    body = stem[:len(stem) - len(kept)]
    low, high = 0, len(body)  # the longest start of the stem that fits
    while low < high:
        middle = (low + high + 1) // 2
        if metrics.horizontalAdvance(body[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    return body[:low].rstrip() + tail


def shown_name(name: str, mode: str) -> str:
    """What an item's name line shows: in the grid the file's own name (its folder is in the
    tooltip; "trip2024/" before every name would leave no room for the name), in the list the
    whole name relative to the opened folder. Line breaks in a name are drawn as spaces."""
    return one_line(name.rsplit("/", 1)[-1] if mode == "grid" else name)


def grid_cell_size(thumb: int, metrics: QFontMetrics) -> QSize:
    """A grid tile for thumbnails `thumb` pixels high: the picture, a name line, caption lines."""
    width = max(thumb, 96) + 44 + 2 * PADDING
    height = 2 * PADDING + thumb + 4 + metrics.height() + 2 + CAPTION_LINES * metrics.lineSpacing()
    return QSize(width, height)


def list_thumb_side(thumb: int) -> int:
    """List rows show the thumbnail at half the grid's size (64 px at the default 128)."""
    return max(40, thumb // 2)


def elide_lines(text: str, font: QFont, width: int, max_lines: int) -> list[str]:
    """Word-wrap `text` to `width` pixels, at most `max_lines` lines, the last one elided."""
    layout = QTextLayout(" ".join(text.split()), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    lines: list[str] = []
    full = layout.text()
    while len(lines) < max_lines:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        start, length = line.textStart(), line.textLength()
        if len(lines) == max_lines - 1:
            rest = full[start:]
            lines.append(QFontMetrics(font).elidedText(rest, Qt.TextElideMode.ElideRight, width))
            break
        lines.append(full[start : start + length].rstrip())
    layout.endLayout()
    return lines


class GalleryDelegate(QStyledItemDelegate):
    draft_changed = Signal(str, str)  # path, the text in the inline editor now (the caption after Esc)
    step_requested = Signal(int)  # +1/-1: the edit is committed, edit the next/previous image

    def __init__(self, parent=None):
        super().__init__(parent)
        self.mode = "grid"
        self.open_editor: CaptionEdit | None = None
        self._known_tags: list[str] = []
        self.thumb_size = THUMB_SIZE

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        if self.mode == "grid":
            return grid_cell_size(self.thumb_size, QFontMetrics(option.font))
        return QSize(max(option.rect.width(), 400), list_thumb_side(self.thumb_size) + 2 * PADDING + 4)

    # --- geometry -----------------------------------------------------------------------------

    def _rects(self, rect: QRect, line_height: int) -> tuple[QRect, QRect, QRect]:
        """(thumbnail, name line, caption block) inside an item's rect."""
        inner = rect.adjusted(PADDING, PADDING, -PADDING, -PADDING)
        if self.mode == "grid":
            thumb = QRect(inner.left(), inner.top(), inner.width(), self.thumb_size)
            name = QRect(inner.left(), thumb.bottom() + 4, inner.width(), line_height)
            caption = QRect(inner.left(), name.bottom() + 2, inner.width(), inner.bottom() - name.bottom() - 2)
        else:
            thumb = QRect(inner.left(), inner.top(), list_thumb_side(self.thumb_size), inner.height())
            left = thumb.right() + 10
            name = QRect(left, inner.top(), inner.right() - left, line_height)
            caption = QRect(left, name.bottom() + 2, inner.right() - left, inner.bottom() - name.bottom() - 2)
        return thumb, name, caption

    def picture_rect(self, item_rect: QRect, font: QFont) -> QRect:
        """Where the thumbnail goes inside an item's rect (the view's double-click asks)."""
        return self._rects(item_rect, QFontMetrics(font).height())[0]

    # --- painting -----------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        record: ImageRecord | None = index.data(ROLE_RECORD)
        if record is None:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        painter.save()
        painter.setClipRect(option.rect)
        # selection and hover background, as the platform style draws it
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        metrics = QFontMetrics(option.font)
        thumb_rect, name_rect, caption_rect = self._rects(option.rect, metrics.height())

        self._paint_thumbnail(painter, thumb_rect, index.data(Qt.ItemDataRole.DecorationRole), option.palette)
        # the state badge ends the name line: never over the picture, whatever its shape
        outline = option.palette.color(text_role) if selected else None  # the edited blue is close to the highlight
        badge = self._paint_state(painter, name_rect, record.state, option.font, record.source, outline)
        name_rect.setRight(int(badge.left()) - 6)

        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(option.palette.color(text_role))
        name = elide_name(shown_name(record.name, self.mode), QFontMetrics(bold), name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
                         | Qt.TextFlag.TextSingleLine, name)

        painter.setFont(option.font)
        if record.state is CaptionState.ERROR and not record.caption:
            text = record.error or "error"
            error_colour = ERROR_TEXT[is_dark(option.palette)]
            painter.setPen(error_colour if not selected else option.palette.color(text_role))
        elif not record.caption:
            text = "no caption yet"
            muted = option.palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            painter.setPen(option.palette.color(text_role) if selected else muted)
        else:
            text = record.caption
            painter.setPen(option.palette.color(text_role))
        max_lines = max(1, caption_rect.height() // metrics.lineSpacing())
        y = caption_rect.top()
        for line in elide_lines(text, option.font, caption_rect.width(), max_lines):
            painter.drawText(QRect(caption_rect.left(), y, caption_rect.width(), metrics.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, line)
            y += metrics.lineSpacing()
        painter.restore()

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, pixmap, palette: QPalette) -> None:
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            # fit inside the square the thumbnail size allows, keeping the aspect ratio; a picture
            # decoded larger (a zoom step between decode sizes) is scaled down here
            side = min(rect.width(), rect.height())
            size = pixmap.size().scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio)
            if size.width() > pixmap.width() and max(pixmap.width(), pixmap.height()) < SMALL_IMAGE:
                size = pixmap.size()  # never blow small images up
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(rect.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
        else:  # not decoded yet, or unreadable
            side = min(rect.width(), rect.height()) - 8
            target = QRect(0, 0, side, side)
            target.moveCenter(rect.center())
            painter.fillRect(target, palette.color(QPalette.ColorRole.AlternateBase))

    def _paint_state(self, painter: QPainter, line: QRect, state: CaptionState, font: QFont,
                     source: str = "", outline: QColor | None = None) -> QRectF:
        """Draw the state badge at the right end of `line`, ringed in `outline` when given (on a
        selected item); returns where it went."""
        small = QFont(font)
        small.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        metrics = QFontMetrics(small)
        label = source or state.value  # a caption read from a file says which kind
        badge = QRectF(0, 0, metrics.horizontalAdvance(label) + 10, min(metrics.height() + 2, line.height()))
        badge.moveCenter(QRectF(line).center())
        badge.moveRight(line.right())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(outline if outline is not None else Qt.PenStyle.NoPen)
        painter.setBrush(STATE_COLOURS[state])
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("white"))
        painter.setFont(small)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()
        return badge

    # --- inline editing -------------------------------------------------------------------------
    # The inline editor is a CaptionEdit over the caption, as wide as the caption and as tall as
    # its text (wrapped; it grows while typing, up to the bottom of the view). Enter commits,
    # Ctrl+Enter and Alt+Down commit and edit the next image, Ctrl+Shift+Enter and Alt+Up the
    # previous one (`step_requested`), Esc cancels; what is typed is reported as a draft.

    def set_known_tags(self, tags: list[str]) -> None:
        """The tags inline editors complete (the open one too)."""
        self._known_tags = list(tags)
        if self.open_editor is not None:
            self.open_editor.set_known_tags(self._known_tags)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QWidget:
        editor = CaptionEdit(parent)
        editor.setLineWrapMode(CaptionEdit.LineWrapMode.WidgetWidth)
        editor.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        editor.set_known_tags(self._known_tags)
        path = index.data(ROLE_PATH)
        editor.setProperty("path", path)
        editor.textChanged.connect(lambda: self._on_editor_text_changed(editor, path))
        editor.destroyed.connect(lambda: self._forget_editor(editor))
        self.open_editor = editor
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        # The view calls this again on every dataChanged of the row (a thumbnail arriving, a run
        # result): never throw away what the user is typing.
        if not editor.document().isModified():
            editor.setProperty("caption", index.data(Qt.ItemDataRole.EditRole) or "")
            editor.setPlainText(editor.property("caption"))
            editor.document().setModified(False)
            editor.moveCursor(QTextCursor.MoveOperation.End)

    def setModelData(self, editor: QWidget, model, index: QModelIndex | QPersistentModelIndex) -> None:
        if editor.toPlainText() != (index.data(Qt.ItemDataRole.EditRole) or ""):
            model.setData(index, editor.toPlainText(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        _, _, caption_rect = self._rects(option.rect, QFontMetrics(option.font).height())
        editor.setProperty("anchor", QRect(caption_rect.left(), caption_rect.top(), caption_rect.width(),
                                           max(caption_rect.height(), 2 * QFontMetrics(option.font).lineSpacing())))
        self._fit_editor(editor)

    def eventFilter(self, editor: QObject, event: QEvent) -> bool:
        if isinstance(editor, CaptionEdit) and event.type() == QEvent.Type.KeyPress:
            if editor.completer().popup().isVisible():
                return False  # the completer's list takes Enter and Esc
            step = commit_step(event)
            if step is not None:
                self.commitData.emit(editor)
                self.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.NoHint)
                if step:
                    self.step_requested.emit(step)
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.draft_changed.emit(editor.property("path"), editor.property("caption"))  # no draft
        if isinstance(editor, CaptionEdit) and event.type() == QEvent.Type.FocusOut \
                and event.reason() == Qt.FocusReason.PopupFocusReason:
            return False
        return super().eventFilter(editor, event)

    def _on_editor_text_changed(self, editor: CaptionEdit, path: str) -> None:
        if editor.document().isModified():
            self.draft_changed.emit(path, editor.toPlainText())
        self._fit_editor(editor)

    def _fit_editor(self, editor: CaptionEdit) -> None:
        """As tall as the wrapped text, at least the caption's rect, at most down to the view's
        bottom edge."""
        anchor = editor.property("anchor")
        if not isinstance(anchor, QRect):
            return
        chrome = 2 * (editor.frameWidth() + int(editor.document().documentMargin())) + 2
        width = anchor.width() - chrome
        text = editor.toPlainText() or " "
        text_height = editor.fontMetrics().boundingRect(
            QRect(0, 0, max(width, 1), 1 << 20), int(Qt.TextFlag.TextWordWrap), text + ("x" if text.endswith("\n") else "")
        ).height()
        bottom = editor.parentWidget().height() if editor.parentWidget() is not None else anchor.bottom()
        height = max(anchor.height(), min(text_height + chrome, bottom - anchor.top()))
        editor.setGeometry(QRect(anchor.left(), anchor.top(), anchor.width(), height))

    def _forget_editor(self, editor: QObject) -> None:
        if self.open_editor is editor:
            self.open_editor = None
