"""Writing captions out to files (XMP sidecars, embedded descriptions, .txt, metadata.jsonl) in
a QThreadPool thread, so the window stays responsive while 1,000 photos are written; or, with
`dry_run`, finding out what writing them would do (visioncap_desktop.export.dry_run).

The job gets a snapshot of core.metadata.caption_writes.WriteItems, calls core.metadata.caption_writes
.write_captions, and reports `progress(done, total)` and `finished(WriteReport)`; `cancel()`
stops it between images (what is written stays written). After a dry run, `exact` says whether
the report is core's own dry run or the app's plan of the files concerned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QObject, QRunnable, Signal

from core.metadata.caption_writes import (
    NOT_WRITTEN,
    WriteItem,
    WriteOptions,
    WriteReport,
    write_captions,
)
from visioncap_desktop.export import dry_run

log = logging.getLogger(__name__)


class WriteSignals(QObject):
    progress = Signal(int, int)  # images done, total
    finished = Signal(object)  # WriteReport


class CaptionWriteJob(QRunnable):
    def __init__(self, items: Sequence[WriteItem], options: WriteOptions, dry_run: bool = False):
        super().__init__()
        self.setAutoDelete(False)  # the controller holds it until `finished`
        self.items = list(items)
        self.options = options
        self.dry_run = dry_run
        self.exact = True
        self.signals = WriteSignals()
        self._cancelled = False

    def cancel(self) -> None:
        """Stop before the next image. Safe from any thread."""
        self._cancelled = True

    def run(self) -> None:
        total = len(self.items)
        kwargs = {"progress": lambda done: self.signals.progress.emit(done, total),
                  "cancelled": lambda: self._cancelled}
        try:
            if self.dry_run:
                report, self.exact = dry_run(self.items, self.options, **kwargs)
            else:
                report = write_captions(self.items, self.options, **kwargs)
        except Exception as exc:  # write_captions collects per-file failures; this is a bug
            log.exception("writing captions failed")
            report = WriteReport()
            if self.items:
                first = self.items[0].path
                report.add(first, self.options.ways[0], first, NOT_WRITTEN, f"{type(exc).__name__}: {exc}")
        self.signals.finished.emit(report)
