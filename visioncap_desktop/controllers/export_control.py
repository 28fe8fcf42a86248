"""Exports the user asks for: a CSV of captions, and a .txt file next to each photo.

The window gathers the records (all or the selected ones); the writing is plain Python in
visioncap_desktop.export. Writing captions into the photos themselves (metadata, sidecar files)
is an export of the same kind and belongs here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from visioncap_desktop import export
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.dialogs.export_dialog import ExportDialog
from visioncap_desktop.dialogs.prompts import Prompts
from visioncap_desktop.records import ImageRecord
from visioncap_desktop.settings import Settings


class ExportController(QObject):
    status = Signal(str, int)  # status bar text, milliseconds to show it
    message = Signal(object)  # Message

    def __init__(self, settings: Settings, prompts: Prompts, parent: QObject | None = None):
        super().__init__(parent)
        self._settings = settings
        self._prompts = prompts

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

    def save_txt_files(self, records: list[ImageRecord]) -> export.TxtReport | None:
        """Write photo.txt next to photo.jpg for each captioned record, asking before replacing
        existing files. Returns the report, or None if the user cancelled."""
        records = [r for r in records if r.caption]
        if not records:
            self.status.emit("No captions to save.", 5000)
            return None
        existing = export.existing_txt_files(records)
        overwrite = False
        if existing:
            buttons = (QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                       | QMessageBox.StandardButton.Cancel)
            answer = self._prompts.ask("Replace text files?",
                                       f"{len(existing):,} caption file(s) already exist, for example {existing[0]}.\n\n"
                                       "Yes replaces them, No keeps them and writes only the new ones.",
                                       buttons, QMessageBox.StandardButton.No)
            if answer == QMessageBox.StandardButton.Cancel:
                return None
            overwrite = answer == QMessageBox.StandardButton.Yes
        report = export.write_txt_captions(records, overwrite)
        summary = f"Wrote {len(report.written):,} text file(s)"
        if report.skipped:
            summary += f", kept {len(report.skipped):,} existing"
        if report.failed:
            details = "\n".join(f"{path}: {reason}" for path, reason in report.failed)
            self.message.emit(Message("warning", "Some text files were not written",
                                      f"{summary}; {len(report.failed):,} failed.", details=details))
        else:
            self.status.emit(summary + ".", 10000)
        return report
