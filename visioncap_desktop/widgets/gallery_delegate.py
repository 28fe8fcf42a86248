"""Painting and inline editing of one gallery item: thumbnail, file name, caption, state.

One delegate paints every visible row (never a widget per image). Two layouts: "grid" (tiles,
thumbnail above the text) and "list" (rows, thumbnail on the left).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QPixmap,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from visioncap_desktop.gallery.item_model import ROLE_RECORD
from visioncap_desktop.records import CaptionState, ImageRecord

GRID_SIZE = QSize(184, 226)
LIST_HEIGHT = 80
PADDING = 6
THUMB_GRID = 128
THUMB_LIST = 64

STATE_COLOURS = {
    CaptionState.PENDING: QColor(140, 140, 140),
    CaptionState.CAPTIONED: QColor(46, 139, 87),
    CaptionState.EDITED: QColor(52, 101, 164),
    CaptionState.ERROR: QColor(204, 0, 0),
}


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
    def __init__(self, parent=None):
        super().__init__(parent)
        self.mode = "grid"

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        if self.mode == "grid":
            return QSize(GRID_SIZE)
        return QSize(max(option.rect.width(), 400), LIST_HEIGHT)

    # --- geometry -----------------------------------------------------------------------------

    def _rects(self, rect: QRect, line_height: int) -> tuple[QRect, QRect, QRect]:
        """(thumbnail, name line, caption block) inside an item's rect."""
        inner = rect.adjusted(PADDING, PADDING, -PADDING, -PADDING)
        if self.mode == "grid":
            thumb = QRect(inner.left(), inner.top(), inner.width(), THUMB_GRID)
            name = QRect(inner.left(), thumb.bottom() + 4, inner.width(), line_height)
            caption = QRect(inner.left(), name.bottom() + 2, inner.width(), inner.bottom() - name.bottom() - 2)
        else:
            thumb = QRect(inner.left(), inner.top(), THUMB_LIST, inner.height())
            left = thumb.right() + 10
            name = QRect(left, inner.top(), inner.right() - left, line_height)
            caption = QRect(left, name.bottom() + 2, inner.right() - left, inner.bottom() - name.bottom() - 2)
        return thumb, name, caption

    # --- painting -----------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        record: ImageRecord | None = index.data(ROLE_RECORD)
        if record is None:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        painter.save()
        # selection and hover background, as the platform style draws it
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        metrics = QFontMetrics(option.font)
        thumb_rect, name_rect, caption_rect = self._rects(option.rect, metrics.height())

        self._paint_thumbnail(painter, thumb_rect, index.data(Qt.ItemDataRole.DecorationRole), option.palette)
        self._paint_state(painter, thumb_rect, record.state, option.font, record.source)

        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(option.palette.color(text_role))
        name = QFontMetrics(bold).elidedText(record.name, Qt.TextElideMode.ElideMiddle, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)

        painter.setFont(option.font)
        if record.state is CaptionState.ERROR and not record.caption:
            text = record.error or "error"
            painter.setPen(STATE_COLOURS[CaptionState.ERROR] if not selected else option.palette.color(text_role))
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
            size = pixmap.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            if size.width() > pixmap.width():  # never blow small images up
                size = pixmap.size()
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(rect.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
        else:  # not decoded yet, or unreadable
            side = min(rect.width(), rect.height()) - 8
            target = QRect(0, 0, side, side)
            target.moveCenter(rect.center())
            painter.fillRect(target, palette.color(QPalette.ColorRole.AlternateBase))

    def _paint_state(self, painter: QPainter, thumb: QRect, state: CaptionState, font: QFont,
                     source: str = "") -> None:
        small = QFont(font)
        small.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        metrics = QFontMetrics(small)
        label = source or state.value  # a caption read from a file says which kind
        badge = QRectF(0, 0, metrics.horizontalAdvance(label) + 10, metrics.height() + 2)
        if self.mode == "grid":
            badge.moveTopRight(QPointF(thumb.right() - 2, thumb.top() + 2))
        else:
            badge.moveBottomLeft(QRectF(thumb).bottomLeft())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(STATE_COLOURS[state])
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("white"))
        painter.setFont(small)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)

    # --- inline editing -------------------------------------------------------------------------

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QWidget:
        editor = QLineEdit(parent)
        editor.setPlaceholderText("Caption")
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        # The view calls this again on every dataChanged of the row (a thumbnail arriving, a run
        # result): never throw away what the user is typing.
        if not editor.isModified():
            editor.setText(index.data(Qt.ItemDataRole.EditRole) or "")

    def setModelData(self, editor: QWidget, model, index: QModelIndex | QPersistentModelIndex) -> None:
        if editor.text() != (index.data(Qt.ItemDataRole.EditRole) or ""):
            model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        _, _, caption_rect = self._rects(option.rect, QFontMetrics(option.font).height())
        height = editor.sizeHint().height()
        editor.setGeometry(QRect(caption_rect.left(), caption_rect.top(), caption_rect.width(), height))
