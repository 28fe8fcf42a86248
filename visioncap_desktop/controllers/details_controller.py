"""Edit > Add Keywords and Titles from Photos: the keywords a photo manager left in the photos
and their XMP sidecars become tags of the captions, and a photo's title fills an empty Title.

The photos are read in a thread (workers/details_reader.py); the change is then applied like a
batch edit, as one undo step. Only the captions change, in VisionCap: no photo is written. A
caption gains only the keywords it does not hold yet, and a title the user typed stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QThreadPool, Signal

from core.metadata.photo_details import PhotoDetails
from visioncap_desktop.gallery.batch_command import Change
from visioncap_desktop.problems import Problem
from visioncap_desktop.records import CaptionSnapshot, ImageRecord, edited_snapshot, titled_snapshot
from visioncap_desktop.tags import add_tags
from visioncap_desktop.workers.details_reader import DetailsReadJob

ACTION_TEXT = "Add keywords and titles from the photos"


def with_details(record: ImageRecord, details: PhotoDetails) -> CaptionSnapshot | None:
    """`record` with the photo's keywords added as tags and its title where it has none; None
    when nothing changes."""
    caption = add_tags(record.caption, details.keywords)
    title = record.title or details.title
    if caption != record.caption:
        return replace(edited_snapshot(record, caption), title=title)
    if title != record.title:
        return titled_snapshot(record, title)
    return None


class DetailsController(QObject):
    status = Signal(str, int)
    problems_found = Signal(object)  # [Problem]: photos or sidecars that could not be read
    busy_changed = Signal(bool)

    def __init__(self, change_records: Callable[[list[ImageRecord], Change, str], bool],
                 scope_records: Callable[[str], list[ImageRecord]], parent: QObject | None = None):
        """`change_records(records, change, text)`: applies a change as one undo step (the batch
        edit controller's); `scope_records("selected" | "all")`: the records of that scope."""
        super().__init__(parent)
        self._change_records = change_records
        self._scope_records = scope_records
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._job: DetailsReadJob | None = None
        self._finished_job: DetailsReadJob | None = None
        self._records: list[ImageRecord] = []
        self._found: dict[str, PhotoDetails] = {}

    @property
    def busy(self) -> bool:
        return self._job is not None

    def read_from_photos(self) -> bool:
        """Read the selected images' photos (all images when one or none is selected); False if
        a reading is already running or there is nothing to read."""
        if self._job is not None:
            return False
        selected = self._scope_records("selected")
        self._records = selected if len(selected) > 1 else self._scope_records("all")
        if not self._records:
            self.status.emit("Open a folder with images first.", 5000)
            return False
        self._found = {}
        self._job = job = DetailsReadJob([r.path for r in self._records])
        job.signals.details_read.connect(self._found.update)
        job.signals.progress.connect(
            lambda done, total: self.status.emit(f"Reading keywords and titles: {done:,} of {total:,} photos...", 0))
        job.signals.finished.connect(self._on_finished)
        self.busy_changed.emit(True)
        self._pool.start(job)
        return True

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def shutdown(self) -> None:
        """Stop a reading after its current photo and wait for it."""
        self.cancel()
        self._pool.waitForDone()

    def _on_finished(self, cancelled: bool) -> None:
        # held until the next reading: the pool's thread may still be returning from its run()
        self._finished_job, self._job = self._job, None
        self.busy_changed.emit(False)
        found, records = self._found, self._records
        self._found, self._records = {}, []
        problems = []
        for r in records:
            for problem in found[r.path].problems if r.path in found else ():
                file, _, reason = problem.partition(": ")  # core's errors start with the file they name
                problems.append(Problem("reading", "failed", r.name, reason, r.path, file))
        if problems:
            self.problems_found.emit(problems)
        if cancelled:
            self.status.emit("Reading keywords and titles cancelled; nothing changed.", 8000)
            return
        chosen = [r for r in records if r.path in found]
        self._change_records(chosen, lambda record: with_details(record, found[record.path]), ACTION_TEXT)
