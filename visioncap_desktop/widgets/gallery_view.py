"""The gallery: one QListView over the filter proxy, painted by GalleryDelegate.

Both layouts use QListView's list mode (the grid is list mode with wrapping): with uniform item
sizes its layout is arithmetic, where icon mode keeps a geometry per item, which matters at
100,000 rows.

Zoom: Ctrl+wheel (and the View menu's Ctrl+plus/minus, through zoom_in/zoom_out) steps the
thumbnail size through THUMBNAIL_SIZES; `thumbnail_size_changed` tells the window, which
remembers it and has the thumbnails decoded at a size that fits. A double-click on the picture
asks for the large preview (`preview_requested`); on the name or caption it edits, as F2 does.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QListView

from visioncap_desktop.settings import THUMBNAIL_SIZES
from visioncap_desktop.widgets.gallery_delegate import GalleryDelegate

VIEW_MODES = ("grid", "list")


class GalleryView(QListView):
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
