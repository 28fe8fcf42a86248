"""The large preview: one image at screen size, with zoom and next/previous.

A dialog over the gallery's (filtered, sorted) model: it walks the same rows the user sees and
reports the row it shows (`row_changed`) so the gallery's current item follows. Pictures come
from a ThumbnailLoader asked for about the screen's size: decoded off the GUI thread, through
core's reader for HEIC, AVIF and camera RAW like the thumbnails, a large photo at reduced scale.
"100%" is one pixel of the original photo per screen pixel, so a photo larger than the screen
shows the screen-size decode enlarged there.

Keys: Left/Right, Up/Down, Page Up/Page Down previous and next; Home/End first and last;
wheel or Ctrl+plus/minus zoom; F or Ctrl+0 fit; 1 or Ctrl+1 100%; Space or Esc close.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QPersistentModelIndex, QRectF, Qt, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from visioncap_desktop.gallery.item_model import ROLE_PATH, ROLE_RECORD
from visioncap_desktop.records import ImageRecord

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 16.0  # of the original photo's pixels
NAVIGATION = {
    Qt.Key.Key_Left: -1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageUp: -1, Qt.Key.Key_Backspace: -1,
    Qt.Key.Key_Right: 1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageDown: 1,
}


def preview_decode_size(widget: QWidget) -> int:
    """The decode size that fills the screen `widget` is on, in device pixels."""
    screen = widget.screen()
    size = screen.size() * screen.devicePixelRatio()
    return max(512, size.width(), size.height())


class ImageCanvas(QGraphicsView):
    """One pixmap, zoomed relative to the original photo's pixels; drag to pan."""

    zoom_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the dialog
        self.setBackgroundRole(QPalette.ColorRole.Dark)
        self.fitting = True
        self.zoom = 1.0  # shown pixels per original pixel
        self._decoded_scale = 1.0  # original pixels per decoded pixel

    def set_pixmap(self, pixmap: QPixmap | None, original_width: int) -> None:
        self.item.setPixmap(pixmap or QPixmap())
        if pixmap is not None and not pixmap.isNull():
            self._decoded_scale = (original_width or pixmap.width()) / pixmap.width()
            self.scene().setSceneRect(QRectF(pixmap.rect()))
        self.fit() if self.fitting else self.set_zoom(self.zoom)

    def has_picture(self) -> bool:
        return not self.item.pixmap().isNull()

    def set_zoom(self, zoom: float) -> None:
        self.fitting = False
        self.zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        scale = self.zoom * self._decoded_scale
        self.setTransform(self.transform().fromScale(scale, scale))
        self.zoom_changed.emit()

    def fit(self) -> None:
        """The whole picture as large as the window allows, never enlarged past 100% of the
        photo's pixels (a decoded pixel is `_decoded_scale` photo pixels: at 100% it is shown
        that many screen pixels wide)."""
        self.fitting = True
        pixmap = self.item.pixmap()
        if not pixmap.isNull():
            area = self.viewport().size()
            fit = min(area.width() / pixmap.width(), area.height() / pixmap.height())
            scale = min(fit, self._decoded_scale)
            self.setTransform(self.transform().fromScale(scale, scale))
            self.zoom = scale / self._decoded_scale
        self.zoom_changed.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.set_zoom(self.zoom * ZOOM_STEP ** steps)
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.fitting:
            self.fit()


