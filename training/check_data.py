"""`python -m training check-data PATH`: what a dataset holds before anything trains on it.

    python -m training check-data /data/coco --split val
    python -m training check-data my-photos/captions.csv --decode --json report.json

Detects the layout (unless --kind says it), then reports the images and captions, the rows the
reader skipped, missing and unreadable image files by name (the first few, then a count),
caption lengths in words, duplicate images (identical files under different names: a leak when
they land on both sides of the split), and the train/val split that `train` would make with the
same --val-fraction and --seed. Exit status: 0 no problems, 1 problems found, 2 unreadable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from training.annotations import (
    KIND_CHOICES,
    MAX_EXAMPLES,
    CaptionRecord,
    DatasetError,
    read_captions,
    split_by_image,
)

HASH_CHUNK = 1 << 20


def named(items: Sequence[str], first: int = MAX_EXAMPLES) -> str:
    """"a, b, c" or "a, b, c, and 4 more"."""
    shown = ", ".join(items[:first])
    return f"{shown}, and {len(items) - first} more" if len(items) > first else shown


def unreadable(path: Path, decode: bool) -> str | None:
    """Why the image cannot be read, or None. Without `decode` only the header is read."""
    from core.errors import ImageError
    from core.images import load_image

    if decode:
        try:
            load_image(path)
        except ImageError as exc:
            return exc.reason
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.width < 1 or image.height < 1:
                return "empty image"
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def duplicate_images(paths: Sequence[Path]) -> list[list[Path]]:
    """Groups of identical files: only files of equal size are hashed."""
    by_size: dict[int, list[Path]] = defaultdict(list)
    for path in paths:
        by_size[path.stat().st_size].append(path)
    groups: dict[str, list[Path]] = defaultdict(list)
    for same_size in by_size.values():
        if len(same_size) > 1:
            for path in same_size:
                groups[_file_hash(path)].append(path)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def caption_lengths(records: Sequence[CaptionRecord]) -> dict:
    words = sorted(len(r.caption.split()) for r in records)
    return {"min": words[0], "median": statistics.median(words), "mean": round(statistics.fmean(words), 2),
            "p95": words[min(len(words) - 1, int(0.95 * len(words)))], "max": words[-1]}


def check(args: argparse.Namespace) -> dict:
    """The report as JSON data; raises DatasetError or ValueError for an unreadable dataset."""
    records, stats = read_captions(args.kind, args.path, args.images_dir, split=args.split, check_images=False)
    images = list(dict.fromkeys(Path(r.image) for r in records))
    missing = [p for p in images if not p.is_file()]
    present = [p for p in images if p.is_file()]
    broken = {p: why for p in present if (why := unreadable(p, args.decode)) is not None}
    usable = set(present) - set(broken)
    # As train reads it: rows of missing files dropped, unreadable ones left to the loader.
    found = set(present)
    kept = [r for r in records if Path(r.image) in found]
    duplicates = duplicate_images(sorted(usable))
    report = {
        "path": str(args.path), "kind": stats.kind, "annotation_file": str(stats.source),
        "rows": stats.rows, "captions": len(records), "images": len(images),
        "skipped_rows": dict(stats.skipped), "skipped_examples": stats.examples,
        "missing_images": [str(p) for p in missing],
        "unreadable_images": {str(p): why for p, why in broken.items()},
        "duplicate_images": [[str(p) for p in group] for group in duplicates],
        "duplicate_captions": len(records) - len({(r.image, r.caption) for r in records}),
        "caption_words": caption_lengths(records) if records else None,
        "usable": {"captions": sum(Path(r.image) in usable for r in records), "images": len(usable)},
    }
    if args.val:
        val, _ = read_captions(args.kind, args.val, args.val_images_dir, split=args.val_split)
        train = kept
    else:
        train, val, _ = split_by_image(kept, args.val_fraction, 0.0, args.seed)
    val_images = {Path(r.image) for r in val}
    train_images = {Path(r.image) for r in train}
    report["split"] = {
        "rule": (f"validation from {args.val}" if args.val
                 else f"{args.val_fraction:g} of the images, seed {args.seed}, by image"),
        "train": {"captions": len(train), "images": len(train_images)},
        "val": {"captions": len(val), "images": len(val_images)},
        "duplicates_across": sum(1 for g in duplicates if set(g) & train_images and set(g) & val_images),
    }
    return report


def format_report(report: dict) -> str:
    words = report["caption_words"]
    lines = [
        f"{report['path']}: {report['kind']} ({report['annotation_file']})",
        f"  {report['captions']} captions of {report['images']} images from {report['rows']} rows",
    ]
    for reason, count in sorted(report["skipped_rows"].items(), key=lambda item: -item[1]):
        examples = report["skipped_examples"][reason]
        more = f", and {count - len(examples)} more" if count > len(examples) else ""
        lines.append(f"  skipped {count} rows ({reason}): {', '.join(examples)}{more}")
    missing, broken = report["missing_images"], report["unreadable_images"]
    lines.append(f"  missing image files: {len(missing)}" + (f": {named(missing)}" if missing else ""))
    lines.append(f"  unreadable image files: {len(broken)}"
                 + (f": {named([f'{p} ({why})' for p, why in broken.items()])}" if broken else ""))
    dupes = report["duplicate_images"]
    lines.append(f"  duplicate images (identical files): {len(dupes)} groups"
                 + (f": {named([' = '.join(g) for g in dupes])}" if dupes else ""))
    lines.append(f"  repeated (image, caption) rows: {report['duplicate_captions']}")
    if words:
        lines.append(f"  caption words: min {words['min']}, median {words['median']:g}, mean {words['mean']:g}, "
                     f"95th percentile {words['p95']}, max {words['max']}")
    split = report["split"]
    lines.append(f"  split ({split['rule']}): train {split['train']['captions']} captions of "
                 f"{split['train']['images']} images, val {split['val']['captions']} captions of "
                 f"{split['val']['images']} images")
    if split["duplicates_across"]:
        lines.append(f"  warning: {split['duplicates_across']} duplicate groups span train and val")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training check-data",
                                     description="Report what a caption dataset holds and what is wrong with it.")
    parser.add_argument("path", help="annotation file or dataset folder")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="auto")
    parser.add_argument("--images-dir", help="where the annotation's image names point")
    parser.add_argument("--split", default="train", help="COCO split under a COCO root (default train)")
    parser.add_argument("--val", help="a separate validation annotation file, as train's --val")
    parser.add_argument("--val-images-dir")
    parser.add_argument("--val-split", default="val")
    parser.add_argument("--val-fraction", type=float, default=0.05, help="as train's (default 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="as train's (default 0)")
    parser.add_argument("--decode", action="store_true", help="decode every image (slower; finds truncated files)")
    parser.add_argument("--json", type=Path, help="also write the report here as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    readers = logging.getLogger("training.annotations")
    level = readers.level
    readers.setLevel(logging.ERROR)  # the report names the skipped rows itself
    try:
        report = check(args)
    except (DatasetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        readers.setLevel(level)
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    problems = (report["missing_images"] or report["unreadable_images"] or report["duplicate_images"]
                or report["skipped_rows"] or not report["usable"]["captions"])
    return 1 if problems else 0
