"""Which model captions: `--model`, else the open folder's own choice, else the app-wide one; the
chooser and settings dialogs; the one-time download of a catalogue model; and the model's state
for the status bar, which names the model and the caption style the current folder uses.
Loading is the run controller's worker's job; this controller asks for it by signal."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from core.captioning.catalogue import model_info
from core.captioning.device import DeviceInventory
from visioncap_desktop.controllers.decisions import model_failure_advice
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.dialogs.model_chooser import ModelChooserDialog
from visioncap_desktop.dialogs.prompts import Prompts
from visioncap_desktop.dialogs.settings_dialog import SettingsDialog
from visioncap_desktop.model_choice import (
    ModelChoice,
    ModelSpec,
    choice_label,
    folder_key,
    is_installed,
    model_spec,
    size_text,
)
from visioncap_desktop.resources import demo_bundle_path
from visioncap_desktop.settings import Settings
from visioncap_desktop.workers.model_import import ModelImportWorker


class ModelController(QObject):
    load_requested = Signal(object, str)  # ModelSpec, device: load it now, so the next run starts at once
    model_text_changed = Signal(str)  # the status bar's line about the model
    message = Signal(object)  # Message
    import_requested = Signal(str)  # a catalogue model's name, to the import worker, queued to its thread
    theme_chosen = Signal(str)  # the settings dialog's theme changed (the window applies it)

    def __init__(self, settings: Settings, prompts: Prompts, model_override: str | None = None,
                 parent: QObject | None = None):
        """`model_override`: a model ("demo", a catalogue name or a folder) used instead of the
        saved choices, as `--model` does."""
        super().__init__(parent)
        self._settings = settings
        self._prompts = prompts
        self.model_override = model_override
        self.model_text = ""
        self.devices: DeviceInventory | None = None  # known once the worker has loaded torch
        self._folder: str | None = None  # the open folder (folder_key), whose own choice wins
        # a choice waiting for its download: the choice, for the folder only or not, the folder then open
        self._pending: tuple[ModelChoice, bool, str | None] | None = None
        self._import_thread: QThread | None = None
        self._import_worker: ModelImportWorker | None = None
        self._import_dialog: QProgressDialog | None = None

    # --- the choice -----------------------------------------------------------------------------

    def app_choice(self) -> ModelChoice:
        s = self._settings
        return ModelChoice(s.get("model_source"), s.get("model_path"), s.get("model_name"), s.get("model_style"),
                           s.get("model_prompt")).cleaned()

    def folder_choice(self) -> ModelChoice | None:
        """The open folder's own choice, if it has one."""
        if self._folder is None:
            return None
        return ModelChoice.from_json(self._settings.get("folder_models").get(self._folder))

    def current_choice(self) -> ModelChoice:
        return self.folder_choice() or self.app_choice()

    def set_folder(self, folder: str) -> None:
        """A folder was opened: its own model (or the app-wide one) is the one to load."""
        self._folder = folder_key(folder)
        self.show_chosen()
        self.preload()

    def model_spec(self) -> ModelSpec | None:
        """What the worker loads for the open folder, or None if no usable model is chosen."""
        return model_spec(self.current_choice(), self.model_override, demo_bundle_path())

    def bundle_path(self) -> str | None:
        """The model to caption with ("demo"'s folder, a catalogue name, a bundle folder), or None."""
        spec = self.model_spec()
        return spec.model if spec else None

    def ensure_bundle(self) -> ModelSpec | None:
        """The chosen model, asking the user for one when none is chosen yet."""
        spec = self.model_spec()
        if spec is None and self.choose_model():
            spec = self.model_spec()
        return spec

    def preload(self) -> None:
        spec = self.model_spec()
        if spec:
            self.load_requested.emit(spec, self._settings.get("device"))

    def label(self, loaded_name: str = "") -> str:
        """The model and style the open folder uses, for the status bar and Settings."""
        if self.model_override:
            return loaded_name or Path(self.model_override).name or self.model_override
        own = " (this folder's own)" if self.folder_choice() is not None else ""
        return choice_label(self.current_choice(), loaded_name) + own

    def show_chosen(self) -> None:
        ready = self.model_spec() is not None
        self._set_text(f"Model: {self.label()} (not loaded yet)" if ready else "Model: none chosen")

    def choose_model(self, first_run: bool = False) -> bool:
        """Ask which model to use (for the open folder only, or for all); True when a usable
        model is now chosen. A catalogue model not downloaded yet is downloaded first, when the
        user agrees, and chosen once it is there."""
        dialog = ModelChooserDialog(self.current_choice(), demo_bundle_path(), first_run, self._prompts.parent,
                                    folder=self._folder, folder_own=self.folder_choice() is not None)
        if not dialog.exec():
            return False
        return self._apply_choice(dialog.choice(), dialog.for_folder())

    def _apply_choice(self, choice: ModelChoice, for_folder: bool) -> bool:
        """Use `choice` (for the open folder only, or for all) if it is there; a catalogue model
        not downloaded yet is downloaded first, when the user agrees, and used once it is there.
        True when it is in use now."""
        info = choice.info
        if info is not None and not is_installed(info.name):
            answer = self._prompts.ask(
                "Download the model?",
                f"This downloads {info.title} ({info.source}) from the Hugging Face hub: "
                f"{size_text(info.download_bytes)}, licence {info.licence}. Continue?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Yes:
                self._pending = (choice, for_folder, self._folder)
                self.start_model_download(info.name)
            return False
        self._save_choice(choice, for_folder)
        return True

    def _save_choice(self, choice: ModelChoice, for_folder: bool, folder: str | None = None) -> None:
        """Make `choice` the own choice of `folder` (default: the open one) when `for_folder`,
        else the app-wide one, which that folder then follows too."""
        folder = folder or self._folder
        folders = self._settings.get("folder_models")
        if for_folder and folder is not None:
            folders[folder] = choice.to_json()
        else:
            folders.pop(folder or "", None)
            for key, value in (("model_source", choice.source), ("model_path", choice.path),
                               ("model_name", choice.name), ("model_style", choice.style),
                               ("model_prompt", choice.prompt)):
                self._settings.set(key, value)
        self._settings.set("folder_models", folders)
        self.show_chosen()
        self.preload()

    def open_settings(self) -> None:
        """The settings dialog: the model the open folder uses (its own, else the app-wide one;
        listed among the others) with its caption style or prompt, generation, device, batch
        size, CPU threads (the run controller follows that setting, also during a run); a
        changed model, style or device loads the model again."""
        dialog = SettingsDialog(self._settings.get("generation"), self._settings.get("device"),
                                self._settings.get("batch_size"), self.model_text, self._prompts.parent,
                                theme=self._settings.get("theme"),
                                devices=self.devices, cpu_threads=self._settings.get("cpu_threads"),
                                choice=self._listed_choice(), demo=demo_bundle_path() is not None)
        dialog.model_change_requested.connect(
            lambda: self.choose_model() and dialog.set_model(self.model_text, self._listed_choice()))
        if not dialog.exec():
            return
        self._settings.set("generation", dialog.generation())
        if dialog.theme_choice() != self._settings.get("theme"):
            self.theme_chosen.emit(dialog.theme_choice())
        self._settings.set("batch_size", dialog.batch_size.value())
        self._settings.set("cpu_threads", dialog.cpu_threads_choice())
        device_changed = dialog.device_choice() != self._settings.get("device")
        self._settings.set("device", dialog.device_choice())
        picked = dialog.model_choice()
        if picked is not None and picked.source and picked != self.current_choice() \
                and self._apply_choice(picked, self.folder_choice() is not None):
            return  # loaded on the device chosen
        if device_changed:
            self.preload()

    def _listed_choice(self) -> ModelChoice | None:
        """What Settings lists as the model in use; None under `--model`, which no list changes."""
        return None if self.model_override else self.current_choice()

    # --- the worker's model events --------------------------------------------------------------

    def on_model_loading(self, model: str) -> None:
        self._set_text(f"Loading model {self.label(Path(model).name)}...")

    def on_model_loaded(self, name: str, device: str) -> None:
        self._set_text(f"Model: {self.label(name)}  |  Device: {device}")

    def on_devices_found(self, devices: DeviceInventory) -> None:
        self.devices = devices

    def on_model_failed(self, text: str) -> None:
        self._set_text("Model: could not be loaded")
        self.message.emit(Message("warning", "Could not load the model", f"{text}\n\n{model_failure_advice(text)}"))

    def _set_text(self, text: str) -> None:
        self.model_text = text
        self.model_text_changed.emit(text)

    # --- downloading a catalogue model ----------------------------------------------------------

    def start_model_download(self, name: str) -> None:
        """Download the catalogue model `name` in the import worker's thread, with a progress
        dialog whose Cancel stops it."""
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
        info = model_info(name)
        dialog = QProgressDialog("Connecting to the model hub...", "Cancel", 0, 0, self._prompts.parent)
        dialog.setWindowTitle(f"Downloading {info.title if info else name}")
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.canceled.connect(self._import_worker.cancel)
        dialog.show()
        self._import_dialog = dialog
        self.import_requested.emit(name)

    def on_import_progress(self, text: str) -> None:
        if self._import_dialog is not None:
            self._import_dialog.setLabelText(text)

    def on_import_finished(self, name: str, folder: str) -> None:
        self._close_import_dialog()
        pending, self._pending = self._pending, None
        if pending is None or pending[0].name != name:
            pending = (ModelChoice("download", name=name).cleaned(), False, self._folder)
        info = model_info(name)
        self.message.emit(Message("info", "Model ready", f"{info.title if info else name} is ready in {folder}.",
                                  popup=False))
        self._save_choice(*pending)

    def on_import_failed(self, text: str) -> None:
        self._close_import_dialog()
        self._pending = None
        self.message.emit(Message("warning", "Could not download the model",
                                  f"{text}\n\nYou can use the built-in demo model, another model or a model folder "
                                  "instead (Caption > Choose Model)."))

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
