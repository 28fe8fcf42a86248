"""Scanning a folder for images in a worker thread, in batches the gallery can insert as they come.

A batch goes out every BATCH_FILES images or BATCH_SECONDS, whichever comes first, so the first
images show at once. Both limits grow with the number of images found (see `batch_limits`):
every insert makes the view lay out all rows again, so a 100,000-file folder arrives in a few
dozen batches rather than two hundred, and never blocks the window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.images.scan import ScanReport, scan_images
from visioncap_desktop.records import CaptionSnapshot, FileFacts, ImageRecord

log = logging.getLogger(__name__)

BATCH_FILES = 500
BATCH_SECONDS = 0.05
MAX_BATCH_SECONDS = 0.5


@dataclass(frozen=True)
class NameOrder:
    """Records sorted by name, with each path's row: what GalleryModel.adopt_order takes."""

    records: list[ImageRecord]
    rows: dict[str, int]

    @classmethod
    def of(cls, records: list[ImageRecord]) -> NameOrder:
        records = sorted(records, key=attrgetter("sort_key"))
        return cls(records, dict(zip(map(attrgetter("path"), records), range(len(records)))))


@dataclass(frozen=True)
class Stored:
    """A folder's caption store as the scan applies it to the records it builds."""

    entries: Mapping[str, CaptionSnapshot] = field(default_factory=dict)
    facts: Mapping[str, FileFacts] = field(default_factory=dict)


def batch_limits(found: int) -> tuple[int, float]:
    """(files, seconds) after which the next batch goes out, once `found` images are in."""
    return max(BATCH_FILES, found // 8), min(MAX_BATCH_SECONDS, BATCH_SECONDS + found / 200_000)


class FolderScanner(QObject):
    """Lives in a QThread; `scan` is invoked through a queued signal."""

    records_found = Signal(int, object)  # scan id, list[ImageRecord]
    # scan id, number of images, NameOrder of every record found (sorting 100,000 records
    # here spares the GUI thread that work), ScanReport of what was left out
    scan_finished = Signal(int, int, object, object)
    scan_failed = Signal(int, str)  # scan id, message for the user

    def __init__(self, parent=None):
        super().__init__(parent)
        self._wanted = 0  # the scan id that should run; written by the GUI thread

    def supersede(self, scan_id: int) -> None:
        """Make `scan_id` the only scan that may run: a running older scan stops at its next
        file. Safe to call from any thread (one int assignment)."""
        self._wanted = scan_id

    @Slot(int, str, bool, object)
    def scan(self, scan_id: int, folder: str, recursive: bool, stored: Stored) -> None:
        """Find the images under `folder`, building records with their stored captions applied."""
        if scan_id != self._wanted:
            return
        root = Path(folder)
        batch: list[ImageRecord] = []
        found: list[ImageRecord] = []
        count = 0
        last_emit = time.monotonic()
        max_files, max_seconds = batch_limits(0)
        report = ScanReport()
        try:
            if not root.is_dir():
                raise FileNotFoundError(f"{root}: the folder does not exist (any more)")
            for path, name in scan_images(root, recursive, report):
                if scan_id != self._wanted:
                    return
                record = ImageRecord(path, name)
                snapshot = stored.entries.get(name)
                if snapshot is not None:
                    record.apply(snapshot)
                    facts = stored.facts.get(name)
                    if facts is not None:
                        record.apply_facts(facts)
                batch.append(record)
                found.append(record)
                count += 1
                now = time.monotonic()
                if len(batch) >= max_files or now - last_emit >= max_seconds:
                    self.records_found.emit(scan_id, batch)
                    batch, last_emit = [], now
                    max_files, max_seconds = batch_limits(count)
        except OSError as exc:
            log.warning("scanning %s failed: %s", root, exc)
            if batch:
                self.records_found.emit(scan_id, batch)
            self.scan_failed.emit(scan_id, f"Could not read the folder {root}: {exc.strerror or exc}")
            return
        if batch:
            self.records_found.emit(scan_id, batch)
        self.scan_finished.emit(scan_id, count, NameOrder.of(found), report)
