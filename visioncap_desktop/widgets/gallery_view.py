"""The gallery: one QListView over the filter proxy, painted by GalleryDelegate.

Both layouts use QListView's list mode (the grid is list mode with wrapping): with uniform item
sizes its layout is arithmetic, where icon mode keeps a geometry per item, which matters at
100,000 rows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QListView

from visioncap_desktop.widgets.gallery_delegate import GalleryDelegate

VIEW_MODES = ("grid", "list")


class GalleryView(QListView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.delegate = GalleryDelegate(self)
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
        # the cached uniform item size belongs to the old layout
        self.setUniformItemSizes(False)
        self.setUniformItemSizes(True)
        self.scheduleDelayedItemsLayout()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter edits the current caption (F2 and double-click do so through edit triggers)."""
        editing = self.state() == QAbstractItemView.State.EditingState
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not editing and self.currentIndex().isValid():
            self.edit(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)
