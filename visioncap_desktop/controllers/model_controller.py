"""Which model captions: the saved choice or `--model`, the chooser and settings dialogs, the
one-time download of the public ViT-GPT2 COCO captioner, and the model's state for the status
bar. Loading is the run controller's worker's job; this controller asks for it by signal."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from core.bundles.resources import PUBLIC_COCO_CAPTIONER, PUBLIC_COCO_CAPTIONER_SIZE
from core.captioning.device import DeviceInventory
from visioncap_desktop import paths
from visioncap_desktop.controllers.decisions import chosen_bundle, model_failure_advice
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.dialogs.model_chooser import ModelChooserDialog, is_bundle
from visioncap_desktop.dialogs.prompts import Prompts
from visioncap_desktop.dialogs.settings_dialog import SettingsDialog
from visioncap_desktop.resources import demo_bundle_path
from visioncap_desktop.settings import Settings
from visioncap_desktop.workers.model_import import ModelImportWorker

DOWNLOAD_FOLDER = "vit-gpt2-coco"


class ModelController(QObject):
    load_requested = Signal(str, str)  # bundle, device: load it now, so the next run starts at once
    model_text_changed = Signal(str)  # the status bar's line about the model
    message = Signal(object)  # Message
    import_requested = Signal(str, str)  # to the import worker, queued to its thread
    theme_chosen = Signal(str)  # the settings dialog's theme changed (the window applies it)

    def __init__(self, settings: Settings, prompts: Prompts, model_override: str | None = None,
                 parent: QObject | None = None):
        """`model_override`: a bundle folder (or "demo") used instead of the saved choice, as
        `--model` does."""
        super().__init__(parent)
        self._settings = settings
        self._prompts = prompts
        self.model_override = model_override
        self.model_text = ""
        self.devices: DeviceInventory | None = None  # known once the worker has loaded torch
        self._import_thread: QThread | None = None
        self._import_worker: ModelImportWorker | None = None
        self._import_dialog: QProgressDialog | None = None

    def download_target(self) -> Path:
        return paths.models_dir() / DOWNLOAD_FOLDER

    def bundle_path(self) -> str | None:
        """The bundle folder to caption with, or None if no usable model is chosen."""
        target = self.download_target()
        return chosen_bundle(self.model_override, self._settings.get("model_source"),
                             self._settings.get("model_path"), demo_bundle_path(),
                             target if is_bundle(target) else None)

    def ensure_bundle(self) -> str | None:
        """The chosen bundle, asking the user for one when none is chosen yet."""
        bundle = self.bundle_path()
        if bundle is None and self.choose_model():
            bundle = self.bundle_path()
        return bundle

    def preload(self) -> None:
        bundle = self.bundle_path()
        if bundle:
            self.load_requested.emit(bundle, self._settings.get("device"))

    def show_chosen(self) -> None:
        bundle = self.bundle_path()
        self._set_text(f"Model: {Path(bundle).name} (not loaded yet)" if bundle else "Model: none chosen")

    def choose_model(self, first_run: bool = False) -> bool:
        """Ask which model to use; True when a usable model is now chosen."""
        dialog = ModelChooserDialog(self._settings.get("model_source"), self._settings.get("model_path"),
                                    demo_bundle_path(), self.download_target(), first_run, self._prompts.parent)
        if not dialog.exec():
            return False
        source, path = dialog.choice()
        if source == "download" and not is_bundle(self.download_target()):
            answer = self._prompts.ask(
                "Download the model?",
                f"This downloads {PUBLIC_COCO_CAPTIONER} from the Hugging Face hub ({PUBLIC_COCO_CAPTIONER_SIZE}) and converts it "
                "for VisionCap. Continue?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Yes:
                self.start_model_download()
            return False
        self._settings.set("model_source", source)
        self._settings.set("model_path", path if source == "folder" else "")
        self.show_chosen()
        self.preload()
        return True

    def open_settings(self) -> None:
        """The settings dialog: generation, device, batch size, CPU threads (the run controller
        follows that setting, also during a run); a changed device loads the model again on it."""
        dialog = SettingsDialog(self._settings.get("generation"), self._settings.get("device"),
                                self._settings.get("batch_size"), self.model_text, self._prompts.parent,
                                theme=self._settings.get("theme"),
                                devices=self.devices, cpu_threads=self._settings.get("cpu_threads"))
        dialog.model_change_requested.connect(
            lambda: self.choose_model() and dialog.set_model_text(self.model_text))
        if not dialog.exec():
            return
        self._settings.set("generation", dialog.generation())
        if dialog.theme_choice() != self._settings.get("theme"):
            self.theme_chosen.emit(dialog.theme_choice())
        self._settings.set("batch_size", dialog.batch_size.value())
        self._settings.set("cpu_threads", dialog.cpu_threads_choice())
        if dialog.device_choice() != self._settings.get("device"):
            self._settings.set("device", dialog.device_choice())
            self.preload()

    # --- the worker's model events --------------------------------------------------------------

    def on_model_loading(self, bundle: str) -> None:
        self._set_text(f"Loading model {Path(bundle).name}...")

    def on_model_loaded(self, name: str, device: str) -> None:
        self._set_text(f"Model: {name}  |  Device: {device}")

    def on_devices_found(self, devices: DeviceInventory) -> None:
        self.devices = devices

    def on_model_failed(self, text: str) -> None:
        self._set_text("Model: could not be loaded")
        self.message.emit(Message("warning", "Could not load the model", f"{text}\n\n{model_failure_advice(text)}"))

    def _set_text(self, text: str) -> None:
        self.model_text = text
        self.model_text_changed.emit(text)

    # --- downloading the ViT-GPT2 COCO captioner ------------------------------------------------

    def start_model_download(self) -> None:
        if self._import_thread is None:
            self._import_thread = QThread(self)
            self._import_thread.setObjectName("visioncap-import")
            self._import_worker = ModelImportWorker()
            self._import_worker.moveToThread(self._import_thread)
            self._import_thread.finished.connect(self._import_worker.deleteLater)
            self.import_requested.connect(self._import_worker.run)
            self._import_worker.progress.connect(self.on_import_progress)
            self._import_worker.import_finished.connect(self.on_import_finished)
            self._import_worker.import_failed.connect(self.on_import_failed)
            self._import_thread.start()
        dialog = QProgressDialog("Connecting to the model hub...", "Cancel", 0, 0, self._prompts.parent)
        dialog.setWindowTitle("Downloading the ViT-GPT2 COCO captioner")
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.canceled.connect(self._import_worker.cancel)
        dialog.show()
        self._import_dialog = dialog
        self.import_requested.emit(PUBLIC_COCO_CAPTIONER, str(self.download_target()))

    def on_import_progress(self, text: str) -> None:
        if self._import_dialog is not None:
            self._import_dialog.setLabelText(text)

    def on_import_finished(self, bundle: str) -> None:
        self._close_import_dialog()
        self._settings.set("model_source", "download")
        self._settings.set("model_path", "")
        self.show_chosen()
        self.message.emit(Message("info", "Model ready", f"The ViT-GPT2 COCO captioner is ready in {bundle}.",
                                  popup=False))
        self.preload()

    def on_import_failed(self, text: str) -> None:
        self._close_import_dialog()
        self.message.emit(Message("warning", "Could not download the model",
                                  f"{text}\n\nYou can use the built-in demo model or a bundle folder instead "
                                  "(Caption > Choose Model)."))

    def _close_import_dialog(self) -> None:
        if self._import_dialog is not None:
            self._import_dialog.close()
            self._import_dialog.deleteLater()
            self._import_dialog = None

    def shutdown(self) -> None:
        """Cancel a download and stop its thread."""
        if self._import_thread is not None:
            self._import_worker.cancel()
            self._import_thread.quit()
            self._import_thread.wait()
