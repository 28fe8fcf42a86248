"""Exports the user asks for: a CSV of captions, and captions written where other tools read
them (XMP sidecars, the photos themselves, .txt files beside them, metadata.jsonl).

Writing out starts with a dialog (dialogs/write_dialog.py): which images (the selection, those
the filter shows, or all), whether captions someone else wrote may be replaced, and a dry run
listing every file and what writing would do to it. The writing (or the dry run) runs in a
worker thread (core.metadata.caption_writes, through workers/caption_writer.py) with a progress dialog:
count, time left, Cancel. Files kept, not written or given a sidecar instead become Problems.
The window gives this controller `scope_records(scope)` rather than itself; the CSV export is
plain Python in visioncap_desktop.export.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QFileDialog

from core.metadata.caption_writes import WriteOptions, WriteReport
from core.metadata.sidecars import txt_path
from visioncap_desktop import export
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.dialogs.export_dialog import ExportDialog
from visioncap_desktop.dialogs.prompts import Prompts
from visioncap_desktop.dialogs.write_dialog import TITLES, WriteOutDialog
from visioncap_desktop.problems import write_problems
from visioncap_desktop.records import ImageRecord
from visioncap_desktop.settings import Settings
from visioncap_desktop.widgets.write_progress import WriteProgressDialog
from visioncap_desktop.wording import plural
from visioncap_desktop.workers.caption_writer import CaptionWriteJob

WAY_NAMES = {"xmp": "XMP sidecars", "embed": "captions into the photos", "txt": ".txt files",
             "jsonl": "metadata.jsonl"}
WRITE_SCOPES = ("selected", "filtered", "all")


class ExportController(QObject):
    status = Signal(str, int)  # status bar text, milliseconds to show it
    message = Signal(object)  # Message
    problems_found = Signal(object)  # [Problem]: files kept, not written, a sidecar instead
    files_written = Signal(object, object)  # WriteReport, the records written
    writing_changed = Signal(bool)  # a write job started (True) or ended
    typing_to_finish = Signal()  # editors: commit what is typed (it is part of what is written)
    import_requested = Signal(str)  # a CSV or metadata.jsonl the user chose to import

    def __init__(self, settings: Settings, prompts: Prompts, scope_records: Callable[[str], list[ImageRecord]],
                 parent: QObject | None = None):
        """`scope_records("selected" | "filtered" | "all")`: the records of that scope."""
        super().__init__(parent)
        self._settings = settings
        self._prompts = prompts
        self._scope_records = scope_records
        self.clock: Callable[[], float] = time.monotonic  # the progress dialog's (tests pass their own)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._job: CaptionWriteJob | None = None
        self._finished_job: CaptionWriteJob | None = None
        self._job_way = ""
        self._job_records: list[ImageRecord] = []
        self._job_done = 0
        self._job_cancelled = False
        self.write_dialog: WriteOutDialog | None = None
        self.progress_dialog: WriteProgressDialog | None = None

    @property
    def writing(self) -> bool:
        return self._job is not None

    # --- the dialog ---------------------------------------------------------------------------

    def open_write_dialog(self, way: str, folder: Path | None) -> WriteOutDialog | None:
        """Ask which captions to write `way` ("xmp", "embed", "txt", "jsonl"), with a dry run;
        the dialog starts the writing. None (and a status line) when nothing can be written."""
        if self._job is not None:
            self.status.emit("Captions are being written; wait for that to finish.", 5000)
            return None
        self.typing_to_finish.emit()
        scopes = {scope: self._scope_records(scope) for scope in WRITE_SCOPES}
        sizes = {scope: (len(records), sum(1 for r in records if r.caption.strip())) for scope, records in scopes.items()}
        if not sizes["all"][1]:
            self.status.emit("No captions to write.", 5000)
            return None
        existing: dict[str, int] = {}
        if way == "txt":
            there = {str(p) for p in export.existing_txt_files(scopes["all"])}
            existing = {scope: sum(1 for r in records if r.caption and str(txt_path(r.path)) in there)
                        for scope, records in scopes.items()}
        dialog = WriteOutDialog(way, sizes, existing, self._settings.get("embed_keep_mtime"), self._prompts.parent)
        dialog.write_requested.connect(lambda: self._write_from(dialog, folder))
        dialog.dry_run_requested.connect(lambda: self._dry_run_from(dialog, folder))
        dialog.finished.connect(lambda: self._forget_dialog(dialog))
        self.write_dialog = dialog
        dialog.open()
        return dialog

    def _write_from(self, dialog: WriteOutDialog, folder: Path | None) -> None:
        if dialog.way == "embed":  # only embedding changes the photos' modification times
            self._settings.set("embed_keep_mtime", dialog.keep_mtime())
        records = self._scope_records(dialog.scope())
        if self.write_files(dialog.way, records, folder, existing=dialog.existing(), keep_mtime=dialog.keep_mtime(),
                            keywords=dialog.keywords()):
            dialog.accept()

    def _dry_run_from(self, dialog: WriteOutDialog, folder: Path | None) -> None:
        records = self._scope_records(dialog.scope())
        job = self._start(dialog.way, records, folder, dialog.existing(), dialog.keep_mtime(), dry_run=True,
                          keywords=dialog.keywords())
        if job is not None:
            dialog.set_busy(f"Checking {plural(len(self._job_records), 'image')}...")

    def _forget_dialog(self, dialog: WriteOutDialog) -> None:
        if self.write_dialog is dialog:
            self.write_dialog = None
        dialog.deleteLater()

    # --- writing ------------------------------------------------------------------------------

    def write_files(self, way: str, records: list[ImageRecord], folder: Path | None = None, *,
                    existing: str = "keep", keep_mtime: bool | None = None,
                    keywords: bool = False) -> CaptionWriteJob | None:
        """Write the captions of `records` one `way` in a worker thread, without asking (the
        dialog has asked). A file that holds a caption VisionCap has not seen (a person or
        another program wrote it) keeps it unless `existing` is "replace", and is reported.
        Returns the job, or None if nothing was started."""
        job = self._start(way, records, folder, existing, keep_mtime, dry_run=False, keywords=keywords)
        if job is not None:
            progress = WriteProgressDialog(TITLES[way], len(self._job_records), self._prompts.parent, self.clock)
            progress.cancel_requested.connect(self.cancel_writing)
            job.signals.progress.connect(progress.set_progress)
            self.progress_dialog = progress
            progress.show()
            self.status.emit(f"Writing {WAY_NAMES[way]} for {plural(len(self._job_records), 'image')}...", 0)
        return job

    def _start(self, way: str, records: list[ImageRecord], folder: Path | None, existing: str,
               keep_mtime: bool | None, dry_run: bool, keywords: bool = False) -> CaptionWriteJob | None:
        records = [r for r in records if r.caption.strip()]
        if self._job is not None:
            self.status.emit("Captions are being written; wait for that to finish.", 5000)
            return None
        if not records:
            self.status.emit("No captions to write.", 5000)
            return None
        keep = self._settings.get("embed_keep_mtime") if keep_mtime is None else keep_mtime
        options = WriteOptions((way,), self._settings.get("sidecar_naming"), keep_mtime=keep, existing=existing)
        job = CaptionWriteJob(export.write_items(records, folder, keywords), options, dry_run=dry_run)
        # bound methods of this GUI-thread object: queued from the pool's thread
        job.signals.progress.connect(self._on_write_progress)
        job.signals.finished.connect(self._on_dry_run if dry_run else self._on_written)
        self._job, self._job_way, self._job_records = job, way, records
        self._job_done, self._job_cancelled = 0, False
        self.writing_changed.emit(True)
        self._pool.start(job)
        return job

    def cancel_writing(self) -> bool:
        """Stop the write job after its current image (what is written stays written, each
        file whole). False when no job is running."""
        if self._job is None:
            return False
        self._job.cancel()
        self._job_cancelled = True
        if self.progress_dialog is not None:
            self.progress_dialog.cancelling()
        self.status.emit(f"Stopping after the current image ({self._job_done:,} of "
                         f"{len(self._job_records):,} done)...", 0)
        return True

    def _on_write_progress(self, done: int, total: int) -> None:
        self._job_done = done
        if not self._job_cancelled and not self._job.dry_run:
            self.status.emit(f"Writing {WAY_NAMES[self._job_way]}... {done:,} of {total:,}", 0)

    def _end_job(self) -> list[ImageRecord]:
        job = self._job
        # the job is held until the next one: the pool's thread may still be returning from its run()
        records, self._job, self._job_records = self._job_records, None, []
        self._finished_job = job
        if self.progress_dialog is not None:
            self.progress_dialog.deleteLater()
            self.progress_dialog.hide()
            self.progress_dialog = None
        self.writing_changed.emit(False)
        return records

    def _on_dry_run(self, report: WriteReport) -> None:
        exact = self._job.exact
        records = self._end_job()
        if self.write_dialog is not None:
            self.write_dialog.show_plan(report, export.names_by_path(records).get, exact)

    def _on_written(self, report: WriteReport) -> None:
        done, cancelled = self._job_done, self._job_cancelled
        records = self._end_job()
        self.files_written.emit(report, records)
        names = export.names_by_path(records)
        problems = write_problems(report, lambda image: names.get(image, image.name))
        if problems:
            self.problems_found.emit(problems)
        summary = export.write_summary(report, (done, len(records)) if cancelled else None)
        if report.ok:
            self.status.emit(summary, 15000)
        else:
            self.message.emit(Message("warning", "Some captions were not written", summary,
                                      details=report.summary()))

    def shutdown(self) -> None:
        """Stop a write job after its current image and wait for it."""
        if self._job is not None:
            self._job.cancel()
        self._pool.waitForDone()

    def ask_import_file(self, folder: Path | None) -> None:
        """Ask for a CSV or metadata.jsonl to import (`import_requested` with its path)."""
        if folder is None:
            self.status.emit("Open a folder with images first.", 5000)
            return
        path, _ = QFileDialog.getOpenFileName(self._prompts.parent, "Import captions", str(folder),
                                              "Caption files (*.csv *.jsonl);;All files (*)")
        if path:
            self.import_requested.emit(path)

    def export_csv_dialog(self, folder: Path | None) -> bool:
        """Ask what to export (all or the selected images, the spreadsheet options) and where,
        then write the CSV. False when nothing was written."""
        total, selected = len(self._scope_records("all")), len(self._scope_records("selected"))
        if folder is None or not total:
            self.status.emit("Open a folder with images first.", 5000)
            return False
        dialog = ExportDialog(total, selected, self._settings.get("export_bom"),
                              self._settings.get("export_guard_formulas"), self._prompts.parent)
        if not dialog.exec():
            return False
        selected_only, bom, guard = dialog.options()
        self._settings.set("export_bom", bom)
        self._settings.set("export_guard_formulas", guard)
        path, _ = QFileDialog.getSaveFileName(self._prompts.parent, "Export captions",
                                              str(self.export_folder(folder) / "captions.csv"),
                                              "CSV files (*.csv);;All files (*)")
        if not path:
            return False
        self._settings.set("export_folder", str(Path(path).parent))
        return self.export_csv(path, "selected" if selected_only else "all", bom, guard)

    def export_folder(self, folder: Path) -> Path:
        """Where the save dialog starts: the folder of the last export while it exists, else
        the open folder."""
        last = self._settings.get("export_folder")
        return Path(last) if last and Path(last).is_dir() else folder

    def export_csv(self, path: str | Path, scope: str = "all", bom: bool = True, guard_formulas: bool = True) -> bool:
        """Write the CSV of the images of `scope` ("all", "selected", "filtered"); a message on
        failure, in which case an earlier file at `path` is untouched."""
        self.typing_to_finish.emit()  # a caption being typed is part of what is exported
        try:
            count = export.write_csv(path, self._scope_records(scope), bom=bom, guard_formulas=guard_formulas)
        except OSError as exc:
            self.message.emit(Message(
                "warning", "Export failed",
                f"Could not write {path}: {exc.strerror or exc}.\nAny earlier file there is unchanged."))
            return False
        self.status.emit(f"Exported {plural(count, 'image')} to {path}", 10000)
        return True

