"""Exports the user asks for: a CSV of captions, a .txt file next to each photo, and captions
written where other tools read them (XMP sidecars, the photos themselves, metadata.jsonl).

The window gathers the records (all or the selected ones); the writing is plain Python in
visioncap_desktop.export and core.caption_writes, the latter in a worker thread.
"""

from __future__ import annotations

from dataclasses import replace as replace_item
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.caption_writes import WriteOptions, WriteReport, write_captions
from visioncap_desktop import export
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.dialogs.embed_dialog import confirm_embed
from visioncap_desktop.dialogs.export_dialog import ExportDialog
from visioncap_desktop.dialogs.prompts import Prompts
from visioncap_desktop.records import ImageRecord
from visioncap_desktop.settings import Settings
from visioncap_desktop.workers.caption_writer import CaptionWriteJob

WAY_NAMES = {"xmp": "XMP sidecars", "embed": "captions into the photos", "jsonl": "metadata.jsonl"}


class ExportController(QObject):
    status = Signal(str, int)  # status bar text, milliseconds to show it
    message = Signal(object)  # Message
    files_written = Signal(object, object)  # WriteReport, the records written
    writing_changed = Signal(bool)  # a write job started (True) or ended

    def __init__(self, settings: Settings, prompts: Prompts, parent: QObject | None = None):
        super().__init__(parent)
        self._settings = settings
        self._prompts = prompts
        self.confirm_embed = confirm_embed  # (parent, count, keep_mtime) -> (go, keep_mtime); tests replace it
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._job: CaptionWriteJob | None = None
        self._job_way = ""
        self._job_records: list[ImageRecord] = []
        self._job_done = 0
        self._job_cancelled = False

    @property
    def writing(self) -> bool:
        return self._job is not None

    def write_files(self, way: str, records: list[ImageRecord], folder: Path | None = None) -> CaptionWriteJob | None:
        """Write the captions of `records` one `way` ("xmp", "embed" or "jsonl") in a worker
        thread; "embed" asks first. A file that holds a caption VisionCap has not seen (a person
        or another program wrote it since the folder was read) keeps it and is reported.
        Returns the job, or None if nothing was started."""
        records = [r for r in records if r.caption.strip()]
        if self._job is not None:
            self.status.emit("Captions are being written; wait for that to finish.", 5000)
            return None
        if not records:
            self.status.emit("No captions to write.", 5000)
            return None
        keep_mtime = self._settings.get("embed_keep_mtime")
        if way == "embed":
            go, keep_mtime = self.confirm_embed(self._prompts.parent, len(records), keep_mtime)
            if not go:
                return None
            self._settings.set("embed_keep_mtime", keep_mtime)
        options = WriteOptions((way,), self._settings.get("sidecar_naming"), keep_mtime=keep_mtime)
        job = CaptionWriteJob(export.write_items(records, folder), options)
        # bound methods of this GUI-thread object: queued from the pool's thread
        job.signals.progress.connect(self._on_write_progress)
        job.signals.finished.connect(self._on_written)
        self._job, self._job_way, self._job_records = job, way, records
        self._job_done, self._job_cancelled = 0, False
        self.writing_changed.emit(True)
        self.status.emit(f"Writing {WAY_NAMES[way]} for {len(records):,} image(s)...", 0)
        self._pool.start(job)
        return job

    def cancel_writing(self) -> bool:
        """Stop the write job after its current image (what is written stays written, each
        file whole). False when no job is running."""
        if self._job is None:
            return False
        self._job.cancel()
        self._job_cancelled = True
        self.status.emit(f"Stopping after the current image ({self._job_done:,} of "
                         f"{len(self._job_records):,} written)...", 0)
        return True

    def _on_write_progress(self, done: int, total: int) -> None:
        self._job_done = done
        if not self._job_cancelled:
            self.status.emit(f"Writing {WAY_NAMES[self._job_way]}... {done:,} of {total:,}", 0)

    def _on_written(self, report: WriteReport) -> None:
        records, self._job, self._job_records = self._job_records, None, []
        self.writing_changed.emit(False)
        self.files_written.emit(report, records)
        summary = report.summary()
        if self._job_cancelled:
            summary = f"stopped after {self._job_done:,} of {len(records):,} images; {summary}"
        if report.ok:
            self.status.emit(summary.replace("\n", "; "), 15000)
        else:
            first = summary.splitlines()[0]
            self.message.emit(Message("warning", "Some captions were not written",
                                      f"{first}; some files were not written (see details).", details=summary))

    def shutdown(self) -> None:
        """Stop a write job after its current image and wait for it."""
        if self._job is not None:
            self._job.cancel()
        self._pool.waitForDone()

    def ask_import_file(self, folder: Path | None) -> str | None:
        if folder is None:
            self.status.emit("Open a folder with images first.", 5000)
            return None
        path, _ = QFileDialog.getOpenFileName(self._prompts.parent, "Import captions", str(folder),
                                              "Caption files (*.csv *.jsonl);;All files (*)")
        return path or None

    def ask_csv_options(self, folder: Path | None, total: int, selected: int) -> tuple[str, bool, bool, bool] | None:
        """Ask what to export and where: (path, selected only, BOM, guard formulas), or None."""
        if folder is None or not total:
            self.status.emit("Open a folder with images first.", 5000)
            return None
        dialog = ExportDialog(total, selected, self._settings.get("export_bom"),
                              self._settings.get("export_guard_formulas"), self._prompts.parent)
        if not dialog.exec():
            return None
        selected_only, bom, guard = dialog.options()
        self._settings.set("export_bom", bom)
        self._settings.set("export_guard_formulas", guard)
        path, _ = QFileDialog.getSaveFileName(self._prompts.parent, "Export captions",
                                              str(self.export_folder(folder) / "captions.csv"),
                                              "CSV files (*.csv);;All files (*)")
        if not path:
            return None
        self._settings.set("export_folder", str(Path(path).parent))
        return path, selected_only, bom, guard

    def export_folder(self, folder: Path) -> Path:
        """Where the save dialog starts: the folder of the last export while it exists, else
        the open folder."""
        last = self._settings.get("export_folder")
        return Path(last) if last and Path(last).is_dir() else folder

    def export_csv(self, path: str | Path, records: list[ImageRecord], bom: bool = True,
                   guard_formulas: bool = True) -> bool:
        """Write the CSV of `records`; a message on failure, in which case an earlier file at
        `path` is untouched."""
        try:
            count = export.write_csv(path, records, bom=bom, guard_formulas=guard_formulas)
        except OSError as exc:
            self.message.emit(Message(
                "warning", "Export failed",
                f"Could not write {path}: {exc.strerror or exc}.\nAny earlier file there is unchanged."))
            return False
        self.status.emit(f"Exported {count:,} image(s) to {path}", 10000)
        return True

    def save_txt_files(self, records: list[ImageRecord], folder: Path | None = None) -> WriteReport | None:
        """Write photo.txt next to photo.jpg for each captioned record, asking before replacing
        existing files (No keeps every one of them). Returns the report, or None if the user
        cancelled."""
        records = [r for r in records if r.caption]
        if not records:
            self.status.emit("No captions to save.", 5000)
            return None
        existing = export.existing_txt_files(records)
        replace = False
        if existing:
            buttons = (QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                       | QMessageBox.StandardButton.Cancel)
            answer = self._prompts.ask("Replace text files?",
                                       f"{len(existing):,} caption file(s) already exist, for example {existing[0]}.\n\n"
                                       "Yes replaces them, No keeps them and writes only the new ones.",
                                       buttons, QMessageBox.StandardButton.No)
            if answer == QMessageBox.StandardButton.Cancel:
                return None
            replace = answer == QMessageBox.StandardButton.Yes
        items = [replace_item(i, known={}) for i in export.write_items(records, folder)]
        report = write_captions(items, WriteOptions(("txt",), existing="replace" if replace else "keep"))
        self.files_written.emit(report, records)
        if report.ok:
            self.status.emit(report.summary().replace("\n", "; "), 10000)
        else:
            self.message.emit(Message("warning", "Some text files were not written",
                                      report.summary().splitlines()[0] + "; some files were not written (see details).",
                                      details=report.summary()))
        return report
