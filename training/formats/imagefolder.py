"""Hugging Face imagefolder: a `metadata.jsonl` of one JSON object a line, `file_name` (relative to
the file's folder) and a caption column, as `datasets` reads it:

    {"file_name": "photos/0001.jpg", "text": "A dog runs on a beach."}

The caption column is the first of `text`, `caption`, `description`, `prompt` that the rows use
(core.metadata.jsonl_captions, which the app writes with); a list of strings there is several captions of
the image. Splits are imagefolder's split folders, each with its own metadata.jsonl:
`train/` (or `training/`), `validation/` (or `valid/`, `val/`, `dev/`) and `test/` (or `testing/`)
under the folder given.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.metadata.jsonl_captions import CAPTION_COLUMNS, JSONL_NAME, caption_column
from training.formats.base import DatasetError, ReadStats, Row, lines, read_text

SPLIT_FOLDERS = {
    "train": ("train", "training"),
    "val": ("validation", "valid", "val", "dev"),
    "test": ("test", "testing"),
}


def split_folders(folder: Path) -> dict[str, Path]:
    """split -> the first of its folders under `folder` that holds a metadata.jsonl."""
    found: dict[str, Path] = {}
    for split, names in SPLIT_FOLDERS.items():
        for name in names:
            if (folder / name / JSONL_NAME).is_file():
                found.setdefault(split, folder / name)
    return found


def _jsonl_file(path: Path, split: str, stats: ReadStats) -> Path:
    if not path.is_dir():
        return path
    if (path / JSONL_NAME).is_file():
        return path / JSONL_NAME
    found = split_folders(path)
    if not found:
        raise DatasetError(path, f"no {JSONL_NAME} in this folder or in its split folders (train/, validation/, test/)")
    if split not in found:
        raise DatasetError(path, f"no {split} split folder with a {JSONL_NAME}; found {', '.join(found)}")
    stats.split, stats.splits = split, tuple(found)
    return found[split] / JSONL_NAME


def parse_jsonl(path: Path, text: str, stats: ReadStats) -> list[Row]:
    """Rows of a metadata.jsonl; a bad line is skipped and named, never fatal."""
    objects = []
    for lineno, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            stats.rows += 1
            stats.skip(where, "not valid JSON", str(exc))
            continue
        if not isinstance(row, dict):
            stats.rows += 1
            stats.skip(where, "not a JSON object", line)
            continue
        objects.append((where, row))
    column = caption_column([row for _, row in objects])
    if objects and not any(column in row for _, row in objects):
        where, row = objects[0]
        raise DatasetError(path, f"no caption column: line {where.rpartition(':')[2]} has {sorted(row)}; "
                                 f"expected file_name and one of {', '.join(CAPTION_COLUMNS)}")
    rows = []
    for where, row in objects:
        name, captions = row.get("file_name"), row.get(column)
        if isinstance(captions, str):
            captions = [captions]
        if not isinstance(name, str):
            stats.rows += 1
            stats.skip(where, "missing file_name", row)
        elif not (isinstance(captions, list) and captions and all(isinstance(c, str) for c in captions)):
            stats.rows += 1
            stats.skip(where, f"missing caption ({column})", row)
        else:
            stats.rows += len(captions)
            rows += [(where, name.replace("\\", "/").strip(), caption) for caption in captions]
    return rows


def read_imagefolder(path: Path, split: str, images_dir: Path | None, stats: ReadStats) -> tuple[list[Row], Path]:
    """A metadata.jsonl, a folder holding one, or a folder of imagefolder split folders."""
    source = _jsonl_file(path, split, stats)
    stats.source = source
    return parse_jsonl(source, read_text(source), stats), images_dir or source.parent
