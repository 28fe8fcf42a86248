"""The standard splits and the newer layouts, on hand-written files laid out as the real datasets
are: Karpathy's dataset_*.json (COCO with 2014 or 2017 images, Flickr8k), Flickr8k's official
split lists, Hugging Face imagefolder metadata.jsonl, a folder with captions.csv; and a detection
that never takes one layout for another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from training.annotations import CaptionRecord, DatasetError, detect_kind, read_captions
from training.config import TrainConfig
from training.splits import read_splits


def _images(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 6), (40 * i % 256, 90, 160)).save(folder / name)
    return folder


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- Karpathy's split files ---

COCO_IDS = {"train": 9, "restval": 25, "val": 42, "test": 391895}
COCO_FOLDER = {"train": "train2014", "restval": "val2014", "val": "val2014", "test": "val2014"}


def _karpathy_coco(folder: Path, with_2014_images: bool = True) -> Path:
    """dataset_coco.json with one image per split value, five sentences each (one with tokens only)."""
    images = []
    for imgid, (split, cocoid) in enumerate(COCO_IDS.items()):
        filepath = COCO_FOLDER[split]
        sentences = [
            {"tokens": ["a", "picture", "of", split], "raw": f"A picture of {split}, number {k}. ",
             "imgid": imgid, "sentid": 10 * imgid + k}
            for k in range(5)
        ]
        sentences[4] = {"tokens": ["only", "tokens", "here"], "imgid": imgid, "sentid": 10 * imgid + 4}
        images.append({"filepath": filepath, "sentids": [s["sentid"] for s in sentences],
                       "filename": f"COCO_{filepath}_{cocoid:012d}.jpg", "imgid": imgid, "split": split,
                       "sentences": sentences, "cocoid": cocoid})
        if with_2014_images:
            _images(folder / filepath, f"COCO_{filepath}_{cocoid:012d}.jpg")
    return _write(folder / "dataset_coco.json", json.dumps({"images": images, "dataset": "coco"}))


def test_karpathy_coco_train_takes_restval_and_each_split_keeps_five_references(tmp_path):
    annotation = _karpathy_coco(tmp_path)
    train, stats = read_captions("auto", annotation)
    assert stats.kind == "karpathy" and stats.split == "train" and stats.splits == ("train", "val", "test")
    assert sorted({r.image.name for r in train}) == ["COCO_train2014_000000000009.jpg",
                                                     "COCO_val2014_000000000025.jpg"]  # restval trains
    assert len(train) == 10 and stats.rows == 10 and stats.other_splits == 10
    test, test_stats = read_captions("karpathy", annotation, split="test")
    assert {r.image for r in test} == {tmp_path / "val2014" / "COCO_val2014_000000391895.jpg"}
    assert [r.caption for r in test] == [*(f"A picture of test, number {k}." for k in range(4)), "only tokens here"]
    assert test_stats.split == "test" and "(test split)" in test_stats.summary()
    with pytest.raises(DatasetError, match="no split 'restval'") as info:
        read_captions("karpathy", annotation, split="restval")
    assert "dataset_coco.json" in str(info.value)


def test_karpathy_coco_finds_the_same_pictures_under_coco_2017_names(tmp_path):
    annotation = _karpathy_coco(tmp_path / "karpathy", with_2014_images=False)
    coco2017 = tmp_path / "coco"
    _images(coco2017 / "train2017", "000000000009.jpg", "000000391895.jpg")
    _images(coco2017 / "val2017", "000000000025.jpg", "000000000042.jpg")
    records, _ = read_captions("karpathy", annotation, coco2017, split="val")
    assert {r.image for r in records} == {coco2017 / "val2017" / "000000000042.jpg"}
    records, _ = read_captions("karpathy", annotation, coco2017)
    assert {r.image for r in records} == {coco2017 / "train2017" / "000000000009.jpg",
                                          coco2017 / "val2017" / "000000000025.jpg"}
    with pytest.raises(DatasetError, match=r"no image folder holding COCO_train2014_000000000009\.jpg.*pass images_dir"):
        read_captions("karpathy", annotation)


def test_karpathy_flickr8k_with_its_images_and_bad_entries_named_by_key(tmp_path):
    root = tmp_path / "Flickr8k"
    _images(root / "Flicker8k_Dataset", "2513260012_03d33305cf.jpg", "2903617548_d3e38d7f88.jpg")
    data = {"images": [
        {"sentids": [0, 1], "imgid": 0, "split": "train", "filename": "2513260012_03d33305cf.jpg", "sentences": [
            {"tokens": ["a", "black", "dog"], "raw": "A black dog is running after a white dog in the snow .",
             "imgid": 0, "sentid": 0},
            {"tokens": [], "imgid": 0, "sentid": 1}]},
        {"sentids": [2], "imgid": 1, "split": "val", "filename": "2903617548_d3e38d7f88.jpg", "sentences": [
            {"tokens": ["a", "little", "baby"], "raw": "A little baby plays croquet .", "imgid": 1, "sentid": 2}]},
        {"imgid": 2, "split": "train", "sentences": []},
        {"imgid": 3, "split": "holdout", "filename": "x.jpg", "sentences": []},
    ], "dataset": "flickr8k"}
    annotation = _write(root / "dataset_flickr8k.json", json.dumps(data))
    records, stats = read_captions("auto", root)  # the folder: its one dataset_*.json
    assert records == [CaptionRecord(root / "Flicker8k_Dataset" / "2513260012_03d33305cf.jpg",
                                     "A black dog is running after a white dog in the snow .")]
    assert stats.source == annotation and stats.splits == ("train", "val")
    assert stats.skipped == {"missing caption": 1, "bad image entry": 1, "unknown split": 1}
    assert stats.examples["missing caption"] == ["dataset_flickr8k.json images[0].sentences[1] "
                                                 "({'tokens': [], 'imgid': 0, 'sentid': 1})"]
    assert stats.examples["bad image entry"][0].startswith("dataset_flickr8k.json images[2]")


def test_train_validates_on_the_karpathy_val_split(tmp_path):
    annotation = _karpathy_coco(tmp_path)
    train, val, kind = read_splits(TrainConfig(train=str(annotation)))
    assert kind == "karpathy"
    assert {r.image.name for r in val} == {"COCO_val2014_000000000042.jpg"} and len(val) == 5
    assert len({r.image for r in train}) == 2
    with pytest.raises(ValueError, match="both be its 'val' split"):
        read_splits(TrainConfig(train=str(annotation), split="val"))


# --- Flickr8k's official split lists ---


def _flickr8k_official(root: Path) -> Path:
    names = [f"100{i}_abc.jpg" for i in range(5)]
    _images(root / "Flicker8k_Dataset", *names)
    token = "".join(f"{name}#{k}\tA dog number {i} , caption {k} .\n" for i, name in enumerate(names) for k in range(5))
    text = root / "Flickr8k_text"
    _write(text / "Flickr8k.token.txt", token)
    _write(text / "Flickr_8k.trainImages.txt", "1000_abc.jpg\n1001_abc.jpg\n1002_abc.jpg\n")
    _write(text / "Flickr_8k.devImages.txt", "1003_abc.jpg\n")
    _write(text / "Flickr_8k.testImages.txt", "1004_abc.jpg\n\n")
    return root


def test_flickr8k_official_lists_pick_the_split(tmp_path):
    root = _flickr8k_official(tmp_path / "flickr8k")
    train, stats = read_captions("auto", root / "Flickr8k_text")
    assert stats.kind == "flickr8k" and stats.split == "train" and stats.splits == ("train", "val", "test")
    assert len(train) == 15 and stats.rows == 15 and stats.other_splits == 10
    assert read_captions("auto", root)[0] == train  # the official root folder reads the same
    test, _ = read_captions("flickr8k", root / "Flickr8k_text", split="test")
    assert {r.image for r in test} == {root / "Flicker8k_Dataset" / "1004_abc.jpg"} and len(test) == 5
    # train validates on the dev list, not on a random 5%
    train, val, _ = read_splits(TrainConfig(train=str(root / "Flickr8k_text")))
    assert {r.image.name for r in val} == {"1003_abc.jpg"} and len({r.image for r in train}) == 3
    (root / "Flickr8k_text" / "Flickr_8k.testImages.txt").unlink()
    with pytest.raises(DatasetError, match=r"Flickr_8k\.testImages\.txt: no such split list beside Flickr8k\.token\.txt"):
        read_captions("flickr8k", root / "Flickr8k_text", split="test")
    with pytest.raises(DatasetError, match="is one of Flickr8k's split lists"):
        detect_kind(root / "Flickr8k_text" / "Flickr_8k.devImages.txt")


# --- Hugging Face imagefolder ---


def test_imagefolder_metadata_jsonl(tmp_path):
    _images(tmp_path / "data", "a.jpg", "sub/b.png", "c.jpg")
    jsonl = _write(tmp_path / "data" / "metadata.jsonl", "\n".join([
        json.dumps({"file_name": "a.jpg", "caption": "A red apple .", "source": "web"}),
        json.dumps({"file_name": "sub\\b.png", "caption": ["Two birds .", "A pair of birds ."]}),
        "{not json",
        json.dumps({"caption": "no file name"}),
        json.dumps({"file_name": "c.jpg", "caption": None}),
        json.dumps(["a", "list"]),
        "",
    ]))
    records, stats = read_captions("auto", tmp_path / "data")
    assert stats.kind == "imagefolder" and stats.source == jsonl and stats.split is None
    assert records == [CaptionRecord(tmp_path / "data" / "a.jpg", "A red apple ."),
                       CaptionRecord(tmp_path / "data" / "sub" / "b.png", "Two birds ."),
                       CaptionRecord(tmp_path / "data" / "sub" / "b.png", "A pair of birds .")]
    assert stats.skipped == {"not valid JSON": 1, "missing file_name": 1, "missing caption (caption)": 1,
                             "not a JSON object": 1}
    assert stats.examples["not valid JSON"][0].startswith("metadata.jsonl:3 ")
    assert detect_kind(jsonl) == "imagefolder"
    other = _write(tmp_path / "other.jsonl", json.dumps({"file_name": "a.jpg", "label": 3}) + "\n")
    with pytest.raises(DatasetError, match=r"other\.jsonl: no caption column: line 1 has \['file_name', 'label'\]"):
        read_captions("auto", other)


def test_imagefolder_split_folders(tmp_path):
    for folder, names in (("train", ["a.jpg", "b.jpg"]), ("validation", ["c.jpg"]), ("test", ["d.jpg"])):
        _images(tmp_path / folder, *names)
        _write(tmp_path / folder / "metadata.jsonl",
               "".join(json.dumps({"file_name": n, "text": f"photo {n}"}) + "\n" for n in names))
    assert detect_kind(tmp_path) == "imagefolder"
    train, val, _ = read_splits(TrainConfig(train=str(tmp_path)))
    assert [r.image for r in train] == [tmp_path / "train" / "a.jpg", tmp_path / "train" / "b.jpg"]
    assert [r.image for r in val] == [tmp_path / "validation" / "c.jpg"]
    test, stats = read_captions("auto", tmp_path, split="test")
    assert [r.caption for r in test] == ["photo d.jpg"] and stats.split == "test"


# --- a folder with only captions.csv ---


def test_a_folder_with_captions_csv(tmp_path):
    _images(tmp_path / "mine", "a.png")
    _write(tmp_path / "mine" / "captions.csv", "image,caption\na.png,A small square .\n")
    assert detect_kind(tmp_path / "mine") == "csv"
    records, stats = read_captions("auto", tmp_path / "mine")
    assert records == [CaptionRecord(tmp_path / "mine" / "a.png", "A small square .")] and stats.split is None
    assert stats.summary().endswith("captions.csv: 1 row, 1 kept")  # not "1 rows"
    with pytest.raises(DatasetError, match=r"no captions\.csv in this folder"):
        read_captions("csv", tmp_path)


# --- detection never mistakes one layout for another ---


def _coco_2017(root: Path) -> Path:
    _images(root / "val2017", "000000000139.jpg")
    data = {"info": {"year": 2017}, "licenses": [],
            "images": [{"license": 2, "file_name": "000000000139.jpg", "height": 6, "width": 8, "id": 139}],
            "annotations": [{"image_id": 139, "id": 1, "caption": "A room with a television ."}]}
    return _write(root / "annotations" / "captions_val2017.json", json.dumps(data))


LAYOUTS = {
    "coco": lambda d: _coco_2017(d),
    "karpathy": lambda d: _karpathy_coco(d),
    "flickr8k": lambda d: _flickr8k_official(d) / "Flickr8k_text" / "Flickr8k.token.txt",
    "flickr30k": lambda d: _write(d / "flickr30k" / "results.csv", "image_name| comment_number| comment\n"
                                  "1000092795.jpg| 0| Two young guys .\n"),
    "imagefolder": lambda d: _write(d / "metadata.jsonl", json.dumps({"file_name": "a.jpg", "text": "x"}) + "\n"
                                    + json.dumps({"file_name": "b.jpg", "text": "y"}) + "\n"),
    "csv": lambda d: _write(d / "captions.csv", "image,caption\na.jpg,x\n"),
}


@pytest.mark.parametrize("kind", LAYOUTS)
def test_each_layout_is_detected_as_itself_and_refused_by_every_other_reader(tmp_path, kind):
    path = LAYOUTS[kind](tmp_path)
    assert detect_kind(path) == kind
    # The Flickr readers read Kaggle's captions.txt, which is an image,caption CSV: one format
    # under two folder conventions, so those pairs read each other by design.
    same_format = {"flickr8k", "flickr30k", "csv"}
    for other in LAYOUTS:
        if other == kind or {kind, other} <= same_format:
            continue
        try:
            records, _ = read_captions(other, path, tmp_path, check_images=False)
        except DatasetError as exc:
            assert path.name in str(exc) or str(tmp_path) in str(exc)
            assert len(str(exc)) < 500
        else:
            assert not records, f"{kind} read as {other}"


def test_a_one_line_coco_file_and_a_pretty_karpathy_file(tmp_path):
    coco = _coco_2017(tmp_path / "coco")  # json.dumps: all on one line, as COCO ships it
    assert "\n" not in coco.read_text() and detect_kind(coco) == "coco"
    karpathy = _karpathy_coco(tmp_path / "k")
    karpathy.write_text(json.dumps(json.loads(karpathy.read_text()), indent=2))
    assert detect_kind(karpathy) == "karpathy"
    weird = _write(tmp_path / "weird.json", json.dumps({"pictures": []}))
    with pytest.raises(DatasetError, match=r"neither COCO captions .* nor a Karpathy split file"):
        detect_kind(weird)
    with pytest.raises(DatasetError, match="is a Karpathy split file"):
        read_captions("coco", karpathy)
    jsonl = LAYOUTS["imagefolder"](tmp_path / "hf")
    with pytest.raises(DatasetError, match=r"metadata\.jsonl: not one JSON document: more after line 1 \(JSON Lines"):
        read_captions("coco", jsonl)


def test_a_folder_with_several_layouts_reads_the_first_and_names_the_rest(tmp_path, caplog):
    _coco_2017(tmp_path)
    _karpathy_coco(tmp_path)
    assert detect_kind(tmp_path) == "coco"
    assert "also holds dataset_coco.json (karpathy)" in caplog.text
    _write(tmp_path / "k3" / "dataset_flickr8k.json", "{}")
    _write(tmp_path / "k3" / "dataset_flickr30k.json", "{}")
    with pytest.raises(DatasetError, match=r"holds dataset_flickr30k\.json, dataset_flickr8k\.json; pass the one"):
        read_captions("auto", tmp_path / "k3")
