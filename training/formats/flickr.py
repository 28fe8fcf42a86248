"""Flickr8k and Flickr30k in their three layouts, and Flickr8k's official split lists.

- token file: `1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ...` (the official
  `Flickr8k.token.txt`, `results_20130124.token`);
- Kaggle's Flickr30k `results.csv`: `image_name| comment_number| comment`;
- Kaggle's `captions.txt`: a CSV `image,caption` whose images are in `Images/`.

Flickr8k's official split (6,000 train, 1,000 dev, 1,000 test images, the one papers report on)
lives in `Flickr_8k.trainImages.txt`, `Flickr_8k.devImages.txt` and `Flickr_8k.testImages.txt`,
one image name a line, beside the token file. When they are there (beside the caption file or in
a `Flickr8k_text/` folder beside it) the reader keeps only the images of the split asked for:
`train`, `val` (the dev list) or `test`. The few images of the token file that no list names
are then in no split.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from training.formats.base import (
    PROBE_IMAGES,
    DatasetError,
    ReadStats,
    Row,
    best_root,
    lines,
    read_text,
)
from training.formats.csv_table import parse_csv

# Annotation files tried, in order, when a Flickr reader is given a folder, and the image folders
# tried next to the annotation file (and one level up). "Flicker8k_Dataset" is the official
# zip's own spelling; Kaggle's Flickr30k nests flickr30k_images/ inside flickr30k_images/.
FLICKR_ANNOTATIONS = {
    "flickr30k": (
        "results.csv",
        "captions.txt",
        "results_20130124.token",
        "flickr30k_images/results.csv",
    ),
    "flickr8k": ("captions.txt", "Flickr8k.token.txt", "Flickr8k_text/Flickr8k.token.txt"),
}
FLICKR_IMAGE_DIRS = {
    "flickr30k": (
        "Images",
        "images",
        "flickr30k_images/flickr30k_images",
        "flickr30k_images",
        "flickr30k-images",
    ),
    "flickr8k": ("Images", "images", "Flicker8k_Dataset", "Flickr8k_Dataset"),
}
SPLIT_LISTS = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
SPLIT_LIST_DIRS = (".", "Flickr8k_text")  # beside the caption file, or the official text folder


def _parse_token(path: Path, text: str, stats: ReadStats) -> list[Row]:
    """Flickr token file: `1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ...`."""
    rows = []
    for lineno, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        stats.rows += 1
        name, tab, caption = line.partition("\t")
        image = name.strip().rpartition("#")[0] or name.strip()
        if not tab:
            stats.skip(f"{path.name}:{lineno}", "no tab between image and caption", line)
        else:
            rows.append((f"{path.name}:{lineno}", image, caption))
    return rows


def _parse_pipe(path: Path, text: str, stats: ReadStats) -> list[Row]:
    """Kaggle Flickr30k results.csv: `image_name| comment_number| comment`, stray spaces.

    Not read with the csv module: comments hold unbalanced double quotes.
    """
    rows = []
    header_seen = False
    for lineno, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split("|", 2)]  # a comment may itself hold "|"
        if not header_seen:
            header_seen = True
            if cells == ["image_name", "comment_number", "comment"]:
                continue
        stats.rows += 1
        if len(cells) < 3:
            stats.skip(f"{path.name}:{lineno}", "missing field", line)
        else:
            rows.append((f"{path.name}:{lineno}", cells[0], cells[2]))
    return rows


def _parse_flickr(path: Path, stats: ReadStats) -> list[Row]:
    """Any of the three Flickr layouts, told apart by the first non-blank line."""
    text = read_text(path)
    first = next((line for line in lines(text) if line.strip()), "")
    if "\t" in first:
        return _parse_token(path, text, stats)
    if "|" in first:
        return _parse_pipe(path, text, stats)
    return parse_csv(path, text, stats)


def _flickr_annotation(path: Path, kind: str) -> Path:
    if not path.is_dir():
        return path
    for name in FLICKR_ANNOTATIONS[kind]:
        if (path / name).is_file():
            return path / name
    raise DatasetError(path, f"no {kind} caption file in it; looked for {FLICKR_ANNOTATIONS[kind]}")


def _flickr_images_dir(annotation: Path, kind: str, names: Sequence[str]) -> Path:
    """The candidate folder holding the most of the first few image names (at least one)."""
    probe = list(dict.fromkeys(names))[:PROBE_IMAGES]
    candidates = [
        (root / sub, None)
        for root in (annotation.parent, annotation.parent.parent)
        for sub in FLICKR_IMAGE_DIRS[kind]
    ]
    candidates.append((annotation.parent, None))
    best = best_root(candidates, probe, lambda folder, _, name: (folder / name).is_file())
    if best is None:
        raise DatasetError(
            annotation,
            f"no image folder holding {probe[0]} beside it or one level up "
            f"(tried {', '.join(FLICKR_IMAGE_DIRS[kind])}); pass images_dir",
        )
    return best[0]


def split_lists(annotation: Path) -> dict[str, Path]:
    """Flickr8k's official split lists found beside the caption file: split -> list file."""
    for folder in SPLIT_LIST_DIRS:
        found = {split: annotation.parent / folder / name for split, name in SPLIT_LISTS.items()}
        found = {split: path for split, path in found.items() if path.is_file()}
        if found:
            return found
    return {}


def _split_images(path: Path) -> set[str]:
    return {line.strip() for line in lines(read_text(path)) if line.strip()}


def _keep_split(rows: list[Row], lists: dict[str, Path], split: str, source: Path, stats: ReadStats) -> list[Row]:
    if split not in lists:
        folder = next(iter(lists.values())).parent
        raise DatasetError(
            folder / SPLIT_LISTS.get(split, f"<{split}>"),
            f"no such split list beside {source.name}; Flickr8k's splits are "
            f"{', '.join(f'{s} ({SPLIT_LISTS[s]})' for s in SPLIT_LISTS)}",
        )
    wanted = _split_images(lists[split])
    kept = [row for row in rows if row[1] in wanted]
    stats.other_splits = len(rows) - len(kept)
    stats.rows -= stats.other_splits
    stats.split, stats.splits = split, tuple(s for s in SPLIT_LISTS if s in lists)
    return kept


def read_flickr(
    kind: str, path: Path, split: str, images_dir: Path | None, stats: ReadStats
) -> tuple[list[Row], Path]:
    """A Flickr caption file, or the folder holding it; Flickr8k's split lists when present."""
    source = _flickr_annotation(path, kind)
    stats.source = source
    rows = _parse_flickr(source, stats)
    if kind == "flickr8k" and (lists := split_lists(source)):
        rows = _keep_split(rows, lists, split, source, stats)
    if images_dir is not None:
        return rows, images_dir
    names = [name for _, name, _ in rows if name]
    return rows, _flickr_images_dir(source, kind, names) if names else source.parent
