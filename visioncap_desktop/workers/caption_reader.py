"""After a folder scan has listed the images, in the scanner's thread: fingerprint the files,
find captions that followed renamed photos or a moved folder, and read the captions already
beside or inside the photos.

    tables        -> table_failed(scan id, message)                     an import that cannot be read
                  -> problems_found(scan id, [Problem])                 its rows that name no image
    fingerprints  -> files_fingerprinted(scan id, {path: FileState})    in batches
    re-attaching  -> entries_moved(scan id, Moved)                      once, when anything moved
    reading       -> captions_found(scan id, {path: Findings})          in batches
                  -> progress(scan id, done, total)                     with each batch
                  -> watch_paths(scan id, [folder], [file])             folders with photos, caption files
                  -> reading_finished(scan id)

`recheck(scan id, folders)` (the folder watch, see FolderController) lists the caption files of
those folders again, compares them with the listing taken before the last read
(visioncap_desktop.watching) and reads the captions of the photos whose files changed, without
their embedded descriptions; it answers with captions_found and reading_finished too.

The worker decides nothing about the records: the GUI thread applies moved entries and
reconciles what was found with the captions it holds then (core.metadata.caption_io.reconcile), since
the user may edit or caption images while this runs.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.errors import MetadataError
from core.fingerprint import FileState, file_state
from core.metadata.caption_io import Findings, Table, find_captions, load_table
from visioncap_desktop.problems import unmatched_rows
from visioncap_desktop.reattach import (
    apply_reattachment,
    candidate_stores,
    find_moved_store,
    find_renames,
)
from visioncap_desktop.records import CaptionSnapshot, FileFacts
from visioncap_desktop.store import read_store_file
from visioncap_desktop.watching import FolderPhotos, Listing, caption_listing, changed_files

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.25  # how often results go to the GUI thread
UNMATCHED_LISTED = 1000  # rows of an imported table that name no image: listed one by one up to this


@dataclass(frozen=True)
class ReadRequest:
    folder: str
    items: Sequence[tuple[str, str, FileState | None]]  # (path, name, state when last fingerprinted)
    own: dict[str, str] = field(default_factory=dict)  # every name in the folder's store -> fingerprint or ""
    store_path: Path | None = None  # the folder's own store: excluded from the search for a moved one
    captions_dir: Path | None = None  # where other folders' stores are; None: no re-attaching
    tables: tuple[Table, ...] = ()  # tables already read
    read: bool = True  # read the captions beside and inside the photos
    table_paths: tuple[Path, ...] = ()  # a CSV or metadata.jsonl to import: read here, off the GUI thread
    watch: bool = False  # list the caption files first: what later rechecks compare with


@dataclass(frozen=True)
class Moved:
    renames: dict[str, str]  # new name -> old name, in the folder's own store
    attached: dict[str, tuple[CaptionSnapshot, FileFacts | None]]  # name here -> entry of another store
    message: str  # for the status bar; "" when only renames happened


def _unchanged_state(path: str, known: FileState | None) -> FileState | None:
    """`known` when the file's size and modification time still match it (one stat)."""
    if known is None or not known.fingerprint:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return known if (st.st_size, st.st_mtime_ns) == (known.size, known.mtime_ns) else None


