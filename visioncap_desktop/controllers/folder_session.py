"""The open folder: opening it, scanning it in the background, its caption store (saved at most
SAVE_DELAY_MS after a change and on close), the watch for it disappearing, the recent folders.

Captions read from or written to the photos themselves (metadata, sidecar files) would load
and save here, beside the caption store.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QThread, QTimer, Signal

from core.images import scan_images
from visioncap_desktop.controllers.decisions import SUBFOLDER_COUNT_LIMIT, entries_to_save
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.gc_pauses import freeze_long_lived
from visioncap_desktop.records import CaptionSnapshot, ImageRecord
from visioncap_desktop.settings import Settings
from visioncap_desktop.store import CaptionStore
from visioncap_desktop.workers.folder_scanner import FolderScanner, NameOrder

SAVE_DELAY_MS = 500  # captions reach the disk at most this long after a change


def images_in_subfolders(folder: Path, limit: int = SUBFOLDER_COUNT_LIMIT) -> int:
    """How many images the subfolders of `folder` hold, counting up to `limit`."""
    try:
        return sum(1 for _ in islice(scan_images(folder, recursive=True), limit))
    except OSError:
        return 0


class FolderSession(QObject):
    # the open folder is about to be saved and closed: finish edits and runs now
    folder_closing = Signal()
    folder_opened = Signal(str)  # a folder is open and empty; its scan has started
    records_added = Signal()
    folder_loaded = Signal(str, int)  # folder, number of images: the scan has finished
    subfolder_images_found = Signal(int)  # the folder has no images, its subfolders this many
    scan_ended = Signal()  # finished or failed
    status = Signal(str, int)  # status bar text, milliseconds to show it (0: until replaced)
    message = Signal(object)  # Message
    scan_requested = Signal(int, str, bool, object)  # to the scanner, queued to its thread

    def __init__(self, gallery_model: GalleryModel, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self._model = gallery_model
        self._settings = settings
        self.folder: Path | None = None
        self.scanning = False
        self._store: CaptionStore | None = None
        self._stored: dict[str, CaptionSnapshot] = {}
        self._dirty = False
        self._last_save_error: str | None = None
        self._scan_id = 0
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self.watcher = QFileSystemWatcher(self)

        self.thread = QThread(self)
        self.thread.setObjectName("visioncap-scanner")
        self.scanner = FolderScanner()
        self.scanner.moveToThread(self.thread)
        self.thread.finished.connect(self.scanner.deleteLater)
        self.connect_signals()
        self.thread.start()

    def connect_signals(self) -> None:
        self.scan_requested.connect(self.scanner.scan)
        self.scanner.records_found.connect(self._on_records_found)
        self.scanner.scan_finished.connect(self._on_scan_finished)
        self.scanner.scan_failed.connect(self._on_scan_failed)
        self._model.records_changed.connect(self._schedule_save)
        self._save_timer.timeout.connect(self.save_now)
        self.watcher.directoryChanged.connect(self._on_directory_changed)

    @property
    def include_subfolders(self) -> bool:
        return self._settings.get("include_subfolders")

    def open(self, folder: str | Path, include_subfolders: bool | None = None) -> bool:
        """Show the images of `folder` with their saved captions; the scan fills the gallery
        in the background. False (and a message) if the folder cannot be opened."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            self.message.emit(Message("warning", "Cannot open folder",
                                      f"{folder} does not exist or is not a folder."))
            return False
        if include_subfolders is not None:
            self._settings.set("include_subfolders", include_subfolders)
        self.folder_closing.emit()
        self.save_now()

        folder = folder.resolve()
        store = CaptionStore(folder)
        loaded = store.load()
        if loaded.problem:
            self.message.emit(Message("warning", "Saved captions could not be read", loaded.problem))
        self.folder, self._store, self._stored = folder, store, loaded.entries
        self._dirty = False
        self._last_save_error = None
        self._model.clear()
        if self.watcher.directories():
            self.watcher.removePaths(self.watcher.directories())
        self.watcher.addPath(str(folder))
        self._settings.add_recent_folder(str(folder))

        self._scan_id += 1
        self.scanning = True
        self.scanner.supersede(self._scan_id)
        self.folder_opened.emit(str(folder))
        self.scan_requested.emit(self._scan_id, str(folder), self.include_subfolders, self._stored)
        self.status.emit(f"Scanning {folder}...", 0)
        return True

    def reload(self, include_subfolders: bool | None = None) -> None:
        """Scan the open folder again (with or without subfolders)."""
        if self.folder is not None:
            self.open(self.folder, include_subfolders)
        elif include_subfolders is not None:
            self._settings.set("include_subfolders", include_subfolders)

    def save_now(self) -> bool:
        """Write the folder's captions now if anything changed. False if saving failed."""
        self._save_timer.stop()
        if self._store is None or not self._dirty:
            return True
        try:
            self._store.save(entries_to_save(self._stored, self._model.records()))
        except OSError as exc:
            text = f"Could not save the captions to {self._store.path}: {exc.strerror or exc}"
            if text != self._last_save_error:  # say it once, not every half second
                self._last_save_error = text
                self.message.emit(Message("warning", "Captions not saved", text))
            return False
        self._dirty = False
        self._last_save_error = None
        return True

    def shutdown(self) -> None:
        """Stop the scanner and save."""
        self.scanner.supersede(-1)
        self.thread.quit()
        self.thread.wait()
        self.save_now()

    def _schedule_save(self) -> None:
        self._dirty = True
        # started once, not restarted: a long run saves every SAVE_DELAY_MS, not only at its end
        if not self._save_timer.isActive():
            self._save_timer.start()

    # --- the scanner's answers ------------------------------------------------------------------

    def _on_records_found(self, scan_id: int, records: list[ImageRecord]) -> None:
        if scan_id != self._scan_id:
            return
        self._model.add_records(records)
        self.status.emit(f"Scanning... {self._model.rowCount():,} images found", 0)
        self.records_added.emit()

    def _on_scan_finished(self, scan_id: int, count: int, order: NameOrder) -> None:
        if scan_id != self._scan_id:
            return
        self.scanning = False
        if not self._model.adopt_order(order.records, order.rows):
            self._model.sort_records()
        freeze_long_lived("folder scanned")  # the records live as long as the folder is open
        self.status.emit(f"{count:,} images in {self.folder}", 5000)
        self.scan_ended.emit()
        self.folder_loaded.emit(str(self.folder), count)
        if count == 0 and not self.include_subfolders:
            below = images_in_subfolders(self.folder)
            if below:
                self.subfolder_images_found.emit(below)

    def _on_scan_failed(self, scan_id: int, text: str) -> None:
        if scan_id != self._scan_id:
            return
        self.scanning = False
        self.scan_ended.emit()
        self.message.emit(Message("warning", "Cannot read folder", text))

    def _on_directory_changed(self, path: str) -> None:
        if self.folder is not None and Path(path) == self.folder and not self.folder.exists():
            self.watcher.removePath(path)
            self.message.emit(Message(
                "warning", "Folder not available",
                f"The folder {self.folder} has been moved, deleted or disconnected. Its captions "
                "are saved; open it again when it is back."))
