"""What a run trains and validates on: the two splits, written out and fingerprinted.

A new run reads its annotations once and takes validation from, in order: the `val` file; the
annotation's own validation split (a Karpathy file's val, Flickr8k's dev list, an imagefolder
`validation/` folder: `ReadStats.splits`); else a `val_fraction` of the images split off by
image. It writes both splits to OUT/splits/{train,val}.csv (image,caption with absolute
image paths: the layout `python -m training evaluate --captions` reads) and records a
fingerprint of each split in every checkpoint: the record and image counts and a SHA-256 of the
(image path, caption) list in order. A resume reads the annotations again and refuses to go on
if either fingerprint changed, since the sampler's permutation, the schedule's length and "best
epoch" all assume the same data.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path

from core.atomic import atomic_write_text
from training.annotations import (
    CaptionRecord,
    ReadStats,
    counted,
    read_captions,
    split_by_image,
    val_fraction_for,
)
from training.config import TrainConfig

logger = logging.getLogger(__name__)

SPLITS_DIR = "splits"
# Config fields holding local paths; made absolute so a resume works from any folder. Weights
# fields may also hold a hub id or timm name, so they change only when the path exists.
PATH_FIELDS = ("train", "images_dir", "val", "val_images_dir", "model_config", "init_bundle", "tokenizer")
MAYBE_PATH_FIELDS = ("vit_weights", "gpt2_weights")


class DataChangedError(ValueError):
    """A resumed run's data is not the data its checkpoint was trained on."""


def absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """The config with its local paths absolute (the out folder too)."""
    changes = {name: str(Path(getattr(cfg, name)).absolute()) for name in PATH_FIELDS if getattr(cfg, name)}
    changes.update({name: str(Path(getattr(cfg, name)).absolute())
                    for name in MAYBE_PATH_FIELDS if Path(getattr(cfg, name)).exists()})
    changes["out"] = str(Path(cfg.out).absolute())
    return dataclasses.replace(cfg, **changes)


def validation_source(cfg: TrainConfig, stats: ReadStats) -> tuple[str, str, str | None, str] | None:
    """(kind, path, images_dir, split) to read the validation captions from, or None to split
    them off the training images by `val_fraction`. `stats` are the training file's."""
    if cfg.val:
        return cfg.kind, cfg.val, cfg.val_images_dir, cfg.val_split
    if cfg.val_split in stats.splits:
        if cfg.split == cfg.val_split:
            raise ValueError(f"{stats.source}: training and validation would both be its {cfg.split!r} split; "
                             "train on another split (--split train)")
        return stats.kind, cfg.train, cfg.images_dir, cfg.val_split
    return None


def validation_rule(cfg: TrainConfig, stats: ReadStats) -> str:
    """Where the validation captions come from, in words."""
    source = validation_source(cfg, stats)
    if source is None:
        return f"{cfg.val_fraction:g} of the images, seed {cfg.seed}, by image"
    if cfg.val:
        return f"validation from {cfg.val}"
    return f"{stats.source.name}'s own splits: {stats.split} for training, {cfg.val_split} for validation"


def empty_split_problem(cfg: TrainConfig, stats: ReadStats, images: int, train: int, val: int) -> str | None:
    """Why `train` would refuse these splits (image counts), with what would work; None if it
    would not. `images`: usable images read for training, before any fraction split."""
    if train and val:
        return None
    if validation_source(cfg, stats) is not None:
        empty = "training" if not train else "validation"
        where = cfg.train if not train or not cfg.val else cfg.val
        return f"no {empty} images with captions in {where}"
    if images < 2:
        return (f"{counted(images, 'image')} with captions: too few to split off validation; "
                "add images or name a validation file (--val)")
    fraction = val_fraction_for(images)
    works = f"--val-fraction {fraction:g} gives 1, or " if fraction is not None else ""
    return (f"no validation images: {cfg.val_fraction:g} of {counted(images, 'image')} rounds to 0; "
            f"{works}name a validation file (--val)")


def read_splits(cfg: TrainConfig) -> tuple[list[CaptionRecord], list[CaptionRecord], str]:
    """(train, val, kind): val from `validation_source`, or split off by image."""
    records, stats = read_captions(
        cfg.kind, cfg.train, cfg.images_dir, split=cfg.split, fraction=cfg.fraction, limit=cfg.limit, seed=cfg.seed
    )
    source = validation_source(cfg, stats)
    if source is not None:
        train = records
        kind, path, images_dir, split = source
        val, _ = read_captions(kind, path, images_dir, split=split, limit=cfg.val_limit, seed=cfg.seed)
    else:
        train, val, _ = split_by_image(records, cfg.val_fraction, 0.0, cfg.seed)
        if cfg.val_limit is not None:
            val = val[: cfg.val_limit]
    train_images, val_images = len({r.image for r in train}), len({r.image for r in val})
    problem = empty_split_problem(cfg, stats, len({r.image for r in records}), train_images, val_images)
    if problem:
        raise ValueError(f"need training and validation captions: {problem}")
    logger.info("%s of %s for training, %s of %s for validation (%s)",
                counted(len(train), "caption"), counted(train_images, "image"),
                counted(len(val), "caption"), counted(val_images, "image"), validation_rule(cfg, stats))
    return train, val, stats.kind


def fingerprint(records: Sequence[CaptionRecord]) -> dict:
    """{"records", "images", "sha256"} of a split; the hash covers (absolute path, caption) in order."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(f"{Path(record.image).absolute().as_posix()}\t{record.caption}\n".encode())
    return {"records": len(records), "images": len({r.image for r in records}), "sha256": digest.hexdigest()}


def data_record(kind: str, train: Sequence[CaptionRecord], val: Sequence[CaptionRecord]) -> dict:
    """What a checkpoint stores about its data."""
    return {"kind": kind, "train": fingerprint(train), "val": fingerprint(val)}


def check_same_data(saved: dict | None, current: dict) -> None:
    """DataChangedError with one line saying what changed; a checkpoint without a record passes
    with a warning (it predates the record)."""
    if saved is None:
        logger.warning("the checkpoint does not record its data; it cannot be checked")
        return
    changes = []
    for split in ("train", "val"):
        old, new = saved[split], current[split]
        if old["sha256"] == new["sha256"]:
            continue
        if old["records"] != new["records"] or old["images"] != new["images"]:
            changes.append(f"{split} {counted(old['records'], 'caption')} of {counted(old['images'], 'image')} "
                           f"-> {new['records']} of {new['images']}")
        else:
            changes.append(f"{split} captions or image paths differ at the same counts")
    if changes:
        raise DataChangedError(
            f"the data changed since this run started ({'; '.join(changes)}): a resume trains only on "
            "its own data; start a new run, or fine-tune its bundle with --init-bundle OUT/bundle"
        )


def splits_csv(records: Sequence[CaptionRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "caption"])
    writer.writerows((Path(r.image).absolute().as_posix(), r.caption) for r in records)
    return buffer.getvalue()


def write_splits(out: Path, train: Sequence[CaptionRecord], val: Sequence[CaptionRecord]) -> Path:
    """OUT/splits/train.csv and val.csv (absolute image paths); returns the folder."""
    folder = out / SPLITS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "train.csv", splits_csv(train))
    atomic_write_text(folder / "val.csv", splits_csv(val))
    return folder
