"""The caption style of a model that has styles (Florence-2: short, detailed, more detailed), or
the prompt a model continues (BLIP, GIT): two form rows shown wherever the model is chosen (the
model chooser, Settings). Hidden for a model with neither."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QWidget

from core.captioning.catalogue import ModelInfo


class StyleFields(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.style_combo = QComboBox(self)
        self.style_combo.setToolTip("How the model captions: the caption style is saved with each caption")
        self.prompt_edit = QLineEdit(self)
        self.prompt_edit.setPlaceholderText("optional, e.g. “a photograph of”: the caption continues it")
        self.prompt_edit.setClearButtonEnabled(True)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Caption style:", self.style_combo)
        form.addRow("Prompt:", self.prompt_edit)
        self._form = form
        self._takes_prompt = False
        self.set_model(None)

    def set_model(self, info: ModelInfo | None, style: str = "", prompt: str = "") -> None:
        """Offer `info`'s styles (starting on `style`, "" its default) and, where it continues a
        prompt, `prompt`; nothing for None (the demo, a bundle folder)."""
        self.style_combo.clear()
        styles = info.styles if info is not None else ()
        for choice in styles:
            self.style_combo.addItem(choice.label, choice.name)
        self.style_combo.setCurrentIndex(max(0, self.style_combo.findData(style)))
        takes_prompt = self._takes_prompt = info is not None and info.prompt_prefix
        self.prompt_edit.setText(prompt if takes_prompt else "")
        self._form.setRowVisible(self.style_combo, bool(styles))
        self._form.setRowVisible(self.prompt_edit, takes_prompt)
        self.setVisible(bool(styles) or takes_prompt)

    def style(self) -> str:
        """The chosen style's name; "" for a model without styles."""
        return self.style_combo.currentData() or ""

    def prompt(self) -> str:
        return self.prompt_edit.text().strip() if self._takes_prompt else ""
