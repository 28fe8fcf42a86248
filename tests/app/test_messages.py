"""What the app tells the user: the model chooser's lines, the subfolder question, why there is
nothing to caption, the overwrite hint, the device advice and the device list, the remembered
export folder, the About box and the view icons."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

import visioncap_desktop
from core.captioning.catalogue import installed_dir
from core.captioning.device import DeviceInventory
from tests.app.images import make_images
from tests.app.window_steps import focused, open_folder
from visioncap_desktop.controllers import decisions
from visioncap_desktop.controllers.decisions import (
    about_text,
    app_version,
    model_failure_advice,
    nothing_to_caption,
    subfolder_question,
)
from visioncap_desktop.dialogs.export_dialog import ExportDialog
from visioncap_desktop.dialogs.model_chooser import ModelChooserDialog, preselected
from visioncap_desktop.dialogs.settings_dialog import SettingsDialog, device_choices
from visioncap_desktop.model_choice import ModelChoice
from visioncap_desktop.records import CaptionSnapshot, CaptionState, ImageRecord
from visioncap_desktop.settings import DEVICES

CTRL = Qt.KeyboardModifier.ControlModifier
ROOT = Path(__file__).resolve().parents[2]


def record(name: str, state: CaptionState = CaptionState.PENDING) -> ImageRecord:
    return ImageRecord(f"/p/{name}", name, "x" if state is not CaptionState.PENDING else "", state)


def test_reasons_for_nothing_to_caption():
    edited = [record("a", CaptionState.EDITED), record("b", CaptionState.EDITED)]
    captioned = [record("c", CaptionState.CAPTIONED)]
    assert "no images" in nothing_to_caption("all", [], [], False)
    assert "no image is selected" in nothing_to_caption("selected", edited, [], False)
    assert "every image has a caption" in nothing_to_caption("uncaptioned", captioned, [], False)
    text = nothing_to_caption("selected", edited + captioned, edited, False)
    assert "the 2 selected images have captions you edited, which runs keep" in text
    assert "Overwrite Edited Captions" in text
    assert "all 2 images have captions you edited" in nothing_to_caption("all", edited, [], False)
    assert "the only image has a caption you edited" in nothing_to_caption("all", edited[:1], [], False)
    # issue 24: captions read from .txt files are not "captions you edited"
    from_files = [ImageRecord(f"/p/{n}", n, "x", CaptionState.EDITED, source="txt") for n in ("c", "d")]
    text = nothing_to_caption("all", from_files, [], False)
    assert "all 2 images have captions read from .txt files, which runs keep" in text
    mixed = nothing_to_caption("all", edited + from_files, [], False)
    assert "all 4 images have captions runs keep (2 you edited, 2 read from .txt files)" in mixed


def test_subfolder_question_advice_version_and_about():
    assert subfolder_question(12) == "No images here; 12 in subfolders: include them?"
    assert "10,000+" in subfolder_question(decisions.SUBFOLDER_COUNT_LIMIT)
    device_advice = "Choose another device in Caption > Settings > Device."
    for text in ("cuda was requested but this PyTorch build or machine has no CUDA device",
                 "cuda was requested but this PyTorch build or machine has no ROCm device",
                 "mps was requested but this PyTorch build or machine has no MPS device",
                 "xpu:1 was requested but this machine has 1 XPU device(s), the last xpu:0",
                 "bf16 was requested on mps, but bf16 on MPS needs PyTorch 2.6 or newer and macOS 14 or newer"):
        assert model_failure_advice(text) == device_advice
    assert "Choose Model" in model_failure_advice("manifest.json: timestamps missing")
    assert "Choose Model" in model_failure_advice("model.safetensors: truncated")
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)[1]
    assert visioncap_desktop.__version__ == version
    assert app_version() == version
    text = about_text("1.2.3", "Model: tiny  |  Device: CPU", "/captions")
    assert text.startswith("VisionCap 1.2.3") and "Model: tiny  |  Device: CPU" in text


def test_version_falls_back_to_the_package(monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    monkeypatch.setattr(visioncap_desktop, "__version__", "9.9.9")
    assert app_version() == "9.9.9"


def test_model_chooser_explains_each_choice_and_preselects_the_installed_photo_captioner(qtbot, tmp_path):
    target = installed_dir("vit-gpt2-coco")
    dialog = ModelChooserDialog(ModelChoice(), tmp_path, first_run=True)
    qtbot.addWidget(dialog)
    texts = " ".join(label.text() for label in dialog.findChildren(type(dialog.problem)))
    assert "coloured shapes only" in texts and "Short everyday captions" in texts
    assert "982 MB download, Apache-2.0, English" in dialog.catalogue_radios["vit-gpt2-coco"].text()
    assert dialog.demo_radio.isChecked()  # nothing downloaded: the demo, said to be shapes only
    target.mkdir(parents=True)
    (target / "manifest.json").write_text("{}", encoding="utf-8")
    dialog = ModelChooserDialog(ModelChoice(), tmp_path, first_run=True)
    qtbot.addWidget(dialog)
    radio = dialog.catalogue_radios["vit-gpt2-coco"]
    assert radio.isChecked() and "installed" in radio.text()
    assert preselected("folder", True, True) == "folder"  # a saved choice wins
    assert preselected("", False, False) == "folder"


CPU_ONLY = DeviceInventory({"cpu": "CPU (AVX2)"}, "cpu")
APPLE = DeviceInventory({"cpu": "CPU", "mps": "Apple M2 GPU (MPS)"}, "mps")


def test_device_choices_name_what_is_there_and_say_what_is_not():
    texts = {c.key: (c.text, c.enabled) for c in device_choices(CPU_ONLY, "auto")}
    assert texts == {
        "auto": ("Automatic: the CPU (no GPU that PyTorch can use)", True),
        "cpu": ("CPU (AVX2)", True),
        "cuda": ("NVIDIA or AMD GPU (CUDA, ROCm): not available on this computer", False),
        "mps": ("Apple GPU (MPS): not available on this computer", False),
        "xpu": ("Intel GPU (XPU): not available on this computer", False),
    }
    apple = {c.key: c for c in device_choices(APPLE, "auto")}
    assert apple["auto"].text == "Automatic: Apple M2 GPU (MPS)"
    assert apple["mps"].text == "Apple M2 GPU (MPS)" and apple["mps"].enabled and not apple["mps"].tip
    assert not apple["cuda"].enabled and "needs a CUDA build of PyTorch" in apple["cuda"].tip
    kept = {c.key: c.enabled for c in device_choices(APPLE, "xpu")}  # a saved choice stays, to be changed
    assert kept["xpu"] and not kept["cuda"]
    unknown = device_choices(None, "auto")  # PyTorch not loaded yet: nothing is known, all offered
    assert all(c.enabled for c in unknown) and [c.key for c in unknown] == list(DEVICES)


def test_settings_dialog_lists_the_devices(qtbot):
    dialog = SettingsDialog({}, "auto", 8, "Model: tiny", devices=CPU_ONLY)
    qtbot.addWidget(dialog)
    cuda = dialog.device.findData("cuda")
    assert dialog.device.itemText(cuda) == "NVIDIA or AMD GPU (CUDA, ROCm): not available on this computer"
    assert not dialog.device.model().item(cuda).isEnabled()
    assert "finds no NVIDIA or AMD GPU" in dialog.device.itemData(cuda, Qt.ItemDataRole.ToolTipRole)
    assert dialog.device_choice() == "auto"
    kept = SettingsDialog({}, "cuda", 8, "", devices=CPU_ONLY)
    qtbot.addWidget(kept)
    assert kept.device_choice() == "cuda" and kept.device.model().item(cuda).isEnabled()
    apple = SettingsDialog({}, "mps", 8, "", devices=APPLE)
    qtbot.addWidget(apple)
    assert apple.device.currentText() == "Apple M2 GPU (MPS)" and apple.device_choice() == "mps"
    unknown = SettingsDialog({}, "auto", 8, "", devices=None)
    qtbot.addWidget(unknown)
    assert unknown.device.itemText(cuda) == "NVIDIA or AMD GPU (CUDA, ROCm)"


def test_cuda_failure_points_to_settings_device(qtbot, make_window):
    window = make_window()
    window.model_controller.on_model_failed("CUDA was requested but this PyTorch build or machine has no CUDA device")
    assert window.messages[-1][2].endswith("Choose another device in Caption > Settings > Device.")
    for box in window.findChildren(QMessageBox):
        box.close()


def test_subfolder_question_includes_them(qtbot, make_window, tmp_path):
    folder = tmp_path / "nested"
    make_images(folder / "day1", 3, size=(32, 24))
    make_images(folder / "day2", 2, size=(32, 24), start=3)
    window = make_window()
    assert open_folder(qtbot, window, folder, include_subfolders=False) == 0
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)))
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert box.text() == "No images here; 5 in subfolders: include them?"
    with qtbot.waitSignal(window.folder_loaded, timeout=15000) as loaded:
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    assert loaded.args[1] == 5 and window.action_controller.subfolders_action.isChecked()


def test_nothing_to_caption_and_the_overwrite_hint_in_the_window(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    qtbot.waitUntil(lambda: not window.folder_controller.reading)  # captions already in the files come first
    actions = window.action_controller
    assert "captions you edited are kept" in actions.caption_all_action.toolTip()
    model = window.gallery_model
    model.set_snapshots({r.path: CaptionSnapshot("mine", CaptionState.EDITED) for r in model.records()})
    focused(qtbot, window, window.gallery_view)
    qtbot.keyClick(window.gallery_view, Qt.Key.Key_R, CTRL)  # Caption Uncaptioned
    assert window.statusBar().currentMessage().startswith("Nothing to caption: every image has a caption")
    qtbot.keyClick(window.gallery_view, Qt.Key.Key_R, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert "the selected image has a caption you edited" in window.statusBar().currentMessage()
    assert window.statusBar().currentMessage().endswith("to replace it.")
    actions.overwrite_action.trigger()
    assert "captions you edited are replaced" in actions.caption_all_action.toolTip()
    assert "captions you edited are replaced" in actions.caption_selected_action.statusTip()


def test_export_dialog_remembers_its_folder(qtbot, make_window, image_folder, tmp_path, monkeypatch):
    starts = []
    elsewhere = tmp_path / "exports"
    elsewhere.mkdir()

    def save_name(parent, title, start, filters):
        starts.append(Path(start).parent)
        return str(elsewhere / "mine.csv"), filters

    monkeypatch.setattr(ExportDialog, "exec", lambda dialog: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    window = make_window()
    open_folder(qtbot, window, image_folder)
    window.action_controller.export_action.trigger()
    window.action_controller.export_action.trigger()
    assert starts == [image_folder.resolve(), elsewhere]
    assert (elsewhere / "mine.csv").is_file()
    assert window.settings.get("export_folder") == str(elsewhere)


def test_about_box_shows_version_and_model(qtbot, make_window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window = make_window()
    window.action_controller.about_action.trigger()
    assert shown[0].startswith(f"VisionCap {visioncap_desktop.__version__}")
    assert window.model_controller.model_text and window.model_controller.model_text in shown[0]
