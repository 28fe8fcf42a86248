"""What a run trains and validates on: the two splits, written out and fingerprinted.

A new run reads its annotations once, splits validation off by image (unless it has a
validation file), writes both splits to OUT/splits/{train,val}.csv (image,caption with absolute
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
from training.annotations import CaptionRecord, read_captions, split_by_image
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


def read_splits(cfg: TrainConfig) -> tuple[list[CaptionRecord], list[CaptionRecord], str]:
    """(train, val, kind): val is split off by image when there is no validation file."""
    records, stats = read_captions(
        cfg.kind, cfg.train, cfg.images_dir, split=cfg.split, fraction=cfg.fraction, limit=cfg.limit, seed=cfg.seed
    )
    if cfg.val:
        train = records
        val, _ = read_captions(cfg.kind, cfg.val, cfg.val_images_dir, split=cfg.val_split, limit=cfg.val_limit,
                               seed=cfg.seed)
    else:
        train, val, _ = split_by_image(records, cfg.val_fraction, 0.0, cfg.seed)
        if cfg.val_limit is not None:
            val = val[: cfg.val_limit]
    if not train or not val:
        raise ValueError(f"need training and validation captions, got {len(train)} and {len(val)}")
    logger.info("%d training captions of %d images, %d validation captions of %d images",
                len(train), len({r.image for r in train}), len(val), len({r.image for r in val}))
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
            changes.append(f"{split} {old['records']} captions of {old['images']} images -> "
                           f"{new['records']} of {new['images']}")
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
