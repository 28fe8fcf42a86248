"""`python -m training check-data PATH`: what `train` would read, checked before anything trains on it.

    python -m training check-data /data/coco --split val
    python -m training check-data /data/karpathy/dataset_coco.json
    python -m training check-data my-photos/captions.csv --val their-val.csv --decode --json report.json

Detects the layout (unless --kind says it) and reads the training split and the validation split
exactly as `train` does (a --val file, the annotation's own val split, or a --val-fraction of the
images). For each file it reports the images and captions, the rows the reader skipped, missing
and unreadable image files by name (the first few, then a count; without --decode only the
header is read, which still gives the stored size: a picture `train` would refuse for its pixel
count is unreadable here too), and caption lengths in words. Then duplicate images (identical
files under different names), images in both splits (by path, or as identical files: a leak),
and a validation split that is empty (`train` refuses it; the fraction that works is named) or
small. Exit status: 0 no problems, 1 problems found, 2 unreadable.
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
    counted,
    read_captions,
    split_by_image,
    val_fraction_for,
)
from training.config import TrainConfig
from training.splits import empty_split_problem, validation_rule, validation_source

HASH_CHUNK = 1 << 20
MIN_VAL_IMAGES = 10  # fewer validation images than this: a warning (their perplexity is noise)


def named(items: Sequence[str], first: int = MAX_EXAMPLES) -> str:
    """"a, b, c" or "a, b, c, and 4 more"."""
    shown = ", ".join(items[:first])
    return f"{shown}, and {len(items) - first} more" if len(items) > first else shown


def unreadable(path: Path, decode: bool) -> str | None:
    """Why `train` could not read the image, or None. Without `decode` only the header is read:
    enough for a non-image, an empty picture and one with more pixels than core decodes."""
    from core.errors import ImageError
    from core.images.reading import load_image, pixel_problem

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
            return pixel_problem(image.format, image.width, image.height)
    except Image.DecompressionBombError as exc:
        return f"too many pixels ({exc})"
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _groups(paths: Sequence[Path], key) -> list[list[Path]]:
    by_key: dict[object, list[Path]] = defaultdict(list)
    for path in paths:
        by_key[key(path)].append(path)
    return [group for group in by_key.values() if len(group) > 1]


def duplicate_images(paths: Sequence[Path]) -> list[list[Path]]:
    """Groups of identical files. Only files of equal size are fingerprinted (core.fingerprint:
    two 64 KiB reads), and only equal fingerprints are confirmed by hashing the whole files."""
    from core.fingerprint import fingerprint

    groups = []
    for same_size in _groups(paths, lambda p: p.stat().st_size):
        for candidates in _groups(same_size, fingerprint):
            groups += _groups(candidates, _file_hash)
    return sorted(sorted(group) for group in groups)


def caption_lengths(records: Sequence[CaptionRecord]) -> dict:
    words = sorted(len(r.caption.split()) for r in records)
    return {"min": words[0], "median": statistics.median(words), "mean": round(statistics.fmean(words), 2),
            "p95": words[min(len(words) - 1, int(0.95 * len(words)))], "max": words[-1]}


def read_section(kind: str, path: str, images_dir: str | None, split: str, decode: bool):
    """(report of one annotation file, its records as `train` keeps them, its ReadStats, its
    usable images)."""
    records, stats = read_captions(kind, path, images_dir, split=split, check_images=False)
    images = list(dict.fromkeys(Path(r.image) for r in records))
    missing = [p for p in images if not p.is_file()]
    present = [p for p in images if p.is_file()]
    broken = {p: why for p in present if (why := unreadable(p, decode)) is not None}
    usable = set(present) - set(broken)
    # As train reads it: rows of missing files dropped, unreadable ones left to the loader.
    found = set(present)
    kept = [r for r in records if Path(r.image) in found]
    section = {
        "path": str(path), "kind": stats.kind, "annotation_file": str(stats.source), "annotation_split": stats.split,
        "rows": stats.rows, "other_split_rows": stats.other_splits, "captions": len(records), "images": len(images),
        "skipped_rows": dict(stats.skipped), "skipped_examples": stats.examples,
        "missing_images": [str(p) for p in missing],
        "unreadable_images": {str(p): why for p, why in broken.items()},
        "duplicate_captions": len(records) - len({(r.image, r.caption) for r in records}),
        "caption_words": caption_lengths(records) if records else None,
        "usable": {"captions": sum(Path(r.image) in usable for r in records), "images": len(usable)},
    }
    return section, kept, stats, usable


def _small_val_warning(cfg: TrainConfig, fraction_rule: bool, images: int, val_images: int) -> str | None:
    if not 0 < val_images < MIN_VAL_IMAGES:
        return None
    warning = f"validation has only {counted(val_images, 'image')}: its perplexity, which picks the best epoch, is noise"
    fraction = val_fraction_for(images, MIN_VAL_IMAGES) if fraction_rule else None
    if fraction is not None and fraction > cfg.val_fraction:
        warning += f"; --val-fraction {fraction:g} gives {MIN_VAL_IMAGES}"
    return warning


def check(args: argparse.Namespace) -> dict:
    """The report as JSON data; raises DatasetError or ValueError for an unreadable dataset."""
    cfg = TrainConfig(kind=args.kind, train=str(args.path), images_dir=args.images_dir, split=args.split,
                      val=args.val, val_images_dir=args.val_images_dir, val_split=args.val_split,
                      val_fraction=args.val_fraction, seed=args.seed)
    report, kept, stats, usable = read_section(cfg.kind, cfg.train, cfg.images_dir, cfg.split, args.decode)
    source = validation_source(cfg, stats)
    if source is not None:
        report["val_source"], val, _, val_usable = read_section(*source, args.decode)
        train = kept
    else:
        train, val, _ = split_by_image(kept, cfg.val_fraction, 0.0, cfg.seed)
        val_usable = set()
    duplicates = duplicate_images(sorted(usable | val_usable))
    report["duplicate_images"] = [[str(p) for p in group] for group in duplicates]

    train_images = {Path(r.image) for r in train}
    val_images = {Path(r.image) for r in val}
    same_paths = sorted({p.resolve() for p in train_images} & {p.resolve() for p in val_images})
    across = [g for g in duplicates if set(g) & train_images and set(g) & val_images]
    readable_val = val_images & (usable | val_usable)
    problem = empty_split_problem(cfg, stats, len({r.image for r in kept}), len(train_images), len(val_images))
    if problem is None and not readable_val:
        problem = "no readable validation image: every one is unreadable"
    report["split"] = {
        "rule": validation_rule(cfg, stats),
        "train": {"captions": len(train), "images": len(train_images)},
        "val": {"captions": len(val), "images": len(val_images)},
        "same_paths": [str(p) for p in same_paths],
        "identical_across": [[str(p) for p in group] for group in across],
        "problem": problem,
        "warning": _small_val_warning(cfg, source is None, len({r.image for r in kept}), len(readable_val)),
    }
    return report


def _section_lines(section: dict) -> list[str]:
    split = f", {section['annotation_split']} split" if section["annotation_split"] else ""
    other = (f" ({counted(section['other_split_rows'], 'row')} of other splits not read)"
             if section["other_split_rows"] else "")
    lines = [
        f"{section['path']}: {section['kind']} ({section['annotation_file']}{split})",
        f"  {counted(section['captions'], 'caption')} of {counted(section['images'], 'image')} "
        f"from {counted(section['rows'], 'row')}{other}",
    ]
    for reason, count in sorted(section["skipped_rows"].items(), key=lambda item: -item[1]):
        examples = section["skipped_examples"][reason]
        more = f", and {count - len(examples)} more" if count > len(examples) else ""
        lines.append(f"  skipped {counted(count, 'row')} ({reason}): {', '.join(examples)}{more}")
    missing, broken = section["missing_images"], section["unreadable_images"]
    lines.append(f"  missing image files: {len(missing)}" + (f": {named(missing)}" if missing else ""))
    lines.append(f"  unreadable image files: {len(broken)}"
                 + (f": {named([f'{p} ({why})' for p, why in broken.items()])}" if broken else ""))
    lines.append(f"  repeated (image, caption) rows: {section['duplicate_captions']}")
    words = section["caption_words"]
    if words:
        lines.append(f"  caption words: min {words['min']}, median {words['median']:g}, mean {words['mean']:g}, "
                     f"95th percentile {words['p95']}, max {words['max']}")
    return lines


def format_report(report: dict) -> str:
    lines = _section_lines(report)
    if "val_source" in report:
        lines += ["validation " + line if i == 0 else line for i, line in enumerate(_section_lines(report["val_source"]))]
    dupes = report["duplicate_images"]
    lines.append(f"duplicate images (identical files): {counted(len(dupes), 'group')}"
                 + (f": {named([' = '.join(g) for g in dupes])}" if dupes else ""))
    split = report["split"]
    lines.append(f"split ({split['rule']}): train {counted(split['train']['captions'], 'caption')} of "
                 f"{counted(split['train']['images'], 'image')}, val {counted(split['val']['captions'], 'caption')} "
                 f"of {counted(split['val']['images'], 'image')}")
    if split["same_paths"]:
        lines.append(f"  error: {counted(len(split['same_paths']), 'image')} in both train and val: "
                     f"{named(split['same_paths'])}")
    if split["identical_across"]:
        groups = split["identical_across"]
        lines.append(f"  error: {counted(len(groups), 'identical file group')} span train and val: "
                     f"{named([' = '.join(g) for g in groups])}")
    if split["problem"]:
        lines.append(f"  error: {split['problem']}")
    if split["warning"]:
        lines.append(f"  warning: {split['warning']}")
    return "\n".join(lines)


def _problems(section: dict) -> bool:
    return bool(section["missing_images"] or section["unreadable_images"] or section["skipped_rows"]
                or not section["usable"]["captions"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training check-data",
                                     description="Report what a caption dataset holds and what is wrong with it.")
    parser.add_argument("path", help="annotation file or dataset folder")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="auto")
    parser.add_argument("--images-dir", help="where the annotation's image names point")
    parser.add_argument("--split", default="train",
                        help="the split to train on: a COCO root's file, a Karpathy or Flickr8k split (default train)")
    parser.add_argument("--val", help="a separate validation annotation file, as train's --val")
    parser.add_argument("--val-images-dir")
    parser.add_argument("--val-split", default="val", help="the validation split, as train's (default val)")
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
    split = report["split"]
    problems = (_problems(report) or ("val_source" in report and _problems(report["val_source"]))
                or report["duplicate_images"] or split["same_paths"] or split["identical_across"] or split["problem"])
    return 1 if problems else 0
