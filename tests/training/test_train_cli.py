"""The `python -m training` commands: evaluate's JSON, synthetic's dispatch, train's flags,
and gpu_check without a GPU."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.tiny import tiny_config
from tests.training.trainkit import shapes_dataset, write_csv
from training.__main__ import main
from training.config import TrainConfig

REQUIRED_KEYS = {"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider", "perplexity", "exact_match"}


def test_evaluate_writes_the_metrics_json(tiny_bundle, tmp_path, capsys):
    rows = []
    for i in range(3):
        Image.fromarray(np.full((20, 30, 3), 60 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
        rows += [(f"{i}.png", "a dog runs on the beach"), (f"{i}.png", "two people riding bikes")]
    (tmp_path / "bad.png").write_bytes(b"not an image")
    rows.append(("bad.png", "a plate of food"))
    captions = write_csv(tmp_path / "test.csv", rows)

    code = main(["evaluate", "--model", str(tiny_bundle), "--captions", str(captions),
                 "--json", str(tmp_path / "m.json"), "--no-meteor", "--precision", "fp32", "--max-tokens", "8"])
    assert code == 0
    results = json.loads((tmp_path / "m.json").read_text())
    assert set(results) >= REQUIRED_KEYS
    assert results["images"] == 3 and results["bad_images"] == 1
    assert results["captions"] == 6  # every reference of every readable image
    assert results["perplexity"] > 1.0
    assert "bleu4" in capsys.readouterr().out


def _karpathy_coco(folder):
    """dataset_coco.json: 3 train, 1 val and 2 test images of COCO 2014, five sentences each."""
    splits = ["train", "train", "restval", "val", "test", "test"]
    entries = []
    for i, split in enumerate(splits):
        filepath = "train2014" if split == "train" else "val2014"
        filename = f"COCO_{filepath}_{i + 1:012d}.jpg"
        (folder / filepath).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((20, 30, 3), 40 * i, dtype=np.uint8)).save(folder / filepath / filename)
        sentences = [{"tokens": ["a", "dog"], "raw": f"A dog, view {k} of picture {i}.", "imgid": i,
                      "sentid": 5 * i + k} for k in range(5)]
        entries.append({"filepath": filepath, "sentids": [5 * i + k for k in range(5)], "filename": filename,
                        "imgid": i, "split": split, "sentences": sentences, "cocoid": i + 1})
    path = folder / "dataset_coco.json"
    path.write_text(json.dumps({"images": entries, "dataset": "coco"}))
    return path


def test_evaluate_scores_the_karpathy_test_split_against_all_five_references(tiny_bundle, tmp_path, capsys):
    annotation = _karpathy_coco(tmp_path / "coco")
    args = ["evaluate", "--model", str(tiny_bundle), "--captions", str(annotation), "--no-meteor",
            "--precision", "fp32", "--max-tokens", "4", "--no-perplexity"]
    code = main([*args, "--split", "test", "--json", str(tmp_path / "m.json"),
                 "--predictions", str(tmp_path / "p.csv")])
    assert code == 0
    results = json.loads((tmp_path / "m.json").read_text())
    assert (results["images"], results["captions"], results["split"]) == (2, 10, "test")
    with (tmp_path / "p.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [Path(row["image"]).name for row in rows] == ["COCO_val2014_000000000005.jpg",
                                                         "COCO_val2014_000000000006.jpg"]
    assert rows[0]["references"].split(" | ") == [f"A dog, view {k} of picture 4." for k in range(5)]
    assert "test split" in capsys.readouterr().out

    assert main([*args, "--json", str(tmp_path / "v.json")]) == 0  # default: the val split
    assert json.loads((tmp_path / "v.json").read_text())["images"] == 1
    assert main([*args, "--split", "test", "--limit", "3", "--json", str(tmp_path / "l.json")]) == 0
    limited = json.loads((tmp_path / "l.json").read_text())
    assert (limited["images"], limited["captions"]) == (1, 5)  # the image cut at 3 keeps its 5 references
    flat = write_csv(tmp_path / "flat.csv", [("coco/val2014/COCO_val2014_000000000005.jpg", "a dog")])
    assert main([*args, "--captions", str(flat), "--split", "test"]) == 2
    assert "flat.csv: a csv file has no splits to pick 'test' from" in capsys.readouterr().err


def test_evaluate_reports_a_missing_bundle(tmp_path, capsys):
    captions = write_csv(tmp_path / "test.csv", [("x.png", "a dog")])
    assert main(["evaluate", "--model", str(tmp_path / "nowhere"), "--captions", str(captions)]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_synthetic_command_dispatches(tmp_path):
    assert main(["synthetic", "--out", str(tmp_path / "s"), "--n", "4", "--image-size", "32"]) == 0
    assert (tmp_path / "s" / "train.csv").is_file()


def test_unknown_command_and_help(capsys):
    assert main(["bogus"]) == 2
    assert main(["--help"]) == 0
    assert "evaluate" in capsys.readouterr().out


def test_train_command_trains_and_exports_a_named_bundle(tmp_path):
    data = shapes_dataset(tmp_path / "data", 24, seed=1)
    model_json = tmp_path / "model.json"
    tiny_config(extra={"why": "a note about the recipe"}).save(model_json)
    export = tmp_path / "demo"
    code = main([
        "train", "--train", str(data / "train.csv"), "--val-fraction", "0.2", "--from-scratch",
        "--model-config", str(model_json), "--epochs", "1", "--batch-size", "8", "--precision", "fp32",
        "--workers", "0", "--threads", "1", "--no-progress", "--out", str(tmp_path / "run"),
        "--export-bundle", str(export), "--bundle-name", "demo-shapes",
        "--bundle-description", "trained on synthetic shapes", "--bundle-licence", "MIT",
    ])
    assert code == 0
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["name"] == "demo-shapes" and manifest["licence"] == "MIT"
    assert "--export-bundle" in manifest["provenance"]["command"]
    # no path of this machine and no recipe notes in what is shared (training.provenance)
    assert "--model-config model.json" in manifest["provenance"]["command"]
    assert str(tmp_path) not in (export / "manifest.json").read_text(encoding="utf-8")
    assert json.loads((export / "config.json").read_text())["extra"] == {}
    saved = TrainConfig.load(tmp_path / "run" / "train_config.json")
    assert saved.init == "scratch" and saved.stages is None


def test_each_training_run_logs_into_its_own_file_and_closes_it(tmp_path):
    """A second run in the same process logs into its own train.log, never the first run's, and
    each run's handlers leave with it (closed: no file is left open)."""
    import logging

    from training.train import run_logging

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    log = logging.getLogger("training.test")
    files = []
    for name in ("first", "second"):
        with run_logging(tmp_path / name, rank=0):
            log.info("the %s run", name)
            files += [h for h in root.handlers if getattr(h, "baseFilename", "").startswith(str(tmp_path))]
        assert (list(root.handlers), root.level) == before
    assert [f.baseFilename for f in files] == [str(tmp_path / n / "train.log") for n in ("first", "second")]
    assert all(f.stream is None for f in files)  # closed
    first, second = ((tmp_path / n / "train.log").read_text(encoding="utf-8") for n in ("first", "second"))
    assert "INFO training.test: the first run" in first and "second" not in first
    assert "the second run" in second and "first" not in second


def test_gpu_check_says_why_it_cannot_run(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; gpu_check would really run")
    from training.gpu_check import main as gpu_check

    assert gpu_check([]) == 2
    assert "CUDA" in capsys.readouterr().err
