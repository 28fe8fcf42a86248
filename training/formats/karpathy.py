"""Karpathy's split files, `dataset_coco.json`, `dataset_flickr8k.json`, `dataset_flickr30k.json`:
the train/val/test splits that captioning papers report on.

    {"images": [{"filepath": "val2014", "filename": "COCO_val2014_000000391895.jpg",
                 "cocoid": 391895, "split": "test",
                 "sentences": [{"raw": "A man riding a moped.", "tokens": [...]}, ...]}, ...],
     "dataset": "coco"}

Each image carries its split: `train`, `restval`, `val` or `test`. The `train` split read here is
train + restval, as the papers train (COCO: 82,783 + 30,504 = 113,287 images; val and test 5,000
each); the Flickr files have no restval (Flickr30k 29,000 / 1,014 / 1,000, Flickr8k 6,000 /
1,000 / 1,000). A caption is the sentence's `raw` text (its `tokens` joined when `raw` is missing).

Images are looked for beside the file and one level up: for COCO as `filepath/filename` (the
2014 folders), as `filename` in one folder, or as COCO 2017's `train2017/` and `val2017/`
(`{cocoid:012d}.jpg`: the same pictures under 2017 names); for Flickr in the usual Flickr image
folders. The layout that holds the most of the first few images wins; `images_dir` names the
folder instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from training.formats.base import PROBE_IMAGES, DatasetError, ReadStats, Row, best_root
from training.formats.coco import load_json
from training.formats.flickr import FLICKR_IMAGE_DIRS

SPLITS = {"train": ("train", "restval"), "val": ("val",), "test": ("test",)}  # split -> file values
FILE_PATTERN = "dataset_*.json"
LAYOUTS = ("filepath/filename", "filename", "train2017|val2017/cocoid")


@dataclass(frozen=True)
class _Image:
    filepath: str
    filename: str
    cocoid: int | None

    def coco2017_name(self) -> str | None:
        return None if self.cocoid is None else f"{self.cocoid:012d}.jpg"


def karpathy_file(path: Path) -> Path:
    """`path` itself, or the one dataset_*.json in the folder `path`."""
    if not path.is_dir():
        return path
    found = sorted(path.glob(FILE_PATTERN))
    if not found:
        raise DatasetError(path, f"no {FILE_PATTERN} (a Karpathy split file) in this folder")
    if len(found) > 1:
        raise DatasetError(path, f"holds {', '.join(p.name for p in found)}; pass the one you mean")
    return found[0]


def _image(entry: object) -> tuple[_Image, str, list] | None:
    """(image, its split value, its sentences) of an `images` entry, or None if malformed."""
    if not isinstance(entry, dict):
        return None
    filename, split, sentences = entry.get("filename"), entry.get("split"), entry.get("sentences")
    if not (isinstance(filename, str) and filename.strip() and isinstance(split, str) and isinstance(sentences, list)):
        return None
    filepath = entry.get("filepath") if isinstance(entry.get("filepath"), str) else ""
    cocoid = entry.get("cocoid")
    if not isinstance(cocoid, int):
        digits = re.search(r"(\d+)\.\w+$", filename)
        cocoid = int(digits[1]) if digits and "COCO" in filename else None
    return _Image(filepath.strip(), filename.strip(), cocoid), split, sentences


def _caption(sentence: object) -> str | None:
    if not isinstance(sentence, dict):
        return None
    raw, tokens = sentence.get("raw"), sentence.get("tokens")
    if isinstance(raw, str):
        return raw
    if isinstance(tokens, list) and tokens and all(isinstance(t, str) for t in tokens):
        return " ".join(tokens)
    return None


class _Names:
    """Image name relative to the chosen root, per layout."""

    def __init__(self, root: Path, layout: str):
        self.root, self.layout = root, layout
        self.val2017: set[str] = set()
        if layout == LAYOUTS[2] and (root / "val2017").is_dir():
            self.val2017 = set(os.listdir(root / "val2017"))  # one listing, not a stat per image

    def __call__(self, image: _Image) -> str:
        if self.layout == LAYOUTS[0]:
            return f"{image.filepath}/{image.filename}" if image.filepath else image.filename
        if self.layout == LAYOUTS[1]:
            return image.filename
        name = image.coco2017_name() or image.filename
        return f"{'val2017' if name in self.val2017 else 'train2017'}/{name}"


def _exists(root: Path, layout: str, image: _Image) -> bool:
    if layout == LAYOUTS[0]:
        return bool(image.filepath) and (root / image.filepath / image.filename).is_file()
    if layout == LAYOUTS[1]:
        return (root / image.filename).is_file()
    name = image.coco2017_name()
    return name is not None and any((root / folder / name).is_file() for folder in ("train2017", "val2017"))


def _images_root(source: Path, dataset: str, images_dir: Path | None, probe: list[_Image]) -> _Names:
    if images_dir is not None:
        roots = [images_dir]
    else:
        subs = FLICKR_IMAGE_DIRS.get(dataset, ("images",))
        bases = (source.parent, source.parent.parent)
        roots = [*bases, *(base / sub for base in bases for sub in subs)]
    best = best_root([(root, layout) for root in roots for layout in LAYOUTS], probe, _exists)
    if best is None:
        where = f"in {images_dir}" if images_dir is not None else "beside it or one level up"
        raise DatasetError(
            source, f"no image folder holding {probe[0].filename} {where} (as {', '.join(LAYOUTS)}); "
            "pass images_dir"
        )
    return _Names(*best)


def read_karpathy(path: Path, split: str, images_dir: Path | None, stats: ReadStats) -> tuple[list[Row], Path]:
    """The captions of one split (`train` = train + restval, `val`, `test`) of a Karpathy file,
    or of the one dataset_*.json in the folder `path`."""
    source = karpathy_file(path)
    stats.source = source
    data = load_json(source)
    images = data.get("images") if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        raise DatasetError(source, "is a COCO captions file ('annotations' list), not a Karpathy split "
                                   "file; use kind coco or auto")
    if not isinstance(images, list):
        raise DatasetError(source, "not a Karpathy split file: needs an 'images' list")
    if split not in SPLITS:
        raise DatasetError(source, f"no split {split!r}: a Karpathy file has train (with restval), val and test")
    wanted = SPLITS[split]
    dataset = data.get("dataset") if isinstance(data.get("dataset"), str) else ""

    chosen: list[tuple[str, _Image, str]] = []
    probe: list[_Image] = []
    present: set[str] = set()
    for i, entry in enumerate(images):
        where = f"{source.name} images[{i}]"
        parsed = _image(entry)
        if parsed is None:
            stats.skip(where, "bad image entry", entry)
            continue
        image, value, sentences = parsed
        if len(probe) < PROBE_IMAGES:
            probe.append(image)
        group = next((name for name, values in SPLITS.items() if value in values), None)
        if group is None:
            stats.skip(where, "unknown split", value)
            continue
        present.add(group)
        if value not in wanted:
            stats.other_splits += len(sentences)
            continue
        for j, sentence in enumerate(sentences):
            stats.rows += 1
            caption = _caption(sentence)
            if caption is None:
                stats.skip(f"{where}.sentences[{j}]", "missing caption", sentence)
            else:
                chosen.append((f"{where}.sentences[{j}]", image, caption))
    stats.split, stats.splits = split, tuple(name for name in SPLITS if name in present)

    if not probe:
        return [], images_dir or source.parent
    names = _images_root(source, dataset, images_dir, probe)
    return [(where, names(image), caption) for where, image, caption in chosen], names.root