class CaptionReader(QObject):
    """Lives in the scanner's QThread; `follow` is invoked through a queued signal."""

    files_fingerprinted = Signal(int, object)  # scan id, {path: FileState} of files read anew
    entries_moved = Signal(int, object)  # scan id, Moved
    captions_found = Signal(int, object)  # scan id, {path: Findings}
    progress = Signal(int, int, int)  # scan id, photos read, photos to read
    table_failed = Signal(int, str)  # scan id, why the table to import cannot be read
    problems_found = Signal(int, object)  # scan id, [Problem]
    watch_paths = Signal(int, object, object)  # scan id, [folder] with photos, [file] caption files listed
    reading_finished = Signal(int)  # scan id

    def __init__(self, parent=None):
        super().__init__(parent)
        self._wanted = 0  # written by the GUI thread
        # the folder watch's memory, this thread's own: caption files and photos per folder
        self._listings: dict[str, Listing] = {}
        self._photos: dict[str, FolderPhotos] = {}

    def supersede(self, scan_id: int) -> None:
        """Make `scan_id` the only one that may run (see FolderScanner.supersede)."""
        self._wanted = scan_id

    @Slot(int, object)
    def follow(self, scan_id: int, request: ReadRequest) -> None:
        if scan_id != self._wanted:
            return
        if request.table_paths:
            request = self._load_tables(scan_id, request)
            if request is None:
                self.reading_finished.emit(scan_id)
                return
        if request.watch:
            self._take_listings(scan_id, request)
        names = self._fingerprint(scan_id, request)
        if names is None:
            return
        moved = self._find_moved(names, request)
        if moved is not None:
            self.entries_moved.emit(scan_id, moved)
        if request.read and not self._read(scan_id, request):
            return
        self.reading_finished.emit(scan_id)

    def _load_tables(self, scan_id: int, request: ReadRequest) -> ReadRequest | None:
        """The request with its tables read (None, and table_failed, when one cannot be); the
        rows that name no photo of the folder are problems."""
        tables = list(request.tables)
        names = {name for _, name, _ in request.items}
        for path in request.table_paths:
            try:
                table = load_table(path, request.folder)
            except (MetadataError, OSError, ValueError) as exc:
                self.table_failed.emit(scan_id, str(exc))
                return None
            tables.append(table)
            unmatched = set(table.captions) - names
            if unmatched:
                self.problems_found.emit(scan_id, unmatched_rows(table.path, unmatched, UNMATCHED_LISTED))
        return replace(request, tables=tuple(tables), table_paths=())

    def _take_listings(self, scan_id: int, request: ReadRequest) -> None:
        """List the caption files of every folder with photos, before reading them: a file
        changed while it is read differs from this listing at the next recheck."""
        by_folder: dict[str, list[tuple[str, str]]] = {}
        for path, name, _ in request.items:
            by_folder.setdefault(os.path.dirname(path), []).append((path, name))
        self._photos = {folder: FolderPhotos(photos) for folder, photos in by_folder.items()}
        self._listings = {folder: caption_listing(folder) for folder in by_folder}
        self.watch_paths.emit(scan_id, sorted(by_folder), [os.path.join(folder, name) for folder, listing
                                                           in self._listings.items() for name in listing])

    @Slot(int, object)
    def recheck(self, scan_id: int, folders: Sequence[str]) -> None:
        """Read again the captions of photos in `folders` whose caption files changed."""
        if scan_id != self._wanted:
            return
        found: dict[str, Findings] = {}
        for folder in folders:
            photos = self._photos.get(folder)
            if photos is None:
                continue
            listing = caption_listing(folder)
            changed = changed_files(self._listings.get(folder, {}), listing)
            self._listings[folder] = listing
            for file in changed:
                for path, name in photos.owners(file):
                    if path not in found:
                        found[path] = find_captions(path, name, embedded=False)
            if changed:
                self.watch_paths.emit(scan_id, [], [os.path.join(folder, name) for name in changed])
        found = {path: f for path, f in found.items() if f.found or f.problems}
        if found:
            self.captions_found.emit(scan_id, found)
        self.reading_finished.emit(scan_id)

    def _fingerprint(self, scan_id: int, request: ReadRequest) -> dict[str, str] | None:
        """name -> fingerprint of every readable file; None when superseded."""
        names: dict[str, str] = {}
        batch: dict[str, FileState] = {}
        last = time.monotonic()
        for path, name, known in request.items:
            if scan_id != self._wanted:
                return None
            state = _unchanged_state(path, known)
            if state is None:
                try:
                    state = batch[path] = file_state(path)
                except OSError as exc:
                    log.info("not fingerprinting %s: %s", path, exc)
                    continue
            names[name] = state.fingerprint
            if batch and time.monotonic() - last >= BATCH_SECONDS:
                self.files_fingerprinted.emit(scan_id, batch)
                batch, last = {}, time.monotonic()
        if batch:
            self.files_fingerprinted.emit(scan_id, batch)
        return names

    def _find_moved(self, files: dict[str, str], request: ReadRequest) -> Moved | None:
        own_fps = {name: fp for name, fp in request.own.items() if fp}
        renames = find_renames(files, own_fps)
        attached: dict[str, tuple[CaptionSnapshot, FileFacts | None]] = {}
        message = ""
        if request.captions_dir is not None and request.captions_dir.is_dir():
            own = {**{n: fp for n, fp in request.own.items() if n not in renames.values()},
                   **{new: files[new] for new in renames}}
            reattachment = find_moved_store(files, own, candidate_stores(request.captions_dir, request.store_path or Path()))
            if reattachment is not None:
                try:
                    entries, facts = read_store_file(reattachment.store)
                except (OSError, ValueError) as exc:
                    log.warning("could not re-attach %s: %s", reattachment.store, exc)
                else:
                    pairs = {name: (entry, facts.get(name)) for name, entry in entries.items()}
                    attached = apply_reattachment({}, pairs, reattachment)
                    message = reattachment.message()
        if not renames and not attached:
            return None
        return Moved(renames, attached, message)

    def _read(self, scan_id: int, request: ReadRequest) -> bool:
        """False when superseded."""
        batch: dict[str, Findings] = {}
        last = time.monotonic()
        total = len(request.items)
        for done, (path, name, _) in enumerate(request.items, 1):
            if scan_id != self._wanted:
                return False
            findings = find_captions(path, name, request.tables)
            if findings.found or findings.problems:
                batch[path] = findings
            if time.monotonic() - last >= BATCH_SECONDS:
                if batch:
                    self.captions_found.emit(scan_id, batch)
                self.progress.emit(scan_id, done, total)
                batch, last = {}, time.monotonic()
        if batch:
            self.captions_found.emit(scan_id, batch)
        return True
