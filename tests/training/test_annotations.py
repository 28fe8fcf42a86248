"""Caption readers on small hand-written fixtures: layouts, malformed rows, subsets and splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.annotations import (
    CaptionRecord,
    DatasetError,
    detect_kind,
    normalize_caption,
    read_captions,
    split_by_image,
    subset,
)


def _touch_images(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")  # readers never open images, only check they exist
    return folder


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_normalize_caption_strips_and_collapses_whitespace():
    assert normalize_caption("  A dog\t runs\n\u00a0 fast .  ") == "A dog runs fast ."
    assert normalize_caption(" \n ") == ""


# --- COCO ---


def _coco(root: Path) -> Path:
    _touch_images(root / "val2017", "000000000001.jpg", "000000000002.jpg")
    data = {
        "images": [
            {"id": 1, "file_name": "000000000001.jpg"},
            {"id": 2, "file_name": "000000000002.jpg"},
            {"id": 3, "file_name": "000000000003.jpg"},  # listed, but the file is missing
            {"id": 4},  # bad entry: no file_name
            "not an object",
        ],
        "annotations": [
            {"image_id": 1, "id": 10, "caption": "A man riding  a horse.\n"},
            {"image_id": 1, "id": 11, "caption": "A person on a horse."},
            {"image_id": 2, "id": 12, "caption": "Two cats on a sofa."},
            {"image_id": 99, "id": 13, "caption": "No such image."},
            {"image_id": 2, "id": 14, "caption": None},
            {"image_id": 2, "id": 15, "caption": "   "},
            {"image_id": 3, "id": 16, "caption": "Image file is missing."},
            [1, 2, 3],
        ],
    }
    return _write(root / "annotations" / "captions_val2017.json", json.dumps(data))


def test_coco_reads_captions_and_counts_malformed_entries(tmp_path):
    annotation = _coco(tmp_path)
    records, stats = read_captions("coco", annotation)
    assert records == [
        CaptionRecord(tmp_path / "val2017" / "000000000001.jpg", "A man riding a horse."),
        CaptionRecord(tmp_path / "val2017" / "000000000001.jpg", "A person on a horse."),
        CaptionRecord(tmp_path / "val2017" / "000000000002.jpg", "Two cats on a sofa."),
    ]
    assert stats.rows == 8
    assert stats.kept == 3
    assert stats.skipped == {
        "bad image entry": 2,
        "unknown image_id": 1,
        "missing caption": 1,
        "empty caption": 1,
        "missing image file": 1,
        "bad annotation entry": 1,
    }
    assert sum(map(len, stats.examples.values())) == 7  # every skip named (at most 5 per reason)
    assert "captions_val2017.json" in stats.summary()


def test_coco_root_folder_with_split(tmp_path):
    _coco(tmp_path)
    from_root, _ = read_captions("coco", tmp_path, split="val")
    from_file, _ = read_captions("coco", tmp_path / "annotations" / "captions_val2017.json")
    assert from_root == from_file
    with pytest.raises(DatasetError, match=r"captions_train2017\.json"):
        read_captions("coco", tmp_path, split="train")


def test_coco_without_image_check_keeps_missing_images(tmp_path):
    records, stats = read_captions("coco", _coco(tmp_path), check_images=False)
    assert len(records) == 4
    assert "missing image file" not in stats.skipped


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "not valid JSON"), ('{"images": []}', "not a COCO captions file")],
)
def test_coco_bad_file_names_the_file(tmp_path, text, problem):
    annotation = _write(tmp_path / "annotations" / "captions_val2017.json", text)
    _touch_images(tmp_path / "val2017")
    with pytest.raises(DatasetError, match=problem) as info:
        read_captions("coco", annotation)
    assert "captions_val2017.json" in str(info.value)


def test_missing_annotation_file_names_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "captions.csv"
    with pytest.raises(DatasetError, match="annotation file not found") as info:
        read_captions("csv", missing)
    assert info.value.path == missing
    assert str(missing) in str(info.value)


def test_unknown_kind_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset kind 'imagenet'"):
        read_captions("imagenet", tmp_path)


def test_coco_missing_image_folder_asks_for_images_dir(tmp_path):
    annotation = _coco(tmp_path)
    (tmp_path / "val2017" / "000000000001.jpg").unlink()
    (tmp_path / "val2017" / "000000000002.jpg").unlink()
    (tmp_path / "val2017").rmdir()
    with pytest.raises(DatasetError, match="pass images_dir"):
        read_captions("coco", annotation)
    elsewhere = _touch_images(tmp_path / "elsewhere", "000000000002.jpg")
    records, _ = read_captions("coco", annotation, images_dir=elsewhere)
    assert [r.caption for r in records] == ["Two cats on a sofa."]


# --- Flickr30k ---

RESULTS_CSV = """\
image_name| comment_number| comment
1000092795.jpg| 0| Two young guys with shaggy hair look at their hands .
1000092795.jpg| 1| Two young , White males are outside near many bushes .
10002456.jpg| 0| Several men in hard hats are operating a "giant pulley system .
10002456.jpg| 1| A sign reads | no entry | .
2199200615.jpg| 4 A dog runs across the grass .
10002456.jpg| 2|
missing.jpg| 0| This image is not on disk .

