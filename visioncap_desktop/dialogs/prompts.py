"""Questions and notices to the user: blocking questions for controllers that must wait for an
answer, and window-modal boxes that do not block the caller.

A controller gets a Prompts rather than the window: it can ask, and parent its dialogs on
`parent`, without reaching into the window. Tests replace `ask`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


class Prompts:
    def __init__(self, parent: QWidget):
        self.parent = parent  # what modal dialogs are shown over

    def ask(self, title: str, text: str, buttons: QMessageBox.StandardButton,
            default: QMessageBox.StandardButton) -> QMessageBox.StandardButton:
        return QMessageBox.question(self.parent, title, text, buttons, default)

    def show(self, icon: QMessageBox.Icon, title: str, text: str, details: str = "",
             on_yes: Callable[[], None] | None = None) -> QMessageBox:
        """A window-modal box that returns at once: OK only, or Yes/No calling `on_yes` for Yes."""
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No if on_yes else \
            QMessageBox.StandardButton.Ok
        box = QMessageBox(icon, title, text, buttons, self.parent)
        if details:
            box.setDetailedText(details)
        if on_yes:
            box.button(QMessageBox.StandardButton.Yes).clicked.connect(on_yes)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box
