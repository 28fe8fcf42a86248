"""COCO 2017 captions: `annotations/captions_{split}2017.json` and the `{split}2017/` image folder.

The file's `images` map ids to `file_name`s and its `annotations` hold one caption each. Given the
COCO root, the reader picks `captions_{split}2017.json`; given a file, it reads that file whatever
the split (a COCO file holds one split).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from training.formats.base import DatasetError, ReadStats, Row, read_text


def load_json(path: Path) -> object:
    """The file's JSON, or DatasetError naming the file and line."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # a second value after the first: JSON Lines
            raise DatasetError(
                path, f"not one JSON document: more after line {exc.lineno - 1} (JSON Lines? "
                "a metadata.jsonl is kind imagefolder)"
            ) from exc
        raise DatasetError(path, f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc


def _parse_coco(path: Path, stats: ReadStats) -> list[Row]:
    """COCO captions JSON -> rows in annotation order; image names are `file_name`s."""
    data = load_json(path)
    if not (
        isinstance(data, dict)
        and isinstance(data.get("images"), list)
        and isinstance(data.get("annotations"), list)
    ):
        images = data.get("images") if isinstance(data, dict) else None
        if isinstance(images, list) and images and isinstance(images[0], dict) and "sentences" in images[0]:
            raise DatasetError(path, "is a Karpathy split file (images[0] has 'sentences'), not COCO "
                                     "captions; use kind karpathy or auto")
        raise DatasetError(path, "not a COCO captions file: needs 'images' and 'annotations' lists")

    file_names: dict[int, str] = {}
    for i, entry in enumerate(data["images"]):
        image_id = entry.get("id") if isinstance(entry, dict) else None
        name = entry.get("file_name") if isinstance(entry, dict) else None
        if isinstance(image_id, int) and isinstance(name, str) and name.strip():
            file_names[image_id] = name.strip()
        else:
            stats.skip(f"{path.name} images[{i}]", "bad image entry", entry)

    rows = []
    for i, entry in enumerate(data["annotations"]):
        stats.rows += 1
        where = f"{path.name} annotations[{i}]"
        if not isinstance(entry, dict):
            stats.skip(where, "bad annotation entry", entry)
        elif entry.get("image_id") not in file_names:
            stats.skip(where, "unknown image_id", entry.get("image_id"))
        elif not isinstance(entry.get("caption"), str):
            stats.skip(where, "missing caption", entry)
        else:
            rows.append((where, file_names[entry["image_id"]], entry["caption"]))
    return rows


def _coco_annotation(path: Path, split: str) -> Path:
    name = f"captions_{split}2017.json"
    for candidate in (path / "annotations" / name, path / name):
        if candidate.is_file():
            return candidate
    raise DatasetError(path, f"no {name} in this folder or in its annotations/ folder")


def _coco_images_dir(annotation: Path) -> Path:
    """captions_val2017.json -> the val2017/ folder next to annotations/ (or next to the file)."""
    match = re.fullmatch(r"captions_(\w+)\.json", annotation.name)
    if match is None:
        raise DatasetError(
            annotation, "cannot tell the image folder from the name; pass images_dir"
        )
    for root in (annotation.parent.parent, annotation.parent):
        if (root / match[1]).is_dir():
            return root / match[1]
    raise DatasetError(
        annotation, f"image folder {match[1]}/ not found beside it or its folder; pass images_dir"
    )


def read_coco(path: Path, split: str, images_dir: Path | None, stats: ReadStats) -> tuple[list[Row], Path]:
    """A captions_*.json, or the COCO root (then `split` picks the file)."""
    if path.is_dir():
        source = _coco_annotation(path, split)
        stats.split = split
    else:
        source = path
    stats.source = source
    rows = _parse_coco(source, stats)
    return rows, images_dir or _coco_images_dir(source)
