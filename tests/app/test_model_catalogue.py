"""Several captioners (issue 28) in the app: the catalogue in the chooser and Settings, caption
styles and prompts, a folder's own model, the download of a catalogue model, and the model and
style recorded with every caption (store, CSV). Fake captioners and a fake installer: no weights,
no network."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QDialog, QMessageBox

from core.captioning.catalogue import CATALOGUE, installed_dir, model_info
from tests.app.fakes import FakeCaptioner
from tests.app.images import make_images
from tests.app.window_steps import open_folder, run_captions
from visioncap_desktop import export
from visioncap_desktop.dialogs.model_chooser import ModelChooserDialog, catalogue_text
from visioncap_desktop.dialogs.settings_dialog import SettingsDialog
from visioncap_desktop.model_choice import (
    ModelChoice,
    ModelSpec,
    choice_label,
    folder_key,
    model_spec,
    size_text,
)
from visioncap_desktop.records import CaptionSnapshot, CaptionState, ImageRecord
from visioncap_desktop.settings import Settings
from visioncap_desktop.store import CaptionStore, dump_store, parse_store


def install(name: str) -> None:
    """What a finished download leaves: the model's folder with its manifest."""
    folder = installed_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text("{}", encoding="utf-8")


class StyledFake(FakeCaptioner):
    """A fake with the surface load_captioner's captioners add: `style` and the catalogue name."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        info = model_info(spec.model)
        self.name = spec.model if info else "fake-captioner"
        self.style = info.style(spec.style).name if info and info.styles else ""
        self.prompt = spec.prompt


class Factory:
    """A captioner factory that records what the worker asked for."""

    def __init__(self):
        self.asked: list[tuple[ModelSpec, str]] = []

    def __call__(self, spec, device):
        self.asked.append((spec, device))
        return StyledFake(spec)


# --- plain decisions ------------------------------------------------------------------------------


def test_a_choice_keeps_only_the_style_and_prompt_its_model_has():
    florence = ModelChoice("download", name="florence-2-base", style="detailed", prompt="a photo of")
    assert florence.cleaned() == ModelChoice("download", name="florence-2-base", style="detailed")
    blip = ModelChoice("download", name="blip-base", style="detailed", prompt=" a photograph of ")
    assert blip.cleaned() == ModelChoice("download", name="blip-base", prompt="a photograph of")
    assert ModelChoice("demo", path="/x", style="detailed").cleaned() == ModelChoice("demo")
    assert ModelChoice("download", name="florence-2-large", style="gone").cleaned().style == "caption"
    assert ModelChoice.from_json(florence.to_json()) == florence.cleaned()
    for bad in (None, [], {"source": "nowhere"}, {"source": "download", "name": "gpt-9"}, {"source": 3}):
        assert ModelChoice.from_json(bad) is None


def test_what_is_loaded_for_a_choice(tmp_path):
    demo = tmp_path / "demo"
    florence = ModelChoice("download", name="florence-2-base", style="more-detailed")
    assert model_spec(florence, None, demo) is None  # not downloaded yet
    install("florence-2-base")
    assert model_spec(florence, None, demo) == ModelSpec("florence-2-base", "more-detailed")
    assert model_spec(florence, "/my/bundle", demo) == ModelSpec("/my/bundle")  # --model wins, default style
    assert model_spec(ModelChoice("demo"), None, demo) == ModelSpec(str(demo))
    assert model_spec(ModelChoice("folder", "/b"), None, None) == ModelSpec("/b")
    assert model_spec(ModelChoice(), None, demo) is None  # first run: nothing chosen


def test_labels_and_sizes():
    assert choice_label(ModelChoice("download", name="florence-2-base")) == "Florence-2 base, Short caption"
    assert choice_label(ModelChoice("download", name="florence-2-large", style="detailed")) \
        == "Florence-2 large, Detailed caption"
    assert choice_label(ModelChoice("download", name="blip-base", prompt="a photograph of")) \
        == "BLIP base (captioning), prompt “a photograph of”"
    assert choice_label(ModelChoice("folder", "/models/mine"), "") == "mine"
    assert choice_label(ModelChoice("demo"), "demo-shapes") == "demo-shapes"
    assert choice_label(ModelChoice()) == "none chosen"
    assert size_text(464_000_000) == "464 MB" and size_text(1_540_000_000) == "1.5 GB"


def test_settings_keep_only_valid_folder_choices(app_home):
    settings = Settings.load()
    good = ModelChoice("download", name="git-base-coco", prompt="a picture of").to_json()
    settings.set("folder_models", {"/photos/a": good, "/photos/b": {"source": "download", "name": "nope"}, "/c": 1})
    assert Settings.load().get("folder_models") == {"/photos/a": good}
    assert Settings.load().get("model_name") == "vit-gpt2-coco"  # what the app downloaded before


# --- the dialogs ------------------------------------------------------------------------------------


def test_the_chooser_lists_the_catalogue_with_size_licence_languages_and_summary(qtbot, tmp_path):
    install("blip-base")
    dialog = ModelChooserDialog(ModelChoice(), tmp_path, first_run=True)
    qtbot.addWidget(dialog)
    notes = " ".join(label.text() for label in dialog.findChildren(type(dialog.problem)))
    assert list(dialog.catalogue_radios) == [m.name for m in CATALOGUE]
    for info in CATALOGUE:
        text = dialog.catalogue_radios[info.name].text()
        assert text == catalogue_text(info, info.name == "blip-base")
        assert info.licence in text and info.languages in text and info.summary in notes
    assert "464 MB download, MIT, English" in dialog.catalogue_radios["florence-2-base"].text()
    assert "installed" in dialog.catalogue_radios["blip-base"].text()
    assert dialog.catalogue_radios["blip-base"].isChecked()  # first run: an installed model first
    assert not dialog.folder_check.isVisibleTo(dialog)  # no folder open: nothing to choose it for


def test_the_chooser_offers_styles_and_prompts_per_model(qtbot, tmp_path):
    dialog = ModelChooserDialog(ModelChoice("download", name="florence-2-base", style="detailed"), None,
                                folder=str(tmp_path), folder_own=True)
    qtbot.addWidget(dialog)
    fields = dialog.style_fields
    assert fields.isVisibleTo(dialog) and fields.style_combo.count() == 3 and fields.style() == "detailed"
    assert not fields.prompt_edit.isVisibleTo(dialog)
    assert dialog.folder_check.isChecked() and dialog.for_folder()
    dialog.catalogue_radios["blip-base"].setChecked(True)  # BLIP: no styles, a prompt
    assert not fields.style_combo.isVisibleTo(dialog) and fields.prompt_edit.isVisibleTo(dialog)
    fields.prompt_edit.setText("a photograph of")
    assert dialog.choice() == ModelChoice("download", name="blip-base", prompt="a photograph of")
    dialog.catalogue_radios["florence-2-base"].setChecked(True)  # back: the style chosen before
    assert dialog.choice() == ModelChoice("download", name="florence-2-base", style="detailed")
    dialog.catalogue_radios["vit-gpt2-coco"].setChecked(True)
    assert not fields.isVisibleTo(dialog)
    dialog.folder_check.setChecked(False)
    assert not dialog.for_folder()


def test_settings_list_the_models_with_the_style_of_the_one_in_use(qtbot):
    install("git-base-coco")
    dialog = SettingsDialog({}, "auto", 8, "Model: Florence-2 large",
                            choice=ModelChoice("download", name="florence-2-large", style="more-detailed"))
    qtbot.addWidget(dialog)
    picker = dialog.picker
    texts = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert texts == ["Built-in demo model"] + [catalogue_text(m, m.name == "git-base-coco") for m in CATALOGUE]
    assert picker.note.text().startswith(model_info("florence-2-large").summary) and "CIDEr" in picker.note.text()
    assert dialog.model_choice() == ModelChoice("download", name="florence-2-large", style="more-detailed")
    picker.style_fields.style_combo.setCurrentIndex(1)
    assert dialog.model_choice().style == "detailed"
    picker.combo.setCurrentIndex(texts.index(catalogue_text(model_info("git-base-coco"), True)))
    picker.style_fields.prompt_edit.setText("a photo of")
    assert dialog.model_choice() == ModelChoice("download", name="git-base-coco", prompt="a photo of")
    dialog.set_model("Model: mine", ModelChoice("folder", "/models/mine"))
    assert dialog.picker.combo.currentText() == "Model folder: mine" and "manifest.json" in picker.note.text()
    assert dialog.model_choice() == ModelChoice("folder", "/models/mine")
    plain = SettingsDialog({}, "auto", 8, "Model: tiny")  # under --model: no list
    qtbot.addWidget(plain)
    assert not plain.picker.isVisibleTo(plain) and plain.model_choice() is None


def choose(monkeypatch, pick):
    """Make the chooser answer with `pick(dialog)` and OK."""
    monkeypatch.setattr(ModelChooserDialog, "exec", lambda dialog: (pick(dialog), QDialog.DialogCode.Accepted)[1])


def test_a_folder_uses_its_own_model_and_style_and_each_caption_records_them(
        qtbot, make_window, tmp_path, monkeypatch):
    install("florence-2-base")
    install("vit-gpt2-coco")
    florence, plain = tmp_path / "florence", tmp_path / "plain"
    make_images(florence, 3, size=(64, 48))
    make_images(plain, 2, size=(64, 48))
    factory = Factory()
    settings = Settings.load()
    settings.set("model_source", "download")  # app-wide: ViT-GPT2, installed
    window = make_window(model=None, captioner_factory=factory, settings=settings)
    open_folder(qtbot, window, florence)

    def florence_detailed_here(dialog):
        dialog.catalogue_radios["florence-2-base"].setChecked(True)
        dialog.style_fields.style_combo.setCurrentIndex(dialog.style_fields.style_combo.findData("detailed"))
        dialog.folder_check.setChecked(True)

    choose(monkeypatch, florence_detailed_here)
    assert window.model_controller.choose_model()
    saved = Settings.load()
    assert saved.get("folder_models") == {folder_key(florence): ModelChoice(
        "download", name="florence-2-base", style="detailed").to_json()}
    assert saved.get("model_name") == "vit-gpt2-coco"  # the app-wide choice is unchanged
    qtbot.waitUntil(lambda: "Florence-2 base, Detailed caption (this folder's own)  |  Device:"
                    in window.model_label.text())
    assert run_captions(qtbot, window) == (3, 3, "completed")
    assert factory.asked[-1] == (ModelSpec("florence-2-base", "detailed"), "auto")
    records = window.gallery_model.records()
    assert {(r.model, r.style) for r in records} == {("florence-2-base", "detailed")}

    # the CSV export has the style beside the model
    out = tmp_path / "captions.csv"
    export.write_csv(out, records)
    header, first = out.read_text(encoding="utf-8-sig").splitlines()[:2]
    assert ",model,style,error" in header and ",florence-2-base,detailed," in first

    # another folder follows the app-wide model, in its (no) style
    open_folder(qtbot, window, plain)
    qtbot.waitUntil(lambda: window.model_label.text().startswith("Model: ViT-GPT2 COCO (VisionGPT2)  |"))
    assert run_captions(qtbot, window) == (2, 2, "completed")
    assert {(r.model, r.style) for r in window.gallery_model.records()} == {("vit-gpt2-coco", "")}

    # and back: the folder's own model again, its captions and styles restored from the store
    open_folder(qtbot, window, florence)
    qtbot.waitUntil(lambda: "(this folder's own)" in window.model_label.text())
    assert {(r.model, r.style) for r in window.gallery_model.records()} == {("florence-2-base", "detailed")}
    store = json.loads(CaptionStore(florence).path.read_text(encoding="utf-8"))
    assert {e["style"] for e in store["images"].values()} == {"detailed"}


def test_settings_change_the_style_of_the_folder_in_use(qtbot, make_window, image_folder, monkeypatch):
    install("florence-2-large")
    settings = Settings.load()
    for key, value in (("model_source", "download"), ("model_name", "florence-2-large")):
        settings.set(key, value)
    factory = Factory()
    window = make_window(model=None, captioner_factory=factory, settings=settings)
    open_folder(qtbot, window, image_folder)

    def more_detailed(dialog):
        # the default style, named
        assert dialog.model_choice() == ModelChoice("download", name="florence-2-large", style="caption")
        dialog.picker.style_fields.style_combo.setCurrentIndex(2)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", more_detailed)
    window.model_controller.open_settings()
    assert Settings.load().get("model_style") == "more-detailed"
    qtbot.waitUntil(lambda: factory.asked and factory.asked[-1][0] == ModelSpec("florence-2-large", "more-detailed"))
    qtbot.waitUntil(lambda: "Florence-2 large, More detailed caption (a paragraph)  |" in window.model_label.text())

    def demo_instead(dialog):
        dialog.picker.combo.setCurrentIndex(dialog.picker.combo.findText("Built-in demo model"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", demo_instead)
    window.model_controller.open_settings()
    assert Settings.load().get("model_source") == "demo"
    qtbot.waitUntil(lambda: factory.asked[-1][0].model.endswith("demo"))


def test_choosing_a_model_not_downloaded_downloads_it_then_uses_it(qtbot, make_window, tmp_path, monkeypatch):
    import threading

    gate = threading.Event()

    def fake_install(name, progress=None):
        progress(f"Downloading {name}...")
        assert gate.wait(60), "the test never let the download finish"
        install(name)
        return installed_dir(name)

    monkeypatch.setattr("visioncap_desktop.workers.model_import.install_model", fake_install)
    first, other = tmp_path / "first", tmp_path / "other"
    make_images(first, 2, size=(64, 48))
    make_images(other, 2, size=(64, 48))
    factory = Factory()
    window = make_window(model=None, captioner_factory=factory)
    open_folder(qtbot, window, first)
    asked = []
    window.prompts.ask = lambda title, text, *a: (asked.append(text), QMessageBox.StandardButton.Yes)[1]

    def git_with_a_prompt_here(dialog):
        dialog.catalogue_radios["git-base-coco"].setChecked(True)
        dialog.style_fields.prompt_edit.setText("a photo of")
        dialog.folder_check.setChecked(True)

    choose(monkeypatch, git_with_a_prompt_here)
    assert not window.model_controller.choose_model()  # not yet: downloading
    assert "GIT base (COCO)" in asked[0] and "707 MB" in asked[0] and "MIT" in asked[0]
    open_folder(qtbot, window, other)  # meanwhile another folder is opened
    gate.set()
    qtbot.waitUntil(lambda: any(t == "Model ready" for _, t, _ in window.messages))
    folders = Settings.load().get("folder_models")
    assert list(folders) == [folder_key(first)] and folders[folder_key(first)]["prompt"] == "a photo of"
    assert Settings.load().get("model_source") == ""  # only the first folder chose
    open_folder(qtbot, window, first)
    qtbot.waitUntil(lambda: factory.asked and factory.asked[-1][0] == ModelSpec("git-base-coco", "", "a photo of"))


def test_a_store_without_styles_loads_and_styles_round_trip(tmp_path):
    old = {"format": "visioncap-captions", "version": 1, "images": {
        "a.jpg": {"caption": "a dog", "state": "captioned", "model": "vit-gpt2-coco", "error": ""}}}
    assert parse_store(old)["a.jpg"].style == ""
    entries = {"b.jpg": CaptionSnapshot("a long text", CaptionState.CAPTIONED, "", "florence-2-base",
                                        style="more-detailed")}
    again = parse_store(json.loads(dump_store(tmp_path, entries)))
    assert again == entries
    record = ImageRecord("/p/b.jpg", "b.jpg")
    record.apply(again["b.jpg"])
    assert export.csv_rows([record])[0]["style"] == "more-detailed"
    assert export.CSV_COLUMNS.index("style") == export.CSV_COLUMNS.index("model") + 1


def test_a_real_florence_model_captions_a_folder_in_its_style(qtbot, make_window, image_folder, tmp_path):
    """End to end through core: a tiny random Florence-2 imported as "florence-2-base" (as its
    download would install it), loaded by the worker through core's load_captioner."""
    from core.bundles.hf_import import import_hf
    from tests.core.tiny_transformers import save_checkpoint

    save_checkpoint("florence2", tmp_path / "checkpoint")
    import_hf(tmp_path / "checkpoint", installed_dir("florence-2-base"), name="florence-2-base", licence="MIT")
    settings = Settings.load()
    for key, value in (("model_source", "download"), ("model_name", "florence-2-base"), ("model_style", "detailed"),
                       ("device", "cpu")):
        settings.set(key, value)
    window = make_window(model=None, settings=settings)
    open_folder(qtbot, window, image_folder)
    assert run_captions(qtbot, window) == (24, 24, "completed")
    records = window.gallery_model.records()
    assert all(r.caption and r.state is CaptionState.CAPTIONED for r in records)
    assert {(r.model, r.style) for r in records} == {("florence-2-base", "detailed")}
    assert window.model_label.text().startswith("Model: Florence-2 base, Detailed caption  |  Device: CPU")


def test_an_edit_keeps_the_model_and_style_that_wrote_the_caption():
    from visioncap_desktop.records import edited_snapshot

    record = ImageRecord("/p/a.jpg", "a.jpg", "a dog", CaptionState.CAPTIONED, model="florence-2-base", style="detailed")
    edited = edited_snapshot(record, "my dog")
    assert (edited.state, edited.model, edited.style) == (CaptionState.EDITED, "florence-2-base", "detailed")
