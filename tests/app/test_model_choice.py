"""Choosing the model: the chooser and settings dialogs, and the download worker (with core's
installer replaced: no network in tests)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QDialog, QMessageBox

from tests.app.window_steps import open_folder, run_captions
from visioncap_desktop.dialogs.model_chooser import ModelChooserDialog
from visioncap_desktop.dialogs.settings_dialog import SettingsDialog, device_choices
from visioncap_desktop.model_choice import ModelChoice
from visioncap_desktop.settings import Settings
from visioncap_desktop.widgets.run_progress import format_duration, rate_text
from visioncap_desktop.workers.model_import import ModelImportWorker


def test_chosen_bundle_folder_persists_and_is_used(qtbot, make_window, image_folder, tiny_bundle, monkeypatch):
    def choose_folder(dialog):
        dialog.folder_radio.setChecked(True)
        dialog.folder_edit.setText(str(tiny_bundle))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ModelChooserDialog, "exec", choose_folder)
    window = make_window(model=None)  # no --model: the saved choice counts
    assert window.model_controller.bundle_path() is None
    open_folder(qtbot, window, image_folder)
    assert run_captions(qtbot, window)[2] == "completed"  # asked for a model, then ran
    saved = Settings.load()
    assert (saved.get("model_source"), saved.get("model_path")) == ("folder", str(tiny_bundle))


def test_chooser_refuses_a_missing_folder_and_offers_no_missing_demo(qtbot, tmp_path):
    dialog = ModelChooserDialog(ModelChoice(), None, first_run=True)
    qtbot.addWidget(dialog)
    assert not dialog.demo_radio.isEnabled()
    assert "982 MB download" in dialog.catalogue_radios["vit-gpt2-coco"].text()
    dialog.folder_radio.setChecked(True)
    dialog.folder_edit.setText(str(tmp_path / "nowhere"))
    dialog._accept_if_valid()
    assert dialog.result() != QDialog.DialogCode.Accepted and "not a folder" in dialog.problem.text()
    dialog.catalogue_radios["vit-gpt2-coco"].setChecked(True)
    assert dialog.choice() == ModelChoice("download", name="vit-gpt2-coco")


def test_settings_dialog_values_are_remembered(qtbot, make_window, monkeypatch):
    def change(dialog):
        dialog.strategy.setCurrentIndex(dialog.strategy.findData("sample"))
        dialog.temperature.setValue(0.7)
        dialog.top_k.setValue(40)
        dialog.max_new_tokens.setValue(20)
        dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
        dialog.batch_size.setValue(3)
        assert dialog.temperature.isEnabled() and not dialog.num_beams.isEnabled()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", change)
    window = make_window()
    window.model_controller.open_settings()
    saved = Settings.load()
    assert saved.get("generation")["strategy"] == "sample" and saved.get("generation")["temperature"] == 0.7
    assert saved.get("generation")["top_k"] == 40 and saved.get("generation")["max_new_tokens"] == 20
    assert saved.get("device") == "cpu" and saved.get("batch_size") == 3


def test_settings_and_status_bar_name_the_devices_the_worker_found(qtbot, make_window, monkeypatch):
    seen = []

    def look(dialog):
        seen.extend((dialog.device.itemText(row), dialog.device.model().item(row).isEnabled())
                    for row in range(dialog.device.count()))
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(SettingsDialog, "exec", look)
    window = make_window()  # loads the tiny bundle on "auto" at start, which loads torch
    qtbot.waitUntil(lambda: window.model_controller.devices is not None, timeout=30000)
    devices = window.model_controller.devices
    qtbot.waitUntil(lambda: f"Device: {devices.names[devices.auto]}" in window.model_label.text(), timeout=30000)
    window.model_controller.open_settings()
    assert seen == [(choice.text, choice.enabled) for choice in device_choices(devices, "auto")]
    assert "cpu" in devices.names and len(seen) == 5


class Driver(QObject):
    run = Signal(str)


def run_import(qtbot, worker, name="vit-gpt2-coco"):
    thread = QThread()
    worker.moveToThread(thread)
    thread.start()
    driver = Driver()
    driver.run.connect(worker.run)
    got = []
    # a QObject-owned slot in this thread, so the worker's signals arrive queued
    relay = Relay(got)
    worker.import_finished.connect(relay.finished)
    worker.import_failed.connect(relay.failed)
    worker.progress.connect(relay.progress)
    try:
        driver.run.emit(name)
        qtbot.waitUntil(lambda: any(item[0] in ("finished", "failed") for item in got), timeout=10000)
    finally:
        thread.quit()
        thread.wait()
    return got


class Relay(QObject):
    def __init__(self, got):
        super().__init__()
        self.got = got

    def finished(self, name, path):
        self.got.append(("finished", name, path))

    def failed(self, message):
        self.got.append(("failed", message))

    def progress(self, message):
        self.got.append(("progress", message))


def test_download_worker_installs_by_name(qtbot, tmp_path):
    asked = []

    def fake_install(name, progress=None):
        asked.append(name)
        progress("Downloading model.safetensors...")
        return tmp_path / "models" / name

    got = run_import(qtbot, ModelImportWorker(installer=fake_install), "florence-2-base")
    assert asked == ["florence-2-base"]
    assert ("progress", "Downloading model.safetensors...") in got
    assert got[-1] == ("finished", "florence-2-base", str(tmp_path / "models" / "florence-2-base"))


def test_download_worker_offline_says_so(qtbot):
    from core.bundles.hf_import import OfflineError

    def offline(name, progress=None):
        raise OfflineError(f"cannot reach the model hub to download {name}: no network")

    got = run_import(qtbot, ModelImportWorker(installer=offline))
    assert got[-1][0] == "failed" and "cannot reach the model hub" in got[-1][1]


def test_download_worker_cancel(qtbot):
    def slow(name, progress=None):
        progress("downloading...")
        worker.cancel()  # the user presses Cancel in the progress dialog meanwhile
        progress("still downloading...")  # the next report stops the download
        raise AssertionError("not cancelled")

    worker = ModelImportWorker(installer=slow)
    got = run_import(qtbot, worker)
    assert got[-1] == ("failed", "The download was cancelled.")


def test_offline_download_message_offers_the_other_choices(qtbot, make_window):
    window = make_window()
    window.model_controller.on_import_failed("cannot reach the model hub to download nlpconnect/vit-gpt2-image-captioning")
    level, _title, text = window.messages[-1]
    assert level == "warning" and "cannot reach" in text and "demo model, another model or a model folder" in text


def test_download_needs_confirmation(qtbot, make_window, monkeypatch):
    asked = []
    monkeypatch.setattr(ModelChooserDialog, "exec", lambda dialog: (
        dialog.catalogue_radios["vit-gpt2-coco"].setChecked(True), QDialog.DialogCode.Accepted)[1])
    window = make_window(model=None)
    window.prompts.ask = lambda title, text, *a: (asked.append(text), QMessageBox.StandardButton.No)[1]
    assert not window.model_controller.choose_model()
    assert "982 MB" in asked[0] and "Apache-2.0" in asked[0]
    assert Settings.load().get("model_source") == ""


def test_rate_and_time_left():
    assert rate_text(0, 10, 1.0) == "starting..."
    assert rate_text(5, 10, 2.0) == "2.5 images/s, 0:02 left"
    assert format_duration(3725) == "1:02:05"
