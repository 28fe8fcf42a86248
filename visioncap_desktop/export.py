"""Exports: a CSV of captions (through core.csvio), and the records as core.metadata.caption_writes write
items for the files beside and inside the photos; the dry run of such a write, and what the
status bar says after one.

Qt-free; the app's actions only gather records and report what these functions return or raise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from core.csvio import write_csv_atomic
from core.errors import MetadataError
from core.metadata import caption_writes
from core.metadata.caption_writes import (
    KEPT,
    NOT_WRITTEN,
    SIDECAR_INSTEAD,
    UNCHANGED,
    WRITTEN,
    WriteItem,
    WriteOptions,
    WriteReport,
)
from core.metadata.jsonl_captions import JsonlTargets
from core.metadata.sidecars import existing_sidecars, sidecar_path, txt_path
from visioncap_desktop.records import CaptionState, ImageRecord
from visioncap_desktop.tags import is_tag, split_tags
from visioncap_desktop.wording import plural

CSV_COLUMNS = ("file_name", "path", "caption", "title", "edited", "model", "style", "error")


def csv_rows(records: Iterable[ImageRecord]) -> list[dict[str, object]]:
    """One row per record, from the record's own fields: `name` is already relative to the
    opened folder with forward slashes, `path` already absolute."""
    return [
        {
            "file_name": r.name,
            "path": r.path,
            "caption": r.caption,
            "title": r.title,  # the photo's title typed in the side panel or read from the photo; "" none
            "edited": r.edited,  # csvio writes booleans as true/false
            "model": r.model,
            "style": r.style,  # the caption style the model wrote in; "" for a model without styles
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


def write_items(records: Iterable[ImageRecord], folder: Path | None, keywords: bool = False) -> list[WriteItem]:
    """What core.metadata.caption_writes.write_captions needs of each captioned record: the photo's state
    when VisionCap last read it (a photo replaced since gets nothing) and the files whose
    present content VisionCap knows (`seen`, by core.metadata.caption_io.source_key: relative to
    `folder`), whose captions the record's caption already accounts for. Only the model's
    captions are written as VisionCap's own: an edit or a caption read from a file is a
    person's, and later runs keep it. `keywords`: the caption's tags (its comma-separated parts
    of a few words) go with it, added to the photo's keywords. A record's title goes with its
    caption (a title alone, without a caption, is not written)."""
    items = []
    for r in records:
        if not r.caption.strip():
            continue
        known = {Path(key) if Path(key).is_absolute() or folder is None else folder / key: state
                 for key, state in r.seen.items()}
        tags = tuple(t for t in split_tags(r.caption) if is_tag(t)) if keywords else ()
        items.append(WriteItem(Path(r.path), r.name, r.caption, r.facts().state(), known,
                               by_model=r.state is CaptionState.CAPTIONED and not r.source, keywords=tags,
                               title=r.title or None, model=r.model, style=r.style))
    return items


def names_by_path(records: Iterable[ImageRecord]) -> dict[Path, str]:
    """image path -> name in the folder, for lists and Problems rows about written files."""
    return {Path(r.path): r.name for r in records}


def core_dry_run() -> bool:
    """Whether core.metadata.caption_writes.write_captions takes `dry_run` (it returns the report of
    what it would do, writing nothing)."""
    return "dry_run" in inspect.signature(caption_writes.write_captions).parameters


def dry_run(items: Sequence[WriteItem], options: WriteOptions, *, progress: Callable[[int], None] | None = None,
            cancelled: Callable[[], bool] = lambda: False) -> tuple[WriteReport, bool]:
    """What writing `items` would do, file by file, and whether that is core's exact answer:
    core's dry run where it has one; otherwise the files that would be written to, a new file
    "written" and an existing one left for the write to decide (`plan_writes`)."""
    if core_dry_run():
        return caption_writes.write_captions(items, options, progress=progress, cancelled=cancelled,
                                             dry_run=True), True
    return plan_writes(items, options, progress=progress, cancelled=cancelled), False


def plan_writes(items: Sequence[WriteItem], options: WriteOptions, *, progress: Callable[[int], None] | None = None,
                cancelled: Callable[[], bool] = lambda: False) -> WriteReport:
    """The files a write would touch, without reading them: WRITTEN ("new file") where none is
    there yet, UNCHANGED-or-replaced decided at write time for one that is ("exists")."""
    report = WriteReport()
    jsonl = JsonlTargets()
    for done, item in enumerate(items, 1):
        if cancelled():
            break
        if item.caption.strip():
            image = Path(item.path)
            for way in options.ways:
                try:
                    targets = _targets(way, item, image, options, jsonl)
                except MetadataError as exc:
                    report.add(image, way, exc.path, NOT_WRITTEN, exc.reason)
                    continue
                for target in targets:
                    there = target.exists()
                    reason = "exists: replaced, kept or left as it is when writing" if there else "new file"
                    report.add(image, way, target, WRITTEN, reason if way != "embed" else
                               "the photo's caption fields, checked when writing")
        if progress:
            progress(done)
    return report


def _targets(way: str, item: WriteItem, image: Path, options: WriteOptions, jsonl: JsonlTargets) -> list[Path]:
    if way == "xmp":
        return existing_sidecars(image) or [sidecar_path(image, options.sidecar_naming)]
    if way == "txt":
        return [txt_path(image)]
    if way == "jsonl":
        return [jsonl.target(image, item.name)[0]]
    return [image]


WRITTEN_WHAT = {"xmp": "XMP sidecar", "embed": "photo with an embedded caption", "txt": ".txt file"}


def write_summary(report: WriteReport, cancelled_after: tuple[int, int] | None = None) -> str:
    """The status line after captions were written out: what was written, what already held the
    caption, and how many files the Problems panel lists (kept, not written, sidecar instead).
    `cancelled_after`: (images done, images asked for) when the write was stopped."""
    written = []
    for way in ("xmp", "embed", "txt"):
        n = len(report.where(WRITTEN, way))
        if n:
            written.append(plural(n, WRITTEN_WHAT[way]))
    rows = report.where(WRITTEN, "jsonl")
    if rows:
        files = len({o.target for o in rows})
        written.append(f"{plural(len(rows), 'row')} in {plural(files, 'metadata.jsonl')}")
    parts = ["Wrote " + (", ".join(written) if written else "nothing")]
    if cancelled_after is not None:
        parts.insert(0, f"Stopped after {cancelled_after[0]:,} of {plural(cancelled_after[1], 'image')}")
        parts[1] = parts[1][0].lower() + parts[1][1:]
    unchanged = len(report.where(UNCHANGED))
    if unchanged:
        parts.append(f"{plural(unchanged, 'file')} already held the caption")
    problems = [(len(report.where(status)), what) for status, what in
                ((KEPT, "kept someone else's caption"), (NOT_WRITTEN, "not written"),
                 (SIDECAR_INSTEAD, "a sidecar instead of embedding"))]
    said = [f"{n:,} {what}" for n, what in problems if n]
    if said:
        parts.append(", ".join(said) + " (see Problems)")
    return "; ".join(parts) + "."
