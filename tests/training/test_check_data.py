"""`python -m training check-data`: the kind, the counts, every problem named, the split train makes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.photo_files import save_png_claiming
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
    assert main(["check-data", str(annotation), "--decode", "--val-fraction", "0.34"]) == 0
    out = capsys.readouterr().out
    assert "coco" in out and "3 captions of 3 images" in out and "missing image files: 0" in out
    assert "val 1 caption of 1 image" in out and "warning: validation has only 1 image" in out

    (tmp_path / "bad.csv").write_text("{" + '"x": 1, ' * 100_000 + "}")
    assert main(["check-data", str(tmp_path / "bad.csv"), "--kind", "csv"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "is JSON, not CSV" in err and len(err) < 500


def _pictures(folder, n, start=0):
    """n distinct tiny PNGs named 0.png, 1.png, ... (from `start`) and an image,caption row each."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(start, start + n):
        Image.fromarray(np.full((8, 8, 3), (7 * i) % 256, dtype=np.uint8)).save(folder / f"{i}.png")
        rows.append((f"{i}.png", f"a square of grey level {(7 * i) % 256}"))
    return rows


def test_check_data_checks_the_val_file_as_train_reads_it(tmp_path, capsys):
    data = tmp_path / "data"
    train = write_csv(data / "train.csv", _pictures(data, 30))
    val_rows = _pictures(data / "val", 3, start=100) + [(f"gone{i}.png", "not there") for i in range(7)]
    val = write_csv(data / "val" / "val.csv", val_rows)
    code = main(["check-data", str(train), "--val", str(val), "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["val_source"]["missing_images"]) == 7 and not report["missing_images"]
    assert "validation " + str(val) in out and "missing image files: 7: " in out and "gone4.png, and 2 more" in out
    assert report["split"]["rule"] == f"validation from {val}"
    assert report["split"]["val"] == {"captions": 3, "images": 3}  # train drops the missing ones too
    train_records, val_records, _ = read_splits(TrainConfig(train=str(train), val=str(val)))
    assert (len(train_records), len(val_records)) == (30, 3)


def test_check_data_finds_training_images_in_the_val_file_by_path_and_by_content(tmp_path, capsys):
    data = tmp_path / "data"
    rows = _pictures(data, 30)
    train = write_csv(data / "train.csv", rows)
    leaky = write_csv(data / "leaky.csv", rows[:2])  # the training images themselves
    assert main(["check-data", str(train), "--val", str(leaky), "--json", str(tmp_path / "r.json")]) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["split"]["same_paths"] == [str((data / "0.png").resolve()), str((data / "1.png").resolve())]
    assert "error: 2 images in both train and val" in capsys.readouterr().out

    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copyfile(data / "5.png", copies / "renamed.png")  # the same picture under another name
    Image.fromarray(np.full((8, 8, 3), 250, dtype=np.uint8)).save(copies / "new.png")
    val = write_csv(copies / "val.csv", [("renamed.png", "a copy"), ("new.png", "a new one")])
    assert main(["check-data", str(train), "--val", str(val), "--json", str(tmp_path / "r.json")]) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["split"]["identical_across"] == [[str(copies / "renamed.png"), str(data / "5.png")]]
    assert not report["split"]["same_paths"]
    assert "error: 1 identical file group span train and val" in capsys.readouterr().out


def test_check_data_says_when_the_split_leaves_validation_empty_and_what_works(tmp_path, capsys):
    data = tmp_path / "four"
    captions = write_csv(data / "captions.csv", _pictures(data, 4))
    assert main(["check-data", str(captions)]) == 1
    out = capsys.readouterr().out
    assert "val 0 captions of 0 images" in out
    assert "no validation images: 0.05 of 4 images rounds to 0; --val-fraction 0.13 gives 1" in out
    assert main(["check-data", str(captions), "--val-fraction", "0.13"]) == 0
    out = capsys.readouterr().out
    assert "val 1 caption of 1 image" in out and "1 captions" not in out and "1 images" not in out
    with pytest.raises(ValueError, match=r"--val-fraction 0\.13 gives 1"):  # train refuses the same way
        read_splits(TrainConfig(train=str(captions)))
    one = write_csv(tmp_path / "one" / "captions.csv", _pictures(tmp_path / "one", 1))
    assert main(["check-data", str(one)]) == 1
    assert "1 image with captions: too few to split off validation" in capsys.readouterr().out


def test_check_data_refuses_a_picture_train_would_refuse_without_decoding_it(tmp_path, capsys):
    data = tmp_path / "data"
    rows = _pictures(data, 30)
    save_png_claiming(data / "huge.png", 30000, 30000)  # 900 MP claimed in a few hundred bytes
    captions = write_csv(data / "captions.csv", [*rows, ("huge.png", "a very large picture")])
    assert main(["check-data", str(captions), "--val-fraction", "0.34", "--json", str(tmp_path / "r.json")]) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert list(report["unreadable_images"]) == [str(data / "huge.png")]
    assert "30,000 x 30,000 (900 MP) in a PNG file" in report["unreadable_images"][str(data / "huge.png")]
    assert "huge.png (too many pixels" in capsys.readouterr().out


def test_check_data_reads_karpathy_splits_as_train_does(tmp_path, capsys):
    root = tmp_path / "flickr8k"
    names = [f"{i}_f.jpg" for i in range(12)]
    images = root / "Images"
    images.mkdir(parents=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((8, 8, 3), 20 * i, dtype=np.uint8)).save(images / name)
    splits = ["train"] * 9 + ["val", "test", "test"]
    data = {"images": [{"sentids": [2 * i, 2 * i + 1], "imgid": i, "split": split, "filename": name,
                        "sentences": [{"tokens": ["a", "dog"], "raw": "A dog .", "imgid": i, "sentid": 2 * i},
                                      {"tokens": ["a", "cat"], "raw": f"A cat {i} .", "imgid": i, "sentid": 2 * i + 1}]}
                       for i, (name, split) in enumerate(zip(names, splits))], "dataset": "flickr8k"}
    (root / "dataset_flickr8k.json").write_text(json.dumps(data))
    assert main(["check-data", str(root), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["kind"] == "karpathy" and report["annotation_split"] == "train"
    assert report["val_source"]["annotation_split"] == "val"
    assert report["split"]["train"] == {"captions": 18, "images": 9}
    assert report["split"]["val"] == {"captions": 2, "images": 1}
    assert "18 captions of 9 images from 18 rows (6 rows of other splits not read)" in out
    assert "split (dataset_flickr8k.json's own splits: train for training, val for validation)" in out
    assert "warning: validation has only 1 image" in out
