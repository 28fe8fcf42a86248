"""Exports: a CSV of captions (through core.csvio), and the records as core.caption_writes write
items for the files beside and inside the photos.

Qt-free; the app's actions only gather records and report what these functions return or raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.caption_writes import WriteItem
from core.csvio import write_csv_atomic
from core.sidecars import txt_path
from visioncap_desktop.records import CaptionState, ImageRecord

CSV_COLUMNS = ("file_name", "path", "caption", "edited", "model", "error")


def csv_rows(records: Iterable[ImageRecord]) -> list[dict[str, object]]:
    """One row per record, from the record's own fields: `name` is already relative to the
    opened folder with forward slashes, `path` already absolute."""
    return [
        {
            "file_name": r.name,
            "path": r.path,
            "caption": r.caption,
            "edited": r.edited,  # csvio writes booleans as true/false
            "model": r.model,
            "error": r.error,  # why the last run could not caption it; "" otherwise
        }
        for r in records
    ]


def write_csv(
    path: str | Path,
    records: Iterable[ImageRecord],
    *,
    bom: bool = True,
    guard_formulas: bool = True,
) -> int:
    """Write the CSV atomically; returns the number of rows. Raises OSError, leaving an earlier
    file at `path` intact."""
    rows = csv_rows(records)
    write_csv_atomic(path, CSV_COLUMNS, rows, bom=bom, guard_formulas=guard_formulas)
    return len(rows)


def existing_txt_files(records: Iterable[ImageRecord]) -> list[Path]:
    """The caption files that writing `records` would replace."""
    return [p for p in (txt_path(r.path) for r in records if r.caption) if p.exists()]


def write_items(records: Iterable[ImageRecord], folder: Path | None) -> list[WriteItem]:
    """What core.caption_writes.write_captions needs of each captioned record: the photo's state
    when VisionCap last read it (a photo replaced since gets nothing) and the files whose
    present content VisionCap knows (`seen`, by core.caption_io.source_key: relative to
    `folder`), whose captions the record's caption already accounts for. Only the model's
    captions are written as VisionCap's own: an edit or a caption read from a file is a
    person's, and later runs keep it."""
    items = []
    for r in records:
        if not r.caption.strip():
            continue
        known = {Path(key) if Path(key).is_absolute() or folder is None else folder / key: state
                 for key, state in r.seen.items()}
        items.append(WriteItem(Path(r.path), r.name, r.caption, r.facts().state(), known,
                               by_model=r.state is CaptionState.CAPTIONED and not r.source))
    return items