class PreviewDialog(QDialog):
    row_changed = Signal(int)  # the row of the model now shown

    def __init__(self, model: QAbstractItemModel, loader, parent=None):
        """`loader`: a ThumbnailLoader decoding at about screen size (preview_decode_size)."""
        super().__init__(parent)
        self.setWindowTitle("Preview")
        self.setSizeGripEnabled(True)
        self._model = model
        self._loader = loader
        self._index = QPersistentModelIndex()
        self._dimensions: dict[str, tuple[int, int]] = {}
        loader.thumbnail_ready.connect(self._on_ready)

        self.canvas = ImageCanvas(self)
        self.canvas.zoom_changed.connect(self._show_zoom)
        self.status = QLabel(self)  # loading / the reason a picture cannot be shown
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.position = QLabel(self)
        self.zoom_label = QLabel(self)
        bar = QHBoxLayout()
        for text, slot in (("Previous", lambda: self.step(-1)), ("Next", lambda: self.step(1)),
                           ("Fit", self.canvas.fit), ("100%", lambda: self.canvas.set_zoom(1.0))):
            button = QPushButton(text, self)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setAutoDefault(False)
            button.clicked.connect(slot)
            bar.addWidget(button)
        bar.addWidget(self.zoom_label)
        bar.addStretch(1)
        bar.addWidget(self.position)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.caption)
        layout.addLayout(bar)

    # --- what the window calls ----------------------------------------------------------------

    def show_row(self, row: int) -> None:
        """Show the model's `row` (opening the dialog at most of the window's size)."""
        if not self.isVisible():
            parent = self.parentWidget()
            if parent is not None:
                self.resize(parent.size() * 0.9)
            self.canvas.fitting = True
            self.show()
        self._show(row)
        self.raise_()
        self.activateWindow()

    def current_row(self) -> int:
        return self._index.row() if self._index.isValid() else -1

    def step(self, delta: int) -> None:
        """Show the image `delta` rows away, stopping at the first and last."""
        rows = self._model.rowCount()
        if rows:
            self._show(max(0, min(rows - 1, self.current_row() + delta)))

    # --- showing --------------------------------------------------------------------------------

    def _show(self, row: int) -> None:
        if not 0 <= row < self._model.rowCount():
            return
        changed = row != self.current_row()
        self._index = QPersistentModelIndex(self._model.index(row, 0))
        record: ImageRecord = self._index.data(ROLE_RECORD)
        self.setWindowTitle(f"{record.name} - Preview")
        self.position.setText(f"{row + 1} of {self._model.rowCount()}")
        self.caption.setText(record.caption or "no caption yet")
        self._show_picture(record)
        for neighbour in (row + 1, row - 1):  # decoded while this one is looked at
            if 0 <= neighbour < self._model.rowCount():
                path = self._model.index(neighbour, 0).data(ROLE_PATH)
                if not self._loader.is_cached(path) and self._loader.failure(path) is None:
                    self._loader.request(path)
        if changed:
            self.row_changed.emit(row)

    def _show_picture(self, record: ImageRecord) -> None:
        pixmap = self._loader.pixmap(record.path)
        width = self._dimensions.get(record.path, (record.width, record.height))[0]
        self.canvas.set_pixmap(pixmap, width)
        failure = self._loader.failure(record.path)
        self.status.setText(failure or ("" if pixmap is not None else "Loading..."))
        self.status.setVisible(pixmap is None)

    def _on_ready(self, path: str, width: int, height: int) -> None:
        if width > 0 and height > 0:
            self._dimensions[path] = (width, height)
        if self.isVisible() and self._index.isValid() and self._index.data(ROLE_PATH) == path:
            self._show_picture(self._index.data(ROLE_RECORD))

    def _show_zoom(self) -> None:
        fit = " (fit)" if self.canvas.fitting else ""
        self.zoom_label.setText(f"{self.canvas.zoom:.0%}{fit}" if self.canvas.has_picture() else "")

    # --- keys ---------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, ctrl = event.key(), event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if key in NAVIGATION and not ctrl:
            self.step(NAVIGATION[key])
        elif key == Qt.Key.Key_Home:
            self._show(0)
        elif key == Qt.Key.Key_End:
            self._show(self._model.rowCount() - 1)
        elif event.matches(QKeySequence.StandardKey.ZoomIn) or (ctrl and key == Qt.Key.Key_Equal):
            self.canvas.set_zoom(self.canvas.zoom * ZOOM_STEP)
        elif event.matches(QKeySequence.StandardKey.ZoomOut):
            self.canvas.set_zoom(self.canvas.zoom / ZOOM_STEP)
        elif key == Qt.Key.Key_F or (ctrl and key == Qt.Key.Key_0):
            self.canvas.fit()
        elif key == Qt.Key.Key_1:
            self.canvas.set_zoom(1.0)
        elif key == Qt.Key.Key_Space:
            self.close()
        else:
            super().keyPressEvent(event)  # Esc closes
