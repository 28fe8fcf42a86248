"""Settings' list of models: the demo, the model folder in use, and every catalogue model with
its download size, licence, languages and whether it is installed; the chosen one's summary under
the list, and its caption style or prompt (StyleFields). The model chooser dialog offers the same
with a folder to browse for and the choice of "only for this folder"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from core.captioning.catalogue import CATALOGUE
from visioncap_desktop.dialogs.model_chooser import DEMO_NOTE, FOLDER_NOTE, catalogue_text
from visioncap_desktop.dialogs.style_fields import StyleFields
from visioncap_desktop.model_choice import ModelChoice, is_installed


class ModelPicker(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.combo = QComboBox(self)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.style_fields = StyleFields(self)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model:", self.combo)
        form.addRow("", self.note)
        form.addRow(self.style_fields)
        self._styles: dict[ModelChoice, tuple[str, str]] = {}  # each entry's style and prompt in this dialog
        self._shown: ModelChoice | None = None
        self.combo.currentIndexChanged.connect(self._show)

    def set_choice(self, choice: ModelChoice, demo: bool) -> None:
        """List the models, starting on `choice` (its style and prompt); `demo`: whether this
        installation has the built-in demo."""
        self.combo.blockSignals(True)
        self.combo.clear()
        if not choice.source:
            self.combo.addItem("None chosen yet", ModelChoice())
        if demo:
            self.combo.addItem("Built-in demo model", ModelChoice("demo"))
        if choice.source == "folder":
            self.combo.addItem(f"Model folder: {Path(choice.path).name or choice.path}",
                               ModelChoice("folder", choice.path))
        for info in CATALOGUE:
            self.combo.addItem(catalogue_text(info, is_installed(info.name)), ModelChoice("download", name=info.name))
        key = self._key(choice)
        self._styles = {key: (choice.style, choice.prompt)}
        self._shown = None
        self.combo.setCurrentIndex(max(0, next((i for i in range(self.combo.count())
                                                if self.combo.itemData(i) == key), 0)))
        self.combo.blockSignals(False)
        self._show()

    @staticmethod
    def _key(choice: ModelChoice) -> ModelChoice:
        """`choice` without its style and prompt: the combo entry that stands for it."""
        return ModelChoice(choice.source, choice.path, choice.name) if choice.source else ModelChoice()

    def _show(self, *_args) -> None:
        if self._shown is not None:
            self._styles[self._shown] = (self.style_fields.style(), self.style_fields.prompt())
        entry: ModelChoice = self.combo.currentData()
        self._shown = entry
        info = entry.info if entry is not None else None
        if info is not None:
            self.note.setText(f"{info.summary}. {info.quality}." if info.quality else info.summary + ".")
        else:
            self.note.setText({"demo": DEMO_NOTE, "folder": FOLDER_NOTE}.get(entry.source if entry else "", ""))
        self.style_fields.set_model(info, *self._styles.get(entry, ("", "")))

    def choice(self) -> ModelChoice:
        """The listed model with its style and prompt; ModelChoice() while none is chosen."""
        entry: ModelChoice = self.combo.currentData()
        if entry is None or not entry.source:
            return ModelChoice()
        return ModelChoice(entry.source, entry.path, entry.name, self.style_fields.style(),
                           self.style_fields.prompt()).cleaned()
