"""The gallery: one QListView over the filter proxy, painted by GalleryDelegate.

Both layouts use QListView's list mode (the grid is list mode with wrapping): with uniform item
sizes its layout is arithmetic, where icon mode keeps a geometry per item, which matters at
100,000 rows.

Keys: arrows move, Page Up/Down by a screenful, Enter or F2 edits in place (see GalleryDelegate
for the editor's keys, including Ctrl+Enter to commit and edit the next image). Focus coming in
(Tab, or Down from the search box: `accept_focus_from`) keeps the current image or makes the
first visible one current, so arrows work at once.

Zoom: Ctrl+wheel (and the View menu's Ctrl+plus/minus, through zoom_in/zoom_out) steps the
thumbnail size through THUMBNAIL_SIZES; `thumbnail_size_changed` tells the window, which
remembers it and has the thumbnails decoded at a size that fits. A double-click on the picture
asks for the large preview (`preview_requested`); on the name or caption it edits, as F2 does.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractItemDelegate, QAbstractItemView, QListView, QWidget

from visioncap_desktop.settings import THUMBNAIL_SIZES
from visioncap_desktop.widgets.gallery_delegate import GalleryDelegate

VIEW_MODES = ("grid", "list")


class GalleryView(QListView):
    _focus_sources: tuple[QWidget, ...] = ()  # the class's: Qt calls eventFilter during __init__
    thumbnail_size_changed = Signal(int)
    preview_requested = Signal(QModelIndex)

    WHEEL_STEP = 120  # angle delta of one wheel notch; touchpads send smaller deltas that add up

    def __init__(self, parent=None):
        super().__init__(parent)
        self.delegate = GalleryDelegate(self)
        self._wheel_zoom = 0
        self.setItemDelegate(self.delegate)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.set_mode("grid")
        self.delegate.step_requested.connect(self._edit_step)

    @property
    def mode(self) -> str:
        return self.delegate.mode

    def set_mode(self, mode: str) -> None:
        if mode not in VIEW_MODES:
            raise ValueError(f"view mode must be one of {VIEW_MODES}, got {mode!r}")
        self.delegate.mode = mode
        grid = mode == "grid"
        self.setFlow(QListView.Flow.LeftToRight if grid else QListView.Flow.TopToBottom)
        self.setWrapping(grid)
        self.setSpacing(4 if grid else 0)
        self._relayout()

    def _relayout(self) -> None:
        # the cached uniform item size belongs to the old layout
        self.setUniformItemSizes(False)
        self.setUniformItemSizes(True)
        self.scheduleDelayedItemsLayout()
        if self.currentIndex().isValid():  # keep the current image in sight
            self.executeDelayedItemsLayout()
            self.scrollTo(self.currentIndex())

    # --- zoom ---------------------------------------------------------------------------------

    @property
    def thumbnail_size(self) -> int:
        return self.delegate.thumb_size

    def set_thumbnail_size(self, size: int) -> None:
        if size not in THUMBNAIL_SIZES:
            raise ValueError(f"thumbnail size must be one of {THUMBNAIL_SIZES}, got {size!r}")
        if size == self.delegate.thumb_size:
            return
        self.delegate.thumb_size = size
        self._relayout()
        self.thumbnail_size_changed.emit(size)

    def zoom(self, steps: int) -> None:
        """Bigger (steps > 0) or smaller thumbnails, by zoom steps; stops at either end."""
        position = THUMBNAIL_SIZES.index(self.delegate.thumb_size) + steps
        self.set_thumbnail_size(THUMBNAIL_SIZES[max(0, min(len(THUMBNAIL_SIZES) - 1, position))])

    def zoom_in(self) -> None:
        self.zoom(1)

    def zoom_out(self) -> None:
        self.zoom(-1)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)
            return
        self._wheel_zoom += event.angleDelta().y()
        steps = int(self._wheel_zoom / self.WHEEL_STEP)
        if steps:
            self._wheel_zoom -= steps * self.WHEEL_STEP
            self.zoom(steps)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and event.button() == Qt.MouseButton.LeftButton:
            picture = self.delegate.picture_rect(self.visualRect(index), self.font())
            if picture.contains(event.position().toPoint()):
                self.setCurrentIndex(index)
                self.preview_requested.emit(index)
                event.accept()
                return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter edits the current caption (F2 and double-click do so through edit triggers)."""
        editing = self.state() == QAbstractItemView.State.EditingState
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not editing and self.currentIndex().isValid():
            self.edit(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    # --- keyboard review --------------------------------------------------------------------------

    def set_known_tags(self, tags: list[str]) -> None:
        """The tags the inline editor completes (see CaptionEdit)."""
        self.delegate.set_known_tags(tags)

    def step_current(self, step: int) -> bool:
        """Make the image `step` rows on (in the view's order) current and selected; False at
        either end."""
        rows = self.model().rowCount() if self.model() is not None else 0
        current = self.currentIndex()
        row = current.row() + step if current.isValid() else (0 if step > 0 else rows - 1)
        if not 0 <= row < rows:
            return False
        index = self.model().index(row, 0)
        self.selectionModel().setCurrentIndex(index, self.selectionModel().SelectionFlag.ClearAndSelect)
        self.scrollTo(index)
        return True

    def commit_editor(self) -> None:
        """Commit and close the inline editor, if one is open."""
        editor = self.delegate.open_editor
        if editor is not None and self.state() == QAbstractItemView.State.EditingState:
            self.commitData(editor)
            self.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)

    def _edit_step(self, step: int) -> None:
        if self.step_current(step):
            self.edit(self.currentIndex())

    def accept_focus_from(self, widget: QWidget) -> None:
        """Down in `widget` (the search box) moves the focus to the gallery."""
        self._focus_sources = (*self._focus_sources, widget)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched in self._focus_sources and event.type() == QEvent.Type.KeyPress
                and event.key() == Qt.Key.Key_Down and event.modifiers() == Qt.KeyboardModifier.NoModifier):
            self.setFocus(Qt.FocusReason.OtherFocusReason)
            return True
        return super().eventFilter(watched, event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        if event.reason() != Qt.FocusReason.MouseFocusReason and not self.currentIndex().isValid():
            first = self._first_visible()
            if first.isValid():
                self.selectionModel().setCurrentIndex(first, self.selectionModel().SelectionFlag.ClearAndSelect)

    def _first_visible(self) -> QModelIndex:
        if self.model() is None or not self.model().rowCount():
            return QModelIndex()
        index = self.indexAt(QPoint(self.spacing() + 1, self.spacing() + 1))
        return index if index.isValid() else self.model().index(0, 0)

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        """Page Up/Down move by the rows that fit in the view, in the same column."""
        pages = {QAbstractItemView.CursorAction.MovePageDown: 1, QAbstractItemView.CursorAction.MovePageUp: -1}
        current = self.currentIndex()
        if action not in pages or not current.isValid():
            return super().moveCursor(action, modifiers)
        rows = self.model().rowCount()
        columns, row_height = self._grid_shape()
        page_rows = max(1, self.viewport().height() // max(1, row_height))
        row = current.row() + pages[action] * page_rows * columns
        return self.model().index(min(max(row, 0), rows - 1), 0)

    def _grid_shape(self) -> tuple[int, int]:
        """(images per line, pixels from one line to the next), from the laid-out items."""
        model = self.model()
        first = self.visualRect(model.index(0, 0))
        columns = 1
        while columns < model.rowCount() and self.visualRect(model.index(columns, 0)).top() == first.top():
            columns += 1
        if columns < model.rowCount():
            return columns, self.visualRect(model.index(columns, 0)).top() - first.top()
        return columns, first.height() + 2 * self.spacing()
