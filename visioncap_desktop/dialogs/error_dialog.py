"""The last-resort dialog: an unexpected error, with its traceback, instead of a silent exit."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def show_exception_dialog(parent: QWidget | None, summary: str, details: str, log_path: str) -> QMessageBox:
    """Open (not exec) a critical message box; returns it so callers and tests can close it."""
    box = QMessageBox(QMessageBox.Icon.Critical, "VisionCap: unexpected error",
                      f"Something went wrong: {summary}\n\nYour captions are saved automatically. "
                      f"The details below are also in the log file:\n{log_path}",
                      QMessageBox.StandardButton.Ok, parent)
    box.setDetailedText(details)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
