"""Caption dataset readers (COCO 2017, Karpathy splits, Flickr30k, Flickr8k, Hugging Face
imagefolder, plain CSV) that return plain records; the layouts themselves are in training/formats/.

Readers never open an image, so listing COCO's 590k captions takes seconds. A malformed row is
skipped and counted in `ReadStats` with its reason; only a missing or unreadable annotation file,
one without the expected overall shape, or an image folder that cannot be found raises
`DatasetError`. Subsets and splits are drawn by image, so all captions of an image stay together.
"""

from __future__ import annotations

import logging
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from training.formats.base import (
    MAX_EXAMPLES,
    CaptionRecord,
    DatasetError,
    ReadStats,
    counted,
    normalize_caption,
)
from training.formats.coco import read_coco
from training.formats.csv_table import read_csv
from training.formats.detect import detect_kind
from training.formats.flickr import read_flickr
from training.formats.imagefolder import read_imagefolder
from training.formats.karpathy import read_karpathy

__all__ = [
    "KINDS",
    "KIND_CHOICES",
    "MAX_EXAMPLES",
    "CaptionRecord",
    "DatasetError",
    "ReadStats",
    "counted",
    "detect_kind",
    "normalize_caption",
    "read_captions",
    "split_by_image",
    "subset",
    "val_fraction_for",
]

logger = logging.getLogger(__name__)

KINDS = ("coco", "karpathy", "flickr30k", "flickr8k", "imagefolder", "csv")
KIND_CHOICES = ("auto", *KINDS)  # "auto": detect_kind
# kind -> reader(path, split, images_dir, stats) -> (rows, the folder image names are relative to)
READERS = {
    "coco": read_coco,
    "karpathy": read_karpathy,
    "flickr30k": partial(read_flickr, "flickr30k"),
    "flickr8k": partial(read_flickr, "flickr8k"),
    "imagefolder": read_imagefolder,
    "csv": read_csv,
}


# --- the entry point ---


def read_captions(
    kind: str,
    path: str | Path,
    images_dir: str | Path | None = None,
    *,
    split: str = "train",
    fraction: float = 1.0,
    limit: int | None = None,
    seed: int = 0,
    check_images: bool = True,
) -> tuple[list[CaptionRecord], ReadStats]:
    """Read one caption dataset -> (records in file order, stats).

    kind: "auto" (`detect_kind`), or one of KINDS; path: the annotation file or the folder
    holding it. "coco": a captions_*.json, or the COCO root holding annotations/ (`split` picks
    captions_{split}2017.json). "karpathy": a dataset_*.json; `split` is train (with restval),
    val or test. "flickr30k" / "flickr8k": the caption file or its folder; Flickr8k's official
    split lists beside it make `split` pick train, val (dev) or test. "imagefolder": a
    metadata.jsonl, or a folder holding one or imagefolder split folders. "csv": columns
    image,caption, images relative to the CSV's folder (a folder: its captions.csv).
    `stats.split` says which split was read; None when the layout has none and all was read.
    images_dir: where image names point; found from the layout when None.
    fraction, limit, seed: see `subset`; applied after reading, so `stats` covers the whole file.
    check_images: skip (and count) captions whose image file does not exist.
    Raises DatasetError naming the file for a missing or unreadable file, a file without the
    expected overall shape, a split it lacks, or an image folder that cannot be found;
    ValueError for a bad kind.
    """
    if kind not in KIND_CHOICES:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KIND_CHOICES)}")
    path = Path(path)
    if kind == "auto":
        kind = detect_kind(path)
        logger.info("%s: read as %s", path, kind)
    folder = None
    if images_dir is not None:
        folder = Path(images_dir)
        if not folder.is_dir():
            raise DatasetError(folder, "image folder not found")
    stats = ReadStats(source=path, kind=kind)
    rows, root = READERS[kind](path, split, folder, stats)

    exists: dict[Path, bool] = {}
    records = []
    for where, name, raw_caption in rows:
        caption = normalize_caption(raw_caption)
        if not name:
            stats.skip(where, "missing image name", raw_caption)
            continue
        if not caption:
            stats.skip(where, "empty caption", name)
            continue
        image = root / name
        if check_images:
            if image not in exists:
                exists[image] = image.is_file()
            if not exists[image]:
                stats.skip(where, "missing image file", name)
                continue
        records.append(CaptionRecord(image, caption))
    stats.kept = len(records)

    log = logger.warning if stats.skipped else logger.info
    log("%s", stats.summary())
    if fraction != 1.0 or limit is not None:
        records = subset(records, fraction, limit, seed)
    return records, stats


# --- subsets and splits, always by image ---


def _shuffled_images(records: Sequence[CaptionRecord], seed: int) -> list[Path]:
    # Sorted first, so the same records in any order give the same shuffle.
    images = sorted({record.image for record in records})
    random.Random(seed).shuffle(images)
    return images


def _count(fraction: float, total: int) -> int:
    return math.floor(fraction * total + 0.5)  # round half up; round() would round half to even


def val_fraction_for(images: int, wanted: int = 1) -> float | None:
    """The smallest fraction, in hundredths, that `split_by_image` turns into at least `wanted`
    validation images of `images` while training keeps one; None when there is none."""
    for hundredths in range(1, 100):
        taken = _count(hundredths / 100, images)
        if taken >= wanted and images - taken >= 1:
            return hundredths / 100
    return None


def subset(
    records: Sequence[CaptionRecord],
    fraction: float = 1.0,
    limit: int | None = None,
    seed: int = 0,
) -> list[CaptionRecord]:
    """A deterministic random subset, drawn by image, in the input order.

    Keeps `fraction` (0-1] of the images (at least one) with all their captions, then at most
    `limit` captions: whole images in random order, the last one possibly cut short.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    by_image: dict[Path, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        by_image[record.image].append(i)
    images = _shuffled_images(records, seed)
    keep: list[int] = []
    for image in images[: max(1, _count(fraction, len(images)))]:
        keep.extend(by_image[image])
        if limit is not None and len(keep) >= limit:
            del keep[limit:]
            break
    return [records[i] for i in sorted(keep)]


def split_by_image(
    records: Sequence[CaptionRecord],
    val_fraction: float,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> tuple[list[CaptionRecord], list[CaptionRecord], list[CaptionRecord]]:
    """Split into (train, val, test) by image: no image appears in two splits.

    The fractions are of images, not captions, rounded half up; train keeps at least one image.
    Each split keeps the input order. The same records (in any order) and seed give the same
    split.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"need val_fraction, test_fraction >= 0 with a sum below 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    images = _shuffled_images(records, seed)
    n = len(images)
    n_test = min(_count(test_fraction, n), max(n - 1, 0))
    n_val = min(_count(val_fraction, n), max(n - 1 - n_test, 0))
    split_of = {image: 2 for image in images[:n_test]}
    split_of.update({image: 1 for image in images[n_test : n_test + n_val]})
    train: list[CaptionRecord] = []
    val: list[CaptionRecord] = []
    test: list[CaptionRecord] = []
    for record in records:
        (train, val, test)[split_of.get(record.image, 0)].append(record)
    return train, val, test
