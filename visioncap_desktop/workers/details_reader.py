"""Reading photos' keywords and titles (core.metadata.photo_details) in a QThreadPool thread, for
Edit > Add keywords and titles from the photos.

The job reports `details_read({path: PhotoDetails})` in batches, `progress(done, total)` with
each, and `finished(cancelled)`; `cancel()` stops it after the photo being read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from PySide6.QtCore import QObject, QRunnable, Signal

from core.metadata.photo_details import PhotoDetails, read_details

BATCH_SECONDS = 0.25  # how often results go to the GUI thread


class DetailsSignals(QObject):
    details_read = Signal(object)  # {path: PhotoDetails}
    progress = Signal(int, int)  # photos done, total
    finished = Signal(bool)  # cancelled


class DetailsReadJob(QRunnable):
    def __init__(self, paths: Sequence[str]):
        super().__init__()
        self.setAutoDelete(False)  # the controller holds it until `finished`
        self.paths = list(paths)
        self.signals = DetailsSignals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        batch: dict[str, PhotoDetails] = {}
        sent = time.monotonic()
        for done, path in enumerate(self.paths, 1):
            if self._cancel.is_set():
                break
            batch[path] = read_details(path)
            if time.monotonic() - sent >= BATCH_SECONDS or done == len(self.paths):
                self.signals.details_read.emit(batch)
                self.signals.progress.emit(done, len(self.paths))
                batch, sent = {}, time.monotonic()
        if batch:
            self.signals.details_read.emit(batch)
        self.signals.finished.emit(self._cancel.is_set())
