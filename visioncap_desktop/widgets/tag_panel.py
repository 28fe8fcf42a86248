"""The tag panel: the tags of comma-separated captions with the number of images holding each.

Click a tag (or Enter) to show only its images, again to show all; F2 renames a tag in every
caption, Delete removes it from every caption, and the context menu also moves it to the front
of every caption. Sentence captions are not listed (see visioncap_desktop.tags): the line under
the list says how many there are. The panel only shows and asks; TagController counts and
changes.
"""

from __future__ import annotations

import heapq
from collections import Counter
from operator import itemgetter

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from visioncap_desktop.tags import MAX_TAG_WORDS, alphabetical_key
from visioncap_desktop.wording import plural, verb

SCOPE_LABELS = {"all": "Whole folder", "filtered": "Images shown"}
MAX_LISTED = 1000
PANEL_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2, Qt.Key.Key_Delete, Qt.Key.Key_Backspace)


class TagPanel(QWidget):
    tag_chosen = Signal(str)  # filter the gallery by this tag ("": show all)
    scope_changed = Signal(str)  # "all" or "filtered"
    rename_requested = Signal(str, str)  # old, new
    delete_requested = Signal(str)
    front_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.active_tag = ""
        self.scope = QComboBox(self)
        for key, label in SCOPE_LABELS.items():
            self.scope.addItem(label, key)
        self.scope.currentIndexChanged.connect(lambda: self.scope_changed.emit(self.scope.currentData()))
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Find a tag")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._fill)
        self._counts: Counter[str] = Counter()
        self._sentences = 0

        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Tag", "Images"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        header = self.tree.header()  # the names get the width; the counts only what they need
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._show_menu)
        self.tree.itemClicked.connect(lambda item: self.choose(item.text(0)))
        self.tree.installEventFilter(self)

        self.active_label = QLabel(self)
        self.active_label.setWordWrap(True)
        self.clear_button = QPushButton("Show all", self)
        self.clear_button.clicked.connect(lambda: self.choose(""))
        active_row = QHBoxLayout()
        active_row.addWidget(self.active_label, 1)
        active_row.addWidget(self.clear_button)
        self.note = QLabel(self)
        self.note.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.scope)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addLayout(active_row)
        layout.addWidget(self.note)
        self._show_active()

    def set_counts(self, counts: Counter[str], sentences: int) -> None:
        """Show `counts` (tag -> images), keeping the current tag and the sort."""
        self._counts = counts
        self._sentences = sentences
        self._fill()

    def _fill(self) -> None:
        """The MAX_LISTED most used tags that contain the search text: a list widget of 100,000
        items would take seconds to fill, and nobody scrolls through it (the search finds the rest)."""
        counts, sentences = self._counts, self._sentences
        needle = self.search.text().casefold().strip()
        if needle:
            matching = [(tag, count) for tag, count in counts.items() if needle in tag.casefold()]
        else:
            matching = counts.items()
        shown = heapq.nlargest(MAX_LISTED, matching, key=itemgetter(1)) if len(matching) > MAX_LISTED else matching
        shown = sorted(shown, key=lambda item: (-item[1], alphabetical_key(item[0])))  # Qt's sort keeps ties so
        current = self.current_tag()
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        items = []
        for tag, count in shown:
            item = QTreeWidgetItem([tag])
            item.setData(1, Qt.ItemDataRole.DisplayRole, count)  # a number: sorted as one, in C++
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items.append(item)
        self.tree.addTopLevelItems(items)
        self.tree.setSortingEnabled(True)
        if current:
            self.select_tag(current)
        notes = []
        if len(matching) > MAX_LISTED:
            notes.append(f"The {MAX_LISTED:,} most used of {len(matching):,} tags are listed; "
                         "type in the box above to find the others.")
        if sentences:
            notes.append(f"{plural(sentences, 'caption')} without a tag of at most {MAX_TAG_WORDS} words "
                         f"(sentences) {verb(sentences, 'is')} not listed.")
        self.note.setText("\n".join(notes))
        self.note.setVisible(bool(notes))

    def tags(self) -> list[str]:
        """The tags listed, in the order shown."""
        return [self.tree.topLevelItem(i).text(0) for i in range(self.tree.topLevelItemCount())]

    def current_tag(self) -> str:
        item = self.tree.currentItem()
        return item.text(0) if item is not None else ""

    def select_tag(self, tag: str) -> bool:
        found = self.tree.findItems(tag, Qt.MatchFlag.MatchExactly, 0)
        if found:
            self.tree.setCurrentItem(found[0])
        return bool(found)

    def choose(self, tag: str) -> None:
        """Filter the gallery by `tag`; choosing the active tag again shows all images."""
        self.active_tag = "" if tag == self.active_tag else tag
        if self.active_tag:
            self.select_tag(self.active_tag)
        self._show_active()
        self.tag_chosen.emit(self.active_tag)

    def ask_new_name(self, tag: str) -> str | None:
        """The new name for `tag`, or None if the user cancelled (tests replace this)."""
        text, ok = QInputDialog.getText(self, "Rename tag", f"Rename “{tag}” in every caption to:", text=tag)
        return text if ok else None

    def rename(self, tag: str) -> None:
        new = self.ask_new_name(tag)
        if new is not None and new.strip() and new.strip() != tag:
            if self.active_tag == tag:
                self.active_tag = new.strip()
                self._show_active()
                self.tag_chosen.emit(self.active_tag)
            self.rename_requested.emit(tag, new.strip())

    def delete(self, tag: str) -> None:
        """Delete `tag` from every caption; a gallery filtered on it shows all images again
        rather than nothing."""
        if self.active_tag == tag:
            self.choose("")
        self.delete_requested.emit(tag)

    def eventFilter(self, watched, event) -> bool:
        if watched is not self.tree or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in PANEL_KEYS:
            event.accept()  # F2 here renames the tag, not the window's Edit Caption
            return True
        if event.type() == QEvent.Type.KeyPress:
            tag = self.current_tag()
            if tag and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.choose(tag)
                return True
            if tag and event.key() == Qt.Key.Key_F2:
                self.rename(tag)
                return True
            if tag and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.delete(tag)
                return True
        return super().eventFilter(watched, event)

    def _show_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        tag = item.text(0)
        menu = QMenu(self)
        menu.addAction("Show Images with This Tag", lambda: self.choose(tag) if self.active_tag != tag else None)
        menu.addAction("Rename in Every Caption...\tF2", lambda: self.rename(tag))
        menu.addAction("Move to the Front of Every Caption", lambda: self.front_requested.emit(tag))
        menu.addAction("Delete from Every Caption\tDel", lambda: self.delete(tag))
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _show_active(self) -> None:
        self.active_label.setText(f"Showing images tagged “{self.active_tag}”" if self.active_tag else "")
        self.active_label.setVisible(bool(self.active_tag))
        self.clear_button.setVisible(bool(self.active_tag))
