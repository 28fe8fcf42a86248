"""`python -m training check-data`: the kind, the counts, every problem named, the split train makes."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image

from tests.training.trainkit import write_csv
from training.__main__ import main
from training.config import TrainConfig
from training.splits import read_splits


def _dataset(folder):
    """Ten images: one missing, one not an image, one an identical copy of another."""
    folder.mkdir()
    rows = []
    for i in range(8):
        Image.fromarray(np.full((16, 16, 3), 25 * i, dtype=np.uint8)).save(folder / f"{i}.png")
        rows += [(f"{i}.png", "a grey square"), (f"{i}.png", f"a square of grey level {25 * i} on nothing at all")]
    shutil.copyfile(folder / "3.png", folder / "copy-of-3.png")
    (folder / "broken.png").write_bytes(b"not a png at all")
    rows += [("copy-of-3.png", "a grey square"), ("broken.png", "a broken file"), ("gone.png", "a missing file")]
    path = write_csv(folder / "captions.csv", rows)
    with path.open("a") as stream:
        stream.write("only-one-cell\n")
    return path


def test_check_data_names_every_problem_and_shows_the_split(tmp_path, capsys):
    captions = _dataset(tmp_path / "data")
    code = main(["check-data", str(captions), "--val-fraction", "0.2", "--seed", "3", "--json", str(tmp_path / "r.json")])
    assert code == 1  # problems found
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["kind"] == "csv"  # detected
    assert (report["captions"], report["images"]) == (19, 11)
    assert report["missing_images"] == [str(tmp_path / "data" / "gone.png")]
    assert list(report["unreadable_images"]) == [str(tmp_path / "data" / "broken.png")]
    assert report["duplicate_images"] == [[str(tmp_path / "data" / "3.png"), str(tmp_path / "data" / "copy-of-3.png")]]
    assert report["skipped_rows"] == {"wrong number of cells": 1}
    assert report["caption_words"]["min"] == 3 and report["caption_words"]["max"] == 10
    assert "gone.png" in out and "broken.png" in out and "copy-of-3.png" in out and "captions.csv:21" in out

    # the split is the one train makes from the same data, fraction and seed
    train, val, _ = read_splits(TrainConfig(train=str(captions), val_fraction=0.2, seed=3))
    split = report["split"]
    assert (split["train"]["captions"], split["val"]["captions"]) == (len(train), len(val))
    assert (split["train"]["images"], split["val"]["images"]) == (len({r.image for r in train}),
                                                                  len({r.image for r in val}))


def test_check_data_of_a_clean_coco_file_and_of_an_unreadable_one(tmp_path, capsys):
    images = tmp_path / "coco" / "val2017"
    images.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 80 * i, dtype=np.uint8)).save(images / f"{i}.jpg")
    annotation = tmp_path / "coco" / "annotations" / "captions_val2017.json"
    annotation.parent.mkdir()
    annotation.write_text(json.dumps({
        "images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(3)],
        "annotations": [{"id": i, "image_id": i, "caption": f"picture number {i}"} for i in range(3)],
    }))
    assert main(["check-data", str(annotation), "--decode"]) == 0
    out = capsys.readouterr().out
    assert "coco" in out and "3 captions of 3 images" in out and "missing image files: 0" in out

    (tmp_path / "bad.csv").write_text("{" + '"x": 1, ' * 100_000 + "}")
    assert main(["check-data", str(tmp_path / "bad.csv"), "--kind", "csv"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "is JSON, not CSV" in err and len(err) < 500
