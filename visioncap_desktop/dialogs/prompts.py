"""Blocking questions to the user, for controllers that must wait for an answer.

A controller gets a Prompts rather than the window: it can ask, and parent its dialogs on
`parent`, without reaching into the window. Tests replace `ask`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


class Prompts:
    def __init__(self, parent: QWidget):
        self.parent = parent  # what modal dialogs are shown over

    def ask(self, title: str, text: str, buttons: QMessageBox.StandardButton,
            default: QMessageBox.StandardButton) -> QMessageBox.StandardButton:
        return QMessageBox.question(self.parent, title, text, buttons, default)
