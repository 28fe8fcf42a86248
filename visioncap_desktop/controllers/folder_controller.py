"""The open folder: opening it, scanning it in the background, its caption store (saved at most
SAVE_DELAY_MS after a change and on close), the watch on it, the recent folders.

After the scan has listed the images, the caption reader (same thread) fingerprints them,
re-attaches captions of renamed photos and moved folders (saved at once), and reads the captions
beside and inside the photos; what it finds is reconciled here with the captions held then
(visioncap_desktop.reading): captions taken from files are one undo step ("Read captions from
files"), each conflict and unreadable file a Problem (`problems_found`). Imports of a CSV or
metadata.jsonl go the same way, the table read in the reader's thread too. The folder watch
(visioncap_desktop.folder_watch) has the reader read again the captions of photos whose caption
files changed outside the app, under the same rule.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from itertools import islice
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from core.fingerprint import FileState
from core.images.reading import scan_images
from core.images.scan import ScanReport
from core.metadata.caption_io import Findings, source_key
from core.metadata.caption_writes import UNCHANGED, WRITTEN, WriteReport
from visioncap_desktop import paths
from visioncap_desktop.controllers.decisions import (
    SUBFOLDER_COUNT_LIMIT,
    entries_to_save,
    facts_to_save,
)
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.folder_watch import FolderWatch
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.gallery.undo_commands import CaptionRunCommand
from visioncap_desktop.gc_pauses import freeze_long_lived
from visioncap_desktop.problems import Problem, scan_problems
from visioncap_desktop.reading import apply_findings, reading_summary
from visioncap_desktop.records import CaptionSnapshot, CaptionState, FileFacts, ImageRecord
from visioncap_desktop.settings import Settings
from visioncap_desktop.store import CaptionStore
from visioncap_desktop.wording import plural
from visioncap_desktop.workers.caption_reader import CaptionReader, Moved, ReadRequest
from visioncap_desktop.workers.folder_scanner import FolderScanner, NameOrder, Stored

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 500  # captions reach the disk at most this long after a change
# the pass after the scan (fingerprints, reading captions in files) starts this long after it,
# so the first screen of thumbnails is decoded before it competes for the CPU
READ_DELAY_MS = 400


def images_in_subfolders(folder: Path, limit: int = SUBFOLDER_COUNT_LIMIT) -> int:
    """How many images the subfolders of `folder` hold, counting up to `limit`."""
    try:
        return sum(1 for _ in islice(scan_images(folder, recursive=True), limit))
    except OSError:
        return 0


class FolderController(QObject):
    # the open folder is about to be saved and closed: finish edits and runs now
    folder_closing = Signal()
    folder_opened = Signal(str)  # a folder is open and empty; its scan has started
    records_added = Signal()
    folder_loaded = Signal(str, int)  # folder, number of images: the scan has finished
    subfolder_images_found = Signal(int)  # the folder has no images, its subfolders this many
    scan_ended = Signal()  # finished or failed
    status = Signal(str, int)  # status bar text, milliseconds to show it (0: until replaced)
    status_tip = Signal(str)  # details of the last status line (what a scan left out)
    message = Signal(object)  # Message
    problems_found = Signal(object)  # [Problem] of the open folder
    scan_requested = Signal(int, str, bool, object)  # to the scanner, queued to its thread
    read_requested = Signal(int, object)  # to the caption reader: scan id, ReadRequest
    recheck_requested = Signal(int, object)  # to the caption reader: scan id, [folder] changed
    reading_ended = Signal()  # fingerprints, re-attaching and reading captions are done

    def __init__(self, gallery_model: GalleryModel, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self._model = gallery_model
        self._settings = settings
        self.folder: Path | None = None
        self.scanning = False
        self.scan_report = ScanReport()
        self._store: CaptionStore | None = None
        self._stored: dict[str, CaptionSnapshot] = {}
        self._facts: dict[str, FileFacts] = {}
        self._reads: deque[str] = deque()  # the stage ("reading", "importing") of each read asked for
        self._import_name = ""
        self._import: CaptionRunCommand | None = None  # captions taken from files, one undo step
        self._taken: dict[str, CaptionSnapshot] = {}
        self._conflicts = self._unreadable = 0
        self._changed_folders: set[str] = set()  # changed while a scan or read was going
        self._dirty = False
        self._last_save_error: str | None = None
        self._scan_id = 0
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self.watch = FolderWatch(self)

        self.thread = QThread(self)
        self.thread.setObjectName("visioncap-scanner")
        self.scanner = FolderScanner()
        self.scanner.moveToThread(self.thread)
        self.reader = CaptionReader()
        self.reader.moveToThread(self.thread)
        self.thread.finished.connect(self.scanner.deleteLater)
        self.thread.finished.connect(self.reader.deleteLater)
        self.connect_signals()
        self.thread.start()

    def connect_signals(self) -> None:
        self.scan_requested.connect(self.scanner.scan)
        self.scanner.records_found.connect(self._on_records_found)
        self.scanner.scan_finished.connect(self._on_scan_finished)
        self.scanner.scan_failed.connect(self._on_scan_failed)
        self.read_requested.connect(self.reader.follow)
        self.recheck_requested.connect(self.reader.recheck)
        self.reader.files_fingerprinted.connect(self._on_files_fingerprinted)
        self.reader.entries_moved.connect(self._on_entries_moved)
        self.reader.captions_found.connect(self._on_captions_found)
        self.reader.progress.connect(self._on_read_progress)
        self.reader.table_failed.connect(self._on_table_failed)
        self.reader.problems_found.connect(self._on_reader_problems)
        self.reader.watch_paths.connect(self._on_watch_paths)
        self.reader.reading_finished.connect(self._on_reading_finished)
        self._model.records_changed.connect(self._schedule_save)
        self._save_timer.timeout.connect(self.save_now)
        self.watch.folders_changed.connect(self._on_folders_changed)
        self.watch.folder_vanished.connect(self._on_folder_vanished)

    @property
    def include_subfolders(self) -> bool:
        return self._settings.get("include_subfolders")

    @property
    def reading(self) -> bool:
        """Captions in files are being read (after the scan, an import, a change outside the app)."""
        return bool(self._reads)

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
        self.folder, self._store, self._stored, self._facts = folder, store, loaded.entries, loaded.facts
        self._import, self._taken, self._conflicts, self._unreadable = None, {}, 0, 0
        self._reads.clear()
        self._changed_folders.clear()
        self._dirty = False
        self._last_save_error = None
        self._model.clear()
        self.watch.watch(folder)
        self._settings.add_recent_folder(str(folder))

        self._scan_id += 1
        self.scanning = True
        self.scanner.supersede(self._scan_id)
        self.reader.supersede(self._scan_id)
        self.folder_opened.emit(str(folder))
        if loaded.problem:  # after folder_opened, which clears the previous folder's problems
            self.problems_found.emit([Problem("reading", "failed", "", loaded.problem, "", str(store.path))])
        self.scan_requested.emit(self._scan_id, str(folder), self.include_subfolders,
                                 Stored(dict(self._stored), dict(self._facts)))
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
            records = self._model.records()
            self._store.save(entries_to_save(self._stored, records), facts_to_save(self._facts, records))
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
        """Stop the scanner and the watch, and save."""
        self.watch.stop()
        self.scanner.supersede(-1)
        self.reader.supersede(-1)
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
        self.status.emit(f"Scanning... {plural(self._model.rowCount(), 'image')} found", 0)
        self.records_added.emit()

    def _on_scan_finished(self, scan_id: int, count: int, order: NameOrder, report: ScanReport) -> None:
        if scan_id != self._scan_id:
            return
        self.scanning = False
        if not self._model.adopt_order(order.records, order.rows):
            self._model.sort_records()
        freeze_long_lived("folder scanned")  # the records live as long as the folder is open
        self._report_scan(count, report)
        self._reads.append("reading")  # a run asked for from here on waits for the captions in the files
        self.scan_ended.emit()
        self.folder_loaded.emit(str(self.folder), count)
        if count == 0 and not self.include_subfolders:
            below = images_in_subfolders(self.folder)
            if below:
                self.subfolder_images_found.emit(below)
        QTimer.singleShot(READ_DELAY_MS, self, lambda: self._start_reading(scan_id))

    def _report_scan(self, count: int, report: ScanReport) -> None:
        """The status line of a finished scan; what was left out stays shown, with the details
        in its tooltip and the log."""
        self.scan_report = report
        headline = report.headline()
        if not headline:
            self.status.emit(f"{plural(count, 'image')} in {self.folder}", 5000)
            return
        for entry in report.skipped:
            log.warning("left out %s: %s", entry.path, entry.reason)
        self.problems_found.emit(scan_problems(report))
        self.status.emit(f"{plural(count, 'image')} in {self.folder}; {headline} (see Problems)", 0)
        self.status_tip.emit("\n".join(report.lines()))

    # --- captions that follow their photos, and captions already beside them -------------------

    def _start_reading(self, scan_id: int) -> None:
        if scan_id == self._scan_id:
            self._request_reading(self._model.records(), "", reattach=True)

    def _request_reading(self, records: Iterable[ImageRecord], stage: str, reattach: bool = False,
                         table: Path | None = None) -> None:
        """Ask the reader for the captions of `records` ("" : the read after the scan, already
        counted in `_reads`)."""
        own = {name: "" for name in self._stored}
        own.update((name, f.fingerprint) for name, f in self._facts.items() if name in own)
        items = [(r.path, r.name, FileState(r.size, r.mtime_ns, r.fingerprint) if r.fingerprint else None)
                 for r in records]
        if stage:
            self._reads.append(stage)
        self.read_requested.emit(self._scan_id, ReadRequest(
            str(self.folder), items, own, self._store.path if self._store else None,
            paths.captions_dir() if reattach else None, table_paths=(table,) if table else (), watch=reattach))

    def import_table(self, path: str | Path) -> bool:
        """Read the captions of a CSV or metadata.jsonl for the open folder's images, in the
        reader's thread (a table of a million rows takes a while), under the conflict rule. A
        table that cannot be read gives a message when the reader says so. False if no folder
        is open."""
        if self.folder is None:
            return False
        self._import_name = Path(path).name
        self.status.emit(f"Importing captions from {self._import_name}...", 0)
        self._request_reading(self._model.records(), "importing", table=Path(path))
        return True

    def _on_reader_problems(self, scan_id: int, problems: list[Problem]) -> None:
        if scan_id == self._scan_id:
            self.problems_found.emit(problems)

    def _on_table_failed(self, scan_id: int, text: str) -> None:
        if scan_id == self._scan_id:
            self.message.emit(Message("warning", "Cannot import captions", text))

    def _on_read_progress(self, scan_id: int, done: int, total: int) -> None:
        if scan_id != self._scan_id or not self._reads:
            return
        if self._reads[0] == "importing":
            self.status.emit(f"Importing captions from {self._import_name}: {done:,} of {total:,} images...", 0)
        else:
            self.status.emit(f"Reading the captions in files: {done:,} of {total:,} images...", 0)

    def _on_files_fingerprinted(self, scan_id: int, states: dict[str, FileState]) -> None:
        if scan_id == self._scan_id:
            self._model.set_file_states(states)

    def _on_entries_moved(self, scan_id: int, moved: Moved) -> None:
        """Captions of renamed photos move to their new names; a moved folder's store is copied
        in. Both are saved at once; nothing is deleted."""
        if scan_id != self._scan_id or self.folder is None:
            return
        by_name = {r.name: r for r in self._model.records()}
        moving: dict[str, tuple[CaptionSnapshot, FileFacts | None]] = {}
        for new, old in moved.renames.items():
            if new in by_name and old in self._stored:
                moving[new] = (self._stored.pop(old), self._facts.pop(old, None))
        for name, entry in moved.attached.items():
            if name in by_name and by_name[name].state is CaptionState.PENDING:
                moving[name] = entry
        self._model.set_snapshots({by_name[name].path: snapshot for name, (snapshot, _) in moving.items()})
        for name, (_, facts) in moving.items():  # after the snapshots, which stamp changed_ns
            if facts is not None:
                record = by_name[name]
                record.changed_ns, record.seen, record.noted = facts.changed_ns, dict(facts.seen), dict(facts.noted)
        self._dirty = True
        self.save_now()
        text = moved.message or f"kept the captions of {plural(len(moved.renames), 'renamed image')}"
        log.info("%s: %s", self.folder, text)
        self.status.emit(text, 0)

    def _on_captions_found(self, scan_id: int, found: dict[str, Findings]) -> None:
        if scan_id != self._scan_id or self.folder is None:
            return
        stage = self._reads[0] if self._reads else "reading"
        outcome = apply_findings(found, self._model.record_for_path, self.folder, stage)
        for problem in outcome.problems:
            log.warning("%s: %s", problem.name or problem.file, problem.reason)
        self._conflicts += outcome.conflicts
        self._unreadable += outcome.unreadable
        if outcome.taken:
            if self._import is None:
                self._import = CaptionRunCommand(self._model)
            for path, snapshot in outcome.taken.items():
                before = self._model.record_for_path(path).snapshot()
                if self._model.set_snapshot(path, snapshot):
                    self._import.add(path, before, snapshot)
                    self._taken[path] = snapshot
        self._model.add_seen(outcome.seen)
        self._model.add_seen(outcome.noted, noted=True)
        if outcome.problems:
            self.problems_found.emit(outcome.problems)

    def _on_reading_finished(self, scan_id: int) -> None:
        if scan_id != self._scan_id:
            return
        if self._reads:
            self._reads.popleft()
        command, self._import = self._import, None
        if command is not None and len(command):
            command.finish(f"Read {plural(len(command), 'caption')} from files")
            if self._model.undo_stack is not None:
                self._model.undo_stack.push(command)
        summary = reading_summary(self._taken, self._conflicts, self._unreadable)
        if summary:
            self.status.emit(summary, 10000)
        self._taken, self._conflicts, self._unreadable = {}, 0, 0
        if not self._reads:
            self.reading_ended.emit()
            if self._changed_folders:  # changes outside the app while the files were read
                self._on_folders_changed(sorted(self._changed_folders))

    # --- the watch: caption files changed outside the app -----------------------------------------

    def _on_watch_paths(self, scan_id: int, folders: list[str], files: list[str]) -> None:
        if scan_id == self._scan_id:
            self.watch.add_folders(folders)
            self.watch.add_files(files)

    def _on_folders_changed(self, folders: list[str]) -> None:
        if self.folder is None:
            return
        if self.scanning or self.reading:  # the read going on may see part of it: look again after
            self._changed_folders.update(folders)
            return
        self._changed_folders.clear()
        self._reads.append("reading")
        self.recheck_requested.emit(self._scan_id, folders)

    def record_written(self, report: WriteReport, records: Iterable[ImageRecord]) -> None:
        """After captions were written out: the files just written (or found to hold the caption
        already) are seen in their present state, and an embedded photo has a new fingerprint,
        so neither comes back as changed."""
        if self.folder is None:
            return
        by_image: dict[Path, dict[str, FileState]] = {}
        for outcome in report.outcomes:
            if outcome.status in (WRITTEN, UNCHANGED) and outcome.target in report.states:
                by_image.setdefault(outcome.image, {})[source_key(outcome.target, self.folder)] = \
                    report.states[outcome.target]
        seen: dict[str, dict[str, FileState]] = {}
        photos: dict[str, FileState] = {}
        for record in records:
            image = Path(record.path)
            if image in report.states:
                photos[record.path] = report.states[image]
            if image in by_image:
                seen[record.path] = by_image[image]
        self._model.set_file_states(photos)
        self._model.add_seen(seen)

    def _on_scan_failed(self, scan_id: int, text: str) -> None:
        if scan_id != self._scan_id:
            return
        self.scanning = False
        self.scan_ended.emit()
        self.message.emit(Message("warning", "Cannot read folder", text))

    def _on_folder_vanished(self, path: str) -> None:
        if self.folder is not None and Path(path) == self.folder:
            self.message.emit(Message(
                "warning", "Folder not available",
                f"The folder {self.folder} has been moved, deleted or disconnected. Its captions "
                "are saved; open it again when it is back."))