"""


def test_flickr30k_results_csv_in_kaggle_layout(tmp_path):
    root = tmp_path / "flickr30k_images"
    images = _touch_images(root / "flickr30k_images", "1000092795.jpg", "10002456.jpg")
    _write(root / "results.csv", RESULTS_CSV)
    records, stats = read_captions("flickr30k", tmp_path / "flickr30k_images")
    assert [(r.image, r.caption) for r in records] == [
        (images / "1000092795.jpg", "Two young guys with shaggy hair look at their hands ."),
        (images / "1000092795.jpg", "Two young , White males are outside near many bushes ."),
        (
            images / "10002456.jpg",
            'Several men in hard hats are operating a "giant pulley system .',
        ),
        (images / "10002456.jpg", "A sign reads | no entry | ."),
    ]
    assert stats.rows == 7
    assert stats.skipped == {"missing field": 1, "empty caption": 1, "missing image file": 1}
    assert any("results.csv:6" in example for example in stats.examples["missing field"])


def test_flickr30k_captions_txt_with_images_folder(tmp_path):
    images = _touch_images(tmp_path / "Images", "1000092795.jpg")
    _write(
        tmp_path / "captions.txt",
        "image,caption\n"
        '1000092795.jpg,"Two young guys, with shaggy hair."\n'
        "1000092795.jpg,Two young guys, unquoted comma .\n",
    )
    records, stats = read_captions("flickr30k", tmp_path / "captions.txt")
    assert records == [
        CaptionRecord(images / "1000092795.jpg", "Two young guys, with shaggy hair."),
        CaptionRecord(images / "1000092795.jpg", "Two young guys, unquoted comma ."),
    ]
    assert not stats.skipped


def test_flickr_without_image_folder_asks_for_images_dir(tmp_path):
    _write(tmp_path / "results.csv", RESULTS_CSV)
    with pytest.raises(DatasetError, match="pass images_dir") as info:
        read_captions("flickr30k", tmp_path)
    assert "results.csv" in str(info.value)
    other = _touch_images(tmp_path / "pictures", "10002456.jpg")
    records, _ = read_captions("flickr30k", tmp_path, images_dir=other)
    assert {r.image for r in records} == {other / "10002456.jpg"}


# --- Flickr8k ---


def test_flickr8k_token_file_in_official_layout(tmp_path):
    images = _touch_images(tmp_path / "Flicker8k_Dataset", "1000268201_693b08cb0e.jpg")
    _write(
        tmp_path / "Flickr8k_text" / "Flickr8k.token.txt",
        "1000268201_693b08cb0e.jpg#0\tA child in a pink dress is climbing up a set of stairs .\n"
        "1000268201_693b08cb0e.jpg#1\tA girl going into a wooden building .\n"
        "1000268201_693b08cb0e.jpg#2 no tab on this line\n"
        "1000268201_693b08cb0e.jpg#3\t\n",
    )
    records, stats = read_captions("flickr8k", tmp_path / "Flickr8k_text")
    assert records == [
        CaptionRecord(
            images / "1000268201_693b08cb0e.jpg",
            "A child in a pink dress is climbing up a set of stairs .",
        ),
        CaptionRecord(
            images / "1000268201_693b08cb0e.jpg", "A girl going into a wooden building ."
        ),
    ]
    assert stats.skipped == {"no tab between image and caption": 1, "empty caption": 1}


def test_flickr8k_captions_txt(tmp_path):
    images = _touch_images(tmp_path / "Images", "1000268201_693b08cb0e.jpg")
    _write(
        tmp_path / "captions.txt",
        "image,caption\n"
        "1000268201_693b08cb0e.jpg,A child in a pink dress .\n"
        ",caption without an image\n",
    )
    records, stats = read_captions("flickr8k", tmp_path)
    assert records == [
        CaptionRecord(images / "1000268201_693b08cb0e.jpg", "A child in a pink dress .")
    ]
    assert stats.skipped == {"missing image name": 1}


# --- plain CSV ---


def test_csv_with_bom_extra_columns_and_relative_paths(tmp_path):
    _touch_images(tmp_path / "data" / "pics", "a.png", "b é.png")
    csv_path = _write(
        tmp_path / "data" / "captions.csv",
        "Caption,image,source\n"
        '"A cat, on a mat.",pics/a.png,web\n'
        "Ein Bär im Wald,pics/b é.png,\n"
        "only one cell\n"
        ",pics/a.png,web\n",
        encoding="utf-8-sig",
    )
    records, stats = read_captions("csv", csv_path)
    assert records == [
        CaptionRecord(tmp_path / "data" / "pics" / "a.png", "A cat, on a mat."),
        CaptionRecord(tmp_path / "data" / "pics" / "b é.png", "Ein Bär im Wald"),
    ]
    assert stats.rows == 4
    assert stats.skipped == {"wrong number of cells": 1, "empty caption": 1}


def test_csv_without_needed_columns_names_the_file(tmp_path):
    csv_path = _write(tmp_path / "bad.csv", "path,text\na.png,hello\n")
    with pytest.raises(DatasetError, match="needs columns 'image' and 'caption'") as info:
        read_captions("csv", csv_path)
    assert "bad.csv" in str(info.value)


def test_csv_not_utf8_names_the_file(tmp_path):
    csv_path = _write(tmp_path / "latin.csv", "image,caption\na.png,caf\xe9\n", encoding="latin-1")
    with pytest.raises(DatasetError, match="not UTF-8") as info:
        read_captions("csv", csv_path)
    assert "latin.csv" in str(info.value)


# --- subsets and splits ---


def _records(n_images: int, per_image: int = 3) -> list[CaptionRecord]:
    return [
        CaptionRecord(Path(f"img{i:03d}.jpg"), f"caption {j} of image {i}")
        for i in range(n_images)
        for j in range(per_image)
    ]


def test_subset_fraction_keeps_whole_images_deterministically():
    records = _records(20)
    half = subset(records, fraction=0.5, seed=1)
    assert len({r.image for r in half}) == 10
    assert len(half) == 30  # every caption of each kept image
    assert half == subset(list(reversed(records)), fraction=0.5, seed=1)[::-1]
    assert half != subset(records, fraction=0.5, seed=2)
    assert [records.index(r) for r in half] == sorted(records.index(r) for r in half)


def test_subset_limit_caps_captions():
    records = _records(20)
    limited = subset(records, limit=7, seed=3)
    assert len(limited) == 7
    assert len({r.image for r in limited}) == 3  # two whole images and one cut short
    assert subset(records, limit=7, seed=3) == limited
    assert len(subset(records, fraction=0.1, limit=100)) == 6


def test_read_captions_applies_subset_after_stats(tmp_path):
    _touch_images(tmp_path, *(f"{i}.png" for i in range(10)))
    lines = "".join(f"{i}.png,caption {i}\n" for i in range(10))
    csv_path = _write(tmp_path / "c.csv", "image,caption\n" + lines)
    records, stats = read_captions("csv", csv_path, fraction=0.3, seed=0)
    assert len(records) == 3
    assert stats.kept == 10


@pytest.mark.parametrize(("fraction", "limit"), [(0.0, None), (1.5, None), (1.0, 0)])
def test_subset_rejects_bad_arguments(fraction, limit):
    with pytest.raises(ValueError):
        subset(_records(3), fraction=fraction, limit=limit)


def test_split_by_image_never_leaks_an_image():
    records = _records(50)
    train, val, test = split_by_image(records, val_fraction=0.2, test_fraction=0.1, seed=7)
    images = [{r.image for r in split} for split in (train, val, test)]
    assert (len(images[0]), len(images[1]), len(images[2])) == (35, 10, 5)
    assert not images[0] & images[1] and not images[0] & images[2] and not images[1] & images[2]
    assert sorted(train + val + test, key=records.index) == records
    assert split_by_image(records, 0.2, 0.1, seed=7) == (train, val, test)
    shuffled = records[::-1]
    assert [set(s) for s in split_by_image(shuffled, 0.2, 0.1, seed=7)] == [
        set(s) for s in (train, val, test)
    ]
    assert split_by_image(records, 0.2, 0.1, seed=8) != (train, val, test)


def test_split_by_image_keeps_train_non_empty_and_checks_fractions():
    train, val, test = split_by_image(_records(2), val_fraction=0.5, test_fraction=0.4)
    assert train and len({r.image for r in train + val + test}) == 2
    assert split_by_image([], 0.1) == ([], [], [])
    with pytest.raises(ValueError, match="sum below 1"):
        split_by_image(_records(3), val_fraction=0.6, test_fraction=0.4)


# --- telling the layouts apart, and errors that fit on a screen ---


def test_detect_kind_recognises_every_layout(tmp_path):
    coco = _coco(tmp_path / "coco")
    assert detect_kind(coco) == detect_kind(tmp_path / "coco") == "coco"
    kaggle30k = tmp_path / "flickr30k_images"
    _touch_images(kaggle30k / "flickr30k_images", "1000092795.jpg")
    _write(kaggle30k / "results.csv", RESULTS_CSV)
    assert detect_kind(kaggle30k) == detect_kind(kaggle30k / "results.csv") == "flickr30k"
    token = _write(tmp_path / "f8k" / "Flickr8k.token.txt", "a.jpg#0\tA dog .\n")
    assert detect_kind(token) == detect_kind(tmp_path / "f8k") == "flickr8k"
    _touch_images(tmp_path / "kaggle8k" / "Images", "a.jpg")
    captions_txt = _write(tmp_path / "kaggle8k" / "captions.txt", "image,caption\na.jpg,A dog .\n")
    assert detect_kind(captions_txt) == "flickr8k"  # images in Images/, not beside the file
    assert read_captions("auto", captions_txt)[1].kind == "flickr8k"
    _touch_images(tmp_path / "mine", "a.jpg")
    plain = _write(tmp_path / "mine" / "captions.csv", "image,caption\na.jpg,A dog .\n")
    assert detect_kind(plain) == "csv"
    records, stats = read_captions("auto", plain)
    assert stats.kind == "csv" and records == [CaptionRecord(tmp_path / "mine" / "a.jpg", "A dog .")]
    with pytest.raises(DatasetError, match="cannot tell the dataset kind") as info:
        detect_kind(_write(tmp_path / "notes.txt", "just some words\n"))
    assert "notes.txt" in str(info.value)


def test_a_coco_json_read_as_csv_gives_a_short_error_naming_the_file(tmp_path):
    coco = _coco(tmp_path)
    data = json.loads(coco.read_text())
    data["annotations"] += [{"image_id": 1, "id": 100 + i, "caption": "x" * 200} for i in range(5000)]
    coco.write_text(json.dumps(data))  # about 1 MB on one line
    with pytest.raises(DatasetError, match="is JSON, not CSV") as info:
        read_captions("csv", coco)
    assert len(str(info.value)) < 500 and str(coco) in str(info.value)
    records, stats = read_captions("auto", coco)  # the default kind reads it
    assert stats.kind == "coco" and len(records) == 5003
    long_header = _write(tmp_path / "wide.csv", ",".join(f"column{i}" for i in range(10_000)) + "\n")
    with pytest.raises(DatasetError, match="needs columns") as info:
        read_captions("csv", long_header)
    assert len(str(info.value)) < 500 and "wide.csv" in str(info.value)


def test_skipped_rows_are_named_first_then_counted(tmp_path):
    _touch_images(tmp_path, "there.png")
    rows = "".join(f"gone{i}.png,caption {i}\n" for i in range(8))
    csv_path = _write(tmp_path / "captions.csv", "image,caption\nthere.png,kept\n" + rows + "lonely\n")
    _, stats = read_captions("csv", csv_path)
    assert stats.skipped == {"missing image file": 8, "wrong number of cells": 1}
    summary = stats.summary()
    assert "10 rows, 1 kept, 9 skipped" in summary
    line = next(line for line in summary.splitlines() if "missing image file" in line)
    assert "captions.csv:3 (gone0.png), captions.csv:4 (gone1.png)" in line and "(gone4.png)" in line
    assert "gone5.png" not in line and line.endswith("and 3 more")
    assert "captions.csv:11 (['lonely'])" in summary
