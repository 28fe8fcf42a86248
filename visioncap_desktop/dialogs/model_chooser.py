"""Choosing the captioning model: the built-in demo, a bundle folder, or the public ViT-GPT2 COCO
captioner downloaded once into the user data folder. Shown on first run and from Settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
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

from core.bundles.resources import PUBLIC_COCO_CAPTIONER, PUBLIC_COCO_CAPTIONER_SIZE
from visioncap_desktop.theme import warning_colour


def is_bundle(folder: Path | None) -> bool:
    return folder is not None and (folder / "manifest.json").is_file()


def preselected(source: str, has_demo: bool, downloaded: bool) -> str:
    """The choice the dialog starts on: the saved one; on first run (`source` "") the photo
    captioner when it is installed, else the demo, else a folder."""
    if source in ("demo", "folder", "download"):
        return source
    if downloaded:
        return "download"
    return "demo" if has_demo else "folder"


def _note(text: str, parent) -> QLabel:
    """The one line under a choice that says what it is."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setIndent(24)
    return label


class ModelChooserDialog(QDialog):
    def __init__(self, source: str, path: str, demo: Path | None, download_target: Path,
                 first_run: bool = False, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Choose a captioning model")
        self.setMinimumWidth(560)
        self._download_target = download_target

        intro = QLabel(
            "VisionCap needs a captioning model. Choose one below; you can change it later in Settings."
            if first_run else "Choose the model that writes the captions.", self)
        intro.setWordWrap(True)

        self.demo_radio = QRadioButton("Built-in demo model" if demo else "Built-in demo model (not installed)", self)
        self.demo_radio.setEnabled(demo is not None)
        demo_note = _note("Describes coloured shapes only (it learnt from generated pictures): for trying the "
                          "app, not for photos.", self)

        self.folder_radio = QRadioButton("A model bundle folder on this computer:", self)
        self.folder_edit = QLineEdit(path if source == "folder" else "", self)
        self.folder_edit.setPlaceholderText("folder with manifest.json, config.json, model.safetensors, tokenizer.json")
        browse = QPushButton("Browse...", self)
        browse.clicked.connect(self._browse)
        self.folder_edit.textEdited.connect(lambda: self.folder_radio.setChecked(True))
        folder_row = QHBoxLayout()
        folder_row.addSpacing(24)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)

        folder_note = _note("A model you trained or converted yourself (manifest.json, config.json, "
                            "model.safetensors, tokenizer.json).", self)

        downloaded = is_bundle(download_target)
        self.download_radio = QRadioButton(
            "Photo captioner: the public ViT-GPT2 COCO model (installed)" if downloaded else
            f"Photo captioner: the public ViT-GPT2 COCO model ({PUBLIC_COCO_CAPTIONER_SIZE} download)", self)
        download_note = _note(
            "Describes everyday photos in English. " + (f"Installed in {download_target}." if downloaded else
            f"Needs a one-time download of {PUBLIC_COCO_CAPTIONER_SIZE} ({PUBLIC_COCO_CAPTIONER} from the "
            f"Hugging Face hub), converted once into {download_target}."), self)

        self.group = QButtonGroup(self)
        for radio in (self.demo_radio, self.folder_radio, self.download_radio):
            self.group.addButton(radio)
        radios = {"demo": self.demo_radio, "folder": self.folder_radio, "download": self.download_radio}
        radios[preselected(source, demo is not None, downloaded)].setChecked(True)

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
        layout.addWidget(self.download_radio)
        layout.addWidget(download_note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model bundle folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.folder_radio.setChecked(True)

    def choice(self) -> tuple[str, str]:
        """(source, path): source is "demo", "folder" or "download"."""
        if self.demo_radio.isChecked():
            return "demo", ""
        if self.folder_radio.isChecked():
            return "folder", self.folder_edit.text().strip()
        return "download", str(self._download_target)

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)

    def _accept_if_valid(self) -> None:
        source, path = self.choice()
        if source == "folder" and not Path(path).is_dir():
            self.show_problem(f"{path or 'No folder given'}: not a folder.")
            return
        self.accept()
