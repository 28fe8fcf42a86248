"""Exports: a CSV of captions (through core.csvio) and one .txt file next to each image.

Qt-free; the app's actions only gather records and report what these functions return or raise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.csvio import write_csv_atomic
from core.photo_metadata import MetadataError
from core.sidecars import txt_path, write_txt
from visioncap_desktop.records import ImageRecord

log = logging.getLogger(__name__)

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


@dataclass
class TxtReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # existing files kept as asked
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)


def write_txt_captions(records: Iterable[ImageRecord], overwrite: bool) -> TxtReport:
    """Write each caption to a UTF-8 text file next to its image; images without a caption are
    left out. Existing files are replaced only with `overwrite`. Errors are collected per file,
    never raised, so one read-only folder does not stop the rest."""
    report = TxtReport()
    owners: dict[Path, str] = {}
    for record in records:
        if not record.caption:
            continue
        target = txt_path(record.path)
        if target in owners:  # photo.jpg and photo.png both map to photo.txt
            report.failed.append((target, f"also the caption file of {owners[target]}; not written for {record.name}"))
            continue
        owners[target] = record.name
        if target.exists() and not overwrite:
            report.skipped.append(target)
            continue
        try:
            write_txt(record.path, record.caption)
        except MetadataError as exc:
            log.warning("could not write %s: %s", target, exc)
            report.failed.append((target, exc.reason))
        else:
            report.written.append(target)
    return report
