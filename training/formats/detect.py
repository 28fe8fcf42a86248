"""Telling the layouts apart from names and the first 64 KB of a file, never the whole file.

A file: a JSON Lines file (`.jsonl`, or a first line that is an object with `file_name`) is a
Hugging Face imagefolder `metadata.jsonl`; other JSON is COCO when its first `images` entry has
`file_name` (or an `annotations` list shows), Karpathy when it has `sentences`; a tab or `|` in the
first line is Flickr; an `image,caption` header a plain CSV, or Kaggle's Flickr `captions.txt`
when its images are in `Images/`. A folder: the first of COCO 2017 (`annotations/captions_*.json`),
a Flickr caption file, a Karpathy `dataset_*.json`, a `metadata.jsonl` (or imagefolder split
folders) and `captions.csv` that it holds; the others found are named in the log. A file that
fits none is a DatasetError naming it, never a guess.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from pathlib import Path

from core.metadata.jsonl_captions import JSONL_NAME
from training.formats.base import HEAD_BYTES, DatasetError, lines, read_head, shorten
from training.formats.csv_table import CSV_NAME
from training.formats.flickr import FLICKR_ANNOTATIONS, FLICKR_IMAGE_DIRS, SPLIT_LISTS
from training.formats.imagefolder import split_folders
from training.formats.karpathy import FILE_PATTERN

logger = logging.getLogger(__name__)


def _flickr_kind(path: Path) -> str:
    # The two Flickr readers differ only in the image folders they try; the name decides.
    return "flickr30k" if "30k" in path.as_posix().lower() else "flickr8k"


def _folder_layouts(path: Path) -> list[tuple[str, str]]:
    """(kind, what shows it) for every layout the folder holds, in order of precedence."""
    found = []
    coco = sorted(path.glob("annotations/captions_*.json")) or sorted(path.glob("captions_*.json"))
    if coco:
        found.append(("coco", coco[0].relative_to(path).as_posix()))
    names = dict.fromkeys(name for kind in ("flickr30k", "flickr8k") for name in FLICKR_ANNOTATIONS[kind])
    for name in names:
        if (path / name).is_file():
            only_30k = name not in FLICKR_ANNOTATIONS["flickr8k"]  # results.csv, *.token of 30k
            found.append(("flickr30k" if only_30k else _flickr_kind(path / name), name))
            break
    karpathy = sorted(path.glob(FILE_PATTERN))
    if karpathy:
        found.append(("karpathy", ", ".join(p.name for p in karpathy)))
    if (path / JSONL_NAME).is_file():
        found.append(("imagefolder", JSONL_NAME))
    elif folders := split_folders(path):
        found.append(("imagefolder", ", ".join(f"{p.name}/{JSONL_NAME}" for p in folders.values())))
    if (path / CSV_NAME).is_file():
        found.append(("csv", CSV_NAME))
    return found


def _is_jsonl_row(head: str) -> bool:
    """Whether the first line is a whole JSON object with a `file_name` (a metadata.jsonl row)."""
    text = head.lstrip()
    first, newline, _ = text.partition("\n")
    if not newline and len(head) >= HEAD_BYTES:
        return False  # the first line goes on past the head: not a row of a metadata.jsonl
    try:
        row = json.loads(first)
    except ValueError:
        return False
    return isinstance(row, dict) and "file_name" in row


def _json_kind(path: Path, head: str) -> str:
    """COCO or Karpathy, from the first `images` entry (or failing that the keys) in the head."""
    match = re.search(r'"images"\s*:\s*\[\s*', head)
    if match:
        try:
            entry, _ = json.JSONDecoder().raw_decode(head, match.end())
        except ValueError:
            entry = None
        if isinstance(entry, dict) and "sentences" in entry:
            return "karpathy"
        if isinstance(entry, dict) and "file_name" in entry:
            return "coco"
    if re.search(r'"annotations"\s*:\s*\[', head):
        return "coco"
    if re.search(r'"sentences"\s*:\s*\[', head):
        return "karpathy"
    raise DatasetError(
        path, "JSON, but neither COCO captions (an 'images' entry with 'file_name', 'annotations') nor "
        "a Karpathy split file (an 'images' entry with 'sentences') in its first 64 KB; pass kind",
    )


def detect_kind(path: str | Path) -> str:
    """The dataset kind of an annotation file or dataset folder, from names and the first
    64 KB (never the whole file). Raises DatasetError naming the path when nothing fits."""
    path = Path(path)
    if path.is_dir():
        found = _folder_layouts(path)
        if not found:
            raise DatasetError(
                path, f"cannot tell the dataset kind: no annotations/captions_*.json, {FILE_PATTERN}, "
                f"{JSONL_NAME}, {CSV_NAME} or {', '.join(FLICKR_ANNOTATIONS['flickr8k'][:2])} in it",
            )
        (kind, shown), others = found[0], found[1:]
        if others:
            logger.warning("%s: read as %s (%s); it also holds %s: name that file (or pass --kind) to read "
                           "it instead", path, kind, shown, "; ".join(f"{what} ({k})" for k, what in others))
        return kind
    head = read_head(path)
    if path.name in SPLIT_LISTS.values():
        raise DatasetError(path, "is one of Flickr8k's split lists (image names only); pass the caption "
                                 "file beside it, or its folder: the lists are used from there")
    if path.suffix.lower() == ".jsonl" or _is_jsonl_row(head):
        return "imagefolder"
    if path.suffix.lower() == ".json" or head.lstrip().startswith(("{", "[")):
        return _json_kind(path, head)
    rows = [line for line in lines(head) if line.strip()]
    first = rows[0] if rows else ""
    if "\t" in first or "|" in first:
        return _flickr_kind(path)
    header = [cell.strip().lower() for cell in next(csv.reader([first]), [])]
    if "image" in header and "caption" in header:
        # A plain CSV names images beside itself; Kaggle's Flickr captions.txt names them in Images/.
        row = next(csv.reader(rows[1:2]), [])
        name = row[header.index("image")].strip() if len(row) > header.index("image") else ""
        beside = bool(name) and (path.parent / name).is_file()
        flickr_dirs = {d for kind in ("flickr30k", "flickr8k") for d in FLICKR_IMAGE_DIRS[kind]}
        if not beside and any((path.parent / d).is_dir() for d in flickr_dirs):
            return _flickr_kind(path)
        return "csv"
    raise DatasetError(path, f"cannot tell the dataset kind from its first line {shorten(first)!r}; pass kind")
