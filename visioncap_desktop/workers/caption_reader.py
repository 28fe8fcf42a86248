"""After a folder scan has listed the images, in the scanner's thread: fingerprint the files,
find captions that followed renamed photos or a moved folder, and read the captions already
beside or inside the photos.

    fingerprints  -> files_fingerprinted(scan id, {path: FileState})    in batches
    re-attaching  -> entries_moved(scan id, Moved)                      once, when anything moved
    reading       -> captions_found(scan id, {path: Findings})          in batches
                  -> reading_finished(scan id)

The worker decides nothing about the records: the GUI thread applies moved entries and
reconciles what was found with the captions it holds then (core.caption_io.reconcile), since
the user may edit or caption images while this runs.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.caption_io import Findings, Table, find_captions
from core.fingerprint import FileState, file_state
from visioncap_desktop.reattach import (
    apply_reattachment,
    candidate_stores,
    find_moved_store,
    find_renames,
)
from visioncap_desktop.records import CaptionSnapshot, FileFacts
from visioncap_desktop.store import read_store_file

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.25  # how often results go to the GUI thread


@dataclass(frozen=True)
class ReadRequest:
    folder: str
    items: Sequence[tuple[str, str, FileState | None]]  # (path, name, state when last fingerprinted)
    own: dict[str, str] = field(default_factory=dict)  # every name in the folder's store -> fingerprint or ""
    store_path: Path | None = None  # the folder's own store: excluded from the search for a moved one
    captions_dir: Path | None = None  # where other folders' stores are; None: no re-attaching
    tables: tuple[Table, ...] = ()  # an imported CSV or metadata.jsonl
    read: bool = True  # read the captions beside and inside the photos


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
    reading_finished = Signal(int)  # scan id

    def __init__(self, parent=None):
        super().__init__(parent)
        self._wanted = 0  # written by the GUI thread

    def supersede(self, scan_id: int) -> None:
        """Make `scan_id` the only one that may run (see FolderScanner.supersede)."""
        self._wanted = scan_id

    @Slot(int, object)
    def follow(self, scan_id: int, request: ReadRequest) -> None:
        if scan_id != self._wanted:
            return
        names = self._fingerprint(scan_id, request)
        if names is None:
            return
        moved = self._find_moved(names, request)
        if moved is not None:
            self.entries_moved.emit(scan_id, moved)
        if request.read and not self._read(scan_id, request):
            return
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
        for path, name, _ in request.items:
            if scan_id != self._wanted:
                return False
            findings = find_captions(path, name, request.tables)
            if findings.found or findings.problems:
                batch[path] = findings
            if batch and time.monotonic() - last >= BATCH_SECONDS:
                self.captions_found.emit(scan_id, batch)
                batch, last = {}, time.monotonic()
        if batch:
            self.captions_found.emit(scan_id, batch)
        return True
