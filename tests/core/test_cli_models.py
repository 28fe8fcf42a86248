"""`visioncap caption --model NAME_OR_FOLDER --style/--prompt`, the model and style columns, and
`visioncap models`."""

import csv
import shutil

import pytest
from PIL import Image

from core.captioning.catalogue import CATALOGUE, installed_dir
from core.captioning.generation_settings import GenerationSettings
from core.captioning.loading import load_captioner
from core.cli.main import main
from core.cli.output import BEFORE_MODEL_COLUMNS, COLUMNS


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, colour in enumerate(["red", "green", "blue"]):
        Image.new("RGB", (40 + 8 * i, 30), colour).save(folder / f"img{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    return folder


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_florence_with_a_style_writes_model_and_style_columns(tiny_transformers, photos, tmp_path):
    folder = tiny_transformers["florence2"][1]
    out = tmp_path / "captions.csv"
    assert main(["caption", str(photos), "--model", str(folder), "--style", "detailed", "--device", "cpu",
                 "--max-tokens", "10", "--out", str(out)]) == 1  # the broken photo
    columns, rows = read(out)
    assert columns == list(COLUMNS) and columns[:6] == list(BEFORE_MODEL_COLUMNS)
    good = [row for row in rows if not row["error"]]
    assert len(good) == 3 and {(row["model"], row["style"]) for row in good} == {("tiny-florence2", "detailed")}
    expected = load_captioner(folder, device="cpu", style="detailed").caption(
        sorted(photos.glob("img*.png")), GenerationSettings(max_new_tokens=10))
    assert [row["caption"] for row in sorted(good, key=lambda r: r["path"])] == [r.caption for r in expected]
    failed = next(row for row in rows if row["error"])
    assert failed["model"] == "" and failed["path"].endswith("broken.jpg")


def test_blip_with_a_prompt_and_visiongpt2_rows_have_no_style(tiny_transformers, tiny_bundle, photos, tmp_path):
    out = tmp_path / "blip.csv"
    assert main(["caption", str(photos / "img0.png"), "--model", str(tiny_transformers["blip"][1]),
                 "--prompt", "a photograph of", "--out", str(out)]) == 0
    assert [(r["model"], r["style"]) for r in read(out)[1]] == [("tiny-blip", "")]
    assert main(["caption", str(photos / "img0.png"), "--model", str(tiny_bundle), "--out", str(out)]) == 0
    assert [(r["model"], r["style"]) for r in read(out)[1]] == [("tiny-test", "")]


@pytest.mark.parametrize("options, message", [
    (["--prompt", "a photo of"], "takes no prompt"),
    (["--style", "poem"], "has no style 'poem'; it has: caption, detailed, more-detailed"),
])
def test_a_style_or_prompt_the_model_lacks_is_a_usage_error(tiny_transformers, photos, tmp_path, capsys, options, message):
    out = tmp_path / "x.csv"
    assert main(["caption", str(photos), "--model", str(tiny_transformers["florence2"][1]), *options,
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_style_on_a_visiongpt2_bundle_is_a_usage_error(tiny_bundle, photos, tmp_path, capsys):
    assert main(["caption", str(photos), "--model", str(tiny_bundle), "--style", "detailed",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "VisionGPT2 models have no caption styles" in capsys.readouterr().err


def test_a_model_name_not_installed_says_how_to_install_it(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VISIONCAP_HOME", str(tmp_path / "home"))
    assert main(["caption", str(photos), "--model", "florence-2-large", "--out", str(tmp_path / "x.csv")]) == 2
    assert "install it with: visioncap import-hf florence-2-large" in capsys.readouterr().err


def test_resume_keeps_rows_of_a_csv_written_before_the_model_columns(tiny_transformers, photos, tmp_path):
    out = tmp_path / "old.csv"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(BEFORE_MODEL_COLUMNS)
        img0 = photos / "img0.png"
        writer.writerow([str(img0), "an old caption", "", str(img0.resolve()), "model", ""])
    assert main(["caption", str(photos), "--model", str(tiny_transformers["git"][1]), "--resume",
                 "--out", str(out)]) == 1
    columns, rows = read(out)
    assert columns == list(COLUMNS)
    assert rows[0]["caption"] == "an old caption" and rows[0]["model"] == ""
    assert {r["model"] for r in rows[1:] if not r["error"]} == {"tiny-git"}


@pytest.mark.parametrize("options, message", [
    (["--model", "florence-2-base", "--prompt", "a photo of"], "--prompt: Florence-2 base takes no prompt"),
    (["--model", "blip-base", "--style", "detailed"], "--style: BLIP base (captioning) has no caption styles"),
])
def test_a_catalogue_models_style_and_prompt_are_checked_before_loading(photos, tmp_path, capsys, monkeypatch,
                                                                         options, message):
    monkeypatch.setenv("VISIONCAP_HOME", str(tmp_path / "home"))  # nothing installed: checked before that
    with pytest.raises(SystemExit) as usage:
        main(["caption", str(photos), *options, "--out", str(tmp_path / "x.csv")])
    assert usage.value.code == 2 and message in capsys.readouterr().err


def test_models_lists_the_catalogue_and_what_is_installed(tiny_transformers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VISIONCAP_HOME", str(tmp_path / "home"))
    shutil.copytree(tiny_transformers["git"][1], installed_dir("git-base-coco"))
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for info in CATALOGUE:
        line = next(line for line in lines if line.startswith(info.name + " "))
        assert info.licence in line and info.title in line
        assert (" yes " in line) == (info.name == "git-base-coco")
    florence = next(line for line in lines if line.startswith("florence-2-base "))
    assert "caption, detailed, more-detailed" in florence and "0.46 GB" in florence
    assert "--prompt" in next(line for line in lines if line.startswith("blip-base "))
    assert main(["caption", str(tmp_path), "--model", "git-base-coco", "--out", str(tmp_path / "x.csv")]) == 0
