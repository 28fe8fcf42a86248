"""A bundle records no path of the machine it was trained on, and no notes of the recipe: the
rules of training.provenance, and the demo bundle the app ships."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from core.bundles.verification import sha256_file
from training.provenance import portable_command, portable_path, portable_provenance

ROOT = Path(Path.cwd().anchor)  # "/", or a drive on Windows: absolute paths on any system
RUN = ROOT / "home" / "me" / "runs" / "tiny"
RECIPE = ROOT / "home" / "me" / "recipes" / "tiny.json"
DEMO = Path(__file__).resolve().parents[2] / "core" / "assets" / "demo"


def test_paths_inside_the_run_are_relative_to_it_others_only_their_file_name():
    assert portable_path(str(RUN), RUN) == "."
    assert portable_path(str(RUN / "checkpoints" / "step-00000010"), RUN) == "checkpoints/step-00000010"
    assert portable_path(str(RECIPE), RUN) == "tiny.json"
    assert portable_path("data/train.csv", RUN) == "data/train.csv"  # relative, as typed
    assert portable_path("vit_base_patch16_224", RUN) == "vit_base_patch16_224"  # a timm name


def test_commands_keep_their_arguments_and_lose_the_machine_paths():
    command = shlex.join([
        "python", "-m", "training", "train", "--model-config", str(RECIPE), "--out", str(RUN),
        "--set", f"tokenizer={ROOT / 'srv' / 'tok.json'}", f"--out={RUN}",
        "--bundle-description", "it is a/b test", "--train", "data/train.csv"])
    assert portable_command(command, RUN) == (
        "python -m training train --model-config tiny.json --out . --set tokenizer=tok.json --out=. "
        "--bundle-description 'it is a/b test' --train data/train.csv")


def test_provenance_paths_are_made_portable_at_any_depth():
    provenance = {
        "init": "scratch", "model_config": str(RECIPE),
        "command": shlex.join(["python", "-m", "training", "train", "--out", str(RUN)]), "resume_commands": [],
        "data": {"kind": "csv", "train": str(ROOT / "data" / "train.csv"), "splits": {"train": {"records": 4}}},
        "train_config": {"out": str(RUN), "vit_weights": "vit_base_patch16_224", "bundle_name": "x"},
    }
    assert portable_provenance(provenance, RUN) == {
        "init": "scratch", "model_config": "tiny.json",
        "command": "python -m training train --out .", "resume_commands": [],
        "data": {"kind": "csv", "train": "train.csv", "splits": {"train": {"records": 4}}},
        "train_config": {"out": ".", "vit_weights": "vit_base_patch16_224", "bundle_name": "x"},
    }


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_the_demo_bundle_carries_no_machine_paths_nor_recipe_notes():
    manifest = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    for text in _strings(manifest["provenance"]):
        assert not any(Path(word.strip("'\"")).is_absolute() for word in text.split()), text
    assert json.loads((DEMO / "config.json").read_text(encoding="utf-8"))["extra"] == {}
    for name, listed in manifest["files"].items():  # the manifest still matches its files
        assert (DEMO / name).stat().st_size == listed["bytes"]
        assert sha256_file(DEMO / name) == listed["sha256"], name
