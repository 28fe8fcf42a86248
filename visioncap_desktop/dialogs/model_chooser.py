"""Choosing the captioning model: the built-in demo, a bundle folder, or one of the catalogue's
models (core.captioning.catalogue: ViT-GPT2 COCO, Florence-2, BLIP, GIT), each listed with its
download size, licence, languages and what it is good for, downloaded once into the user data
folder; with its caption style or prompt, and, when a folder is open, for that folder only.
Shown on first run, from Caption > Choose Model and from Settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from core.captioning.catalogue import CATALOGUE, ModelInfo, models_root
from visioncap_desktop.dialogs.style_fields import StyleFields
from visioncap_desktop.model_choice import ModelChoice, is_installed, size_text
from visioncap_desktop.theme import warning_colour


def is_bundle(folder: Path | None) -> bool:
    return folder is not None and (folder / "manifest.json").is_file()


def preselected(source: str, has_demo: bool, downloaded: bool) -> str:
    """The choice the dialog starts on: the saved one; on first run (`source` "") a downloaded
    catalogue model when there is one, else the demo, else a folder."""
    if source in ("demo", "folder", "download"):
        return source
    if downloaded:
        return "download"
    return "demo" if has_demo else "folder"


DEMO_NOTE = "Describes coloured shapes only (it learnt from generated pictures): for trying the app, not for photos."
FOLDER_NOTE = "A model you trained or converted yourself (its folder holds manifest.json)."


def catalogue_text(info: ModelInfo, installed: bool) -> str:
    """A catalogue model's line in the list: "Florence-2 base: 464 MB download, MIT, English"."""
    size = "installed" if installed else f"{size_text(info.download_bytes)} download"
    return f"{info.title}: {size}, {info.licence}, {info.languages}"


def _note(text: str, parent) -> QLabel:
    """The one line under a choice that says what it is."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setIndent(24)
    return label


class ModelChooserDialog(QDialog):
    def __init__(self, choice: ModelChoice, demo: Path | None, first_run: bool = False, parent=None,
                 folder: str | None = None, folder_own: bool = False):
        """`choice`: the model in use, which the dialog starts on. `folder`: the open folder,
        offered its own model (`folder_own`: it has one now)."""
        super().__init__(parent)
        self.setWindowTitle("Choose a captioning model")
        self.setMinimumWidth(640)

        intro = QLabel(
            "VisionCap needs a captioning model. Choose one below; you can change it later in Settings."
            if first_run else "Choose the model that writes the captions.", self)
        intro.setWordWrap(True)

        self.demo_radio = QRadioButton("Built-in demo model" if demo else "Built-in demo model (not installed)", self)
        self.demo_radio.setEnabled(demo is not None)
        demo_note = _note(DEMO_NOTE, self)

        self.folder_radio = QRadioButton("A model folder on this computer:", self)
        self.folder_edit = QLineEdit(choice.path if choice.source == "folder" else "", self)
        self.folder_edit.setPlaceholderText("a VisionCap bundle, or a model imported with visioncap import-hf")
        browse = QPushButton("Browse...", self)
        browse.clicked.connect(self._browse)
        self.folder_edit.textEdited.connect(lambda: self.folder_radio.setChecked(True))
        folder_row = QHBoxLayout()
        folder_row.addSpacing(24)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        folder_note = _note(FOLDER_NOTE, self)

        catalogue_intro = QLabel(f"Photo captioners, downloaded once from the Hugging Face hub into {models_root()}:",
                                 self)
        catalogue_intro.setWordWrap(True)
        self.group = QButtonGroup(self)
        self.catalogue_radios: dict[str, QRadioButton] = {}
        catalogue_rows = []
        for info in CATALOGUE:
            radio = QRadioButton(catalogue_text(info, is_installed(info.name)), self)
            radio.setToolTip(f"{info.source}; {info.parameters / 1e6:,.0f}M parameters; "
                             f"published quality: {info.quality or 'none'}")
            self.catalogue_radios[info.name] = radio
            catalogue_rows.append((radio, _note(info.summary + ".", self)))
        for radio in (self.demo_radio, self.folder_radio, *self.catalogue_radios.values()):
            self.group.addButton(radio)

        installed = [name for name in self.catalogue_radios if is_installed(name)]
        start = preselected(choice.source, demo is not None, bool(installed))
        if start == "download":
            name = choice.name if choice.source == "download" else installed[0]
            self.catalogue_radios[name].setChecked(True)
        else:
            (self.demo_radio if start == "demo" else self.folder_radio).setChecked(True)

        self.style_fields = StyleFields(self)
        self._styles: dict[str, tuple[str, str]] = {}  # model -> (style, prompt) chosen in this dialog
        if choice.source == "download":
            self._styles[choice.name] = (choice.style, choice.prompt)
        self._shown: str | None = None
        self.group.buttonToggled.connect(self._show_style)
        self._show_style()

        self.folder_check = QCheckBox(f"Only for this folder ({Path(folder).name or folder}); other folders keep "
                                      "their model" if folder else "", self)
        self.folder_check.setChecked(bool(folder) and folder_own)
        self.folder_check.setVisible(bool(folder))
        self._folder = folder or None

        self.problem = QLabel(self)
        self.problem.setStyleSheet(f"color: {warning_colour(self.palette()).name()}")
        self.problem.setWordWrap(True)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.demo_radio)
        layout.addWidget(demo_note)
        layout.addWidget(self.folder_radio)
        layout.addLayout(folder_row)
        layout.addWidget(folder_note)
        layout.addSpacing(6)
        layout.addWidget(catalogue_intro)
        for radio, note in catalogue_rows:
            layout.addWidget(radio)
            layout.addWidget(note)
        layout.addSpacing(6)
        layout.addWidget(self.style_fields)
        layout.addWidget(self.folder_check)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _chosen_name(self) -> str | None:
        return next((name for name, radio in self.catalogue_radios.items() if radio.isChecked()), None)

    def _show_style(self, *_args) -> None:
        """Offer the checked catalogue model's styles or prompt, keeping what was chosen for the
        model shown before."""
        if self._shown is not None:
            self._styles[self._shown] = (self.style_fields.style(), self.style_fields.prompt())
        name = self._chosen_name()
        if name == self._shown and name is not None:
            return
        self._shown = name
        info = next((m for m in CATALOGUE if m.name == name), None)
        self.style_fields.set_model(info, *self._styles.get(name or "", ("", "")))
        if self.isVisible():
            self.adjustSize()  # room for the style or prompt row, or none

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.folder_radio.setChecked(True)

    def choice(self) -> ModelChoice:
        if self.demo_radio.isChecked():
            return ModelChoice("demo")
        if self.folder_radio.isChecked():
            return ModelChoice("folder", self.folder_edit.text().strip())
        name = self._chosen_name() or CATALOGUE[0].name
        return ModelChoice("download", name=name, style=self.style_fields.style(),
                           prompt=self.style_fields.prompt()).cleaned()

    def for_folder(self) -> bool:
        """Whether the choice is the open folder's own."""
        return self._folder is not None and self.folder_check.isChecked()

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)

    def _accept_if_valid(self) -> None:
        choice = self.choice()
        if choice.source == "folder" and not Path(choice.path).is_dir():
            self.show_problem(f"{choice.path or 'No folder given'}: not a folder.")
            return
        self.accept()
