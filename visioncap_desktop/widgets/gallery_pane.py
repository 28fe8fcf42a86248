"""The window's left column: the search box, the state filter and the sort above the gallery,
the hint shown while no folder is open, and the line that says why a filter shows nothing.

The pane applies its own boxes to the filter proxy and the item model (the search
SEARCH_DELAY_MS after the last keystroke: filtering 100,000 rows per keystroke would make
typing lag); the window owns the models and the tag filter, which lives in the Tags panel.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from visioncap_desktop.controllers.decisions import empty_filter_text
from visioncap_desktop.gallery.filter_proxy import GalleryFilterProxy
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.widgets.gallery_view import GalleryView

SEARCH_DELAY_MS = 200
STATE_FILTER_LABELS = {"all": "All images", "uncaptioned": "Without caption", "edited": "Edited", "errors": "Errors"}
SORT_LABELS = {"name": "Name A-Z", "name_desc": "Name Z-A", "state": "State", "caption": "Caption"}


class GalleryPane(QWidget):
    def __init__(self, proxy_model: GalleryFilterProxy, gallery_model: GalleryModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._proxy = proxy_model
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search names and captions (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.filter_combo = QComboBox(self)
        for key, label in STATE_FILTER_LABELS.items():
            self.filter_combo.addItem(label, key)
        self.sort_combo = QComboBox(self)
        for key, label in SORT_LABELS.items():
            self.sort_combo.addItem(f"Sort: {label}", key)
        filter_bar = QHBoxLayout()
        filter_bar.setContentsMargins(0, 0, 0, 0)
        filter_bar.addWidget(self.search_edit, 1)
        filter_bar.addWidget(self.filter_combo)
        filter_bar.addWidget(self.sort_combo)

        self.gallery_view = GalleryView(self)
        self.gallery_view.setModel(proxy_model)
        self.gallery_view.accept_focus_from(self.search_edit)
        self.empty_hint = QLabel(
            "Open a folder of photos (Ctrl+O) or drop one here.\n"
            "VisionCap writes a caption for each; correct them and export a CSV.", self)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.filter_hint = QLabel(self)  # the filters show nothing: says why
        self.filter_hint.setWordWrap(True)
        self.filter_hint.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 0, 6)
        layout.addLayout(filter_bar)
        layout.addWidget(self.empty_hint, 1)
        layout.addWidget(self.filter_hint)
        layout.addWidget(self.gallery_view, 1)

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self.search_edit.textChanged.connect(self._search_timer.start)
        self._search_timer.timeout.connect(lambda: proxy_model.set_search_text(self.search_edit.text()))
        self.filter_combo.currentIndexChanged.connect(
            lambda: proxy_model.set_state_filter(self.filter_combo.currentData()))
        self.sort_combo.currentIndexChanged.connect(lambda: gallery_model.sort_records(self.sort_combo.currentData()))

    def clear_filters(self) -> None:
        """No search and every state (the tag filter is the Tags panel's)."""
        self._search_timer.stop()
        self.search_edit.clear()
        self._proxy.set_search_text("")
        self.filter_combo.setCurrentIndex(0)

    def show_counts(self, total: int, scanning: bool) -> None:
        """The welcome hint without images, the filter hint when the filters leave none."""
        self.empty_hint.setVisible(total == 0 and not scanning)
        self.gallery_view.setVisible(total > 0 or scanning)
        nothing_shown = total > 0 and self._proxy.rowCount() == 0 and not scanning
        self.filter_hint.setText(empty_filter_text(self._proxy.search_text, self.filter_combo.currentText(),
                                                   self._proxy.tag) if nothing_shown else "")
        self.filter_hint.setVisible(nothing_shown)
