"""Caption dataset readers (COCO 2017, Flickr30k, Flickr8k, plain CSV) that return plain records.

Readers never open an image, so listing COCO's 590k captions takes seconds. A malformed row is
skipped and counted in `ReadStats` with its reason; only a missing or unreadable annotation file,
one without the expected overall shape, or an image folder that cannot be found raises
`DatasetError`. Subsets and splits are drawn by image, so all captions of an image stay together.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

KINDS = ("coco", "flickr30k", "flickr8k", "csv")
KIND_CHOICES = ("auto", *KINDS)  # "auto": detect_kind
MAX_EXAMPLES = 5  # skipped rows named per reason in ReadStats.examples; the counts cover all
MAX_PROBLEM = 300  # characters of a DatasetError's problem text (a quoted header, a row)
HEAD_BYTES = 64 * 1024  # what detect_kind reads of a file

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
PROBE_IMAGES = 5  # image names checked to tell the right image folder from a wrong one


class DatasetError(Exception):
    """An annotation file or image folder is missing, unreadable or not in the expected format."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = _shorten(problem, MAX_PROBLEM)  # a 68 MB JSON quoted as a "header" fits
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class CaptionRecord:
    """One caption of one image. `image` is a path; the image itself is never opened here."""

    image: Path
    caption: str


@dataclass
class ReadStats:
    """What a reader saw in one annotation file.

    `rows` counts caption rows (lines, CSV rows, COCO annotations); `kept` those that became
    records before any subsetting; `skipped` counts skips by reason (COCO's bad `images` entries
    are counted too, though they are not caption rows); `examples` names the first few rows of
    each reason ("file:line (what)"); `kind` is the layout read (after "auto").
    """

    source: Path
    kind: str = ""
    rows: int = 0
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, where: str, reason: str, row: object = None) -> None:
        self.skipped[reason] += 1
        named = self.examples.setdefault(reason, [])
        if len(named) < MAX_EXAMPLES:
            detail = "" if row is None else f" ({_shorten(row if isinstance(row, str) else repr(row))})"
            named.append(f"{where}{detail}")

    def summary(self) -> str:
        """A line of counts, then one line per skip reason naming its first rows."""
        lines = [f"{self.source}: {self.rows} rows, {self.kept} kept"]
        if self.skipped:
            lines[0] += f", {sum(self.skipped.values())} skipped"
        for reason, count in self.skipped.most_common():
            named = self.examples.get(reason, [])
            more = f", and {count - len(named)} more" if count > len(named) else ""
            lines.append(f"  skipped {count} {reason}: {', '.join(named)}{more}")
        return "\n".join(lines)


def _shorten(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def normalize_caption(text: str) -> str:
    """Strip and collapse runs of whitespace (newlines, tabs, non-breaking spaces) to one space."""
    return " ".join(text.split())


# --- reading files ---


# (where, image name, raw caption): `where` names the file and line (or entry) for ReadStats.
Row = tuple[str, str, str]


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, a BOM dropped, line ends as "\\n"), or DatasetError naming it."""
    if path.is_dir():
        raise DatasetError(path, "is a folder, expected an annotation file")
    if not path.exists():
        raise DatasetError(path, "annotation file not found")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(path, f"not UTF-8 text (bad byte at offset {exc.start})") from exc
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from exc


def _parse_coco(path: Path, stats: ReadStats) -> list[Row]:
    """COCO captions JSON -> rows in annotation order; image names are `file_name`s."""
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not (
        isinstance(data, dict)
        and isinstance(data.get("images"), list)
        and isinstance(data.get("annotations"), list)
    ):
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


def _lines(text: str) -> list[str]:
    # Not str.splitlines(): it also splits on \x0b, \x1c, \u2028 ..., which captions may hold.
    return text.split("\n")


def _parse_token(path: Path, text: str, stats: ReadStats) -> list[Row]:
    """Flickr token file: `1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ...`."""
    rows = []
    for lineno, line in enumerate(_lines(text), 1):
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
    for lineno, line in enumerate(_lines(text), 1):
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


def _parse_csv(path: Path, text: str, stats: ReadStats) -> list[Row]:
    """CSV with a header naming `image` and `caption` columns (any case, any order, extras ok).

    When `caption` is the last column, extra cells in a row are an unquoted comma in the caption
    (Kaggle's Flickr captions.txt), so they are joined back.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise DatasetError(path, "empty file, expected a header row with image,caption") from None
    except csv.Error as exc:
        raise DatasetError(path, f"not a readable CSV header: {exc}") from exc
    if "image" not in header or "caption" not in header:
        if text.lstrip().startswith(("{", "[")):
            raise DatasetError(path, "is JSON, not CSV (a COCO captions file? use kind coco or auto)")
        raise DatasetError(path, f"needs columns 'image' and 'caption', found {_shorten(str(header))}")
    image_col, caption_col = header.index("image"), header.index("caption")
    caption_is_last = caption_col == len(header) - 1

    rows = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a NUL byte; the reader resumes on the next line
            stats.rows += 1
            stats.skip(f"{path.name}:{reader.line_num}", "unreadable CSV row", str(exc))
            continue
        if not cells:
            continue
        stats.rows += 1
        where = f"{path.name}:{reader.line_num}"
        if len(cells) > len(header) and caption_is_last:
            cells = [*cells[:caption_col], ",".join(cells[caption_col:])]
        if len(cells) != len(header):
            stats.skip(where, "wrong number of cells", cells)
        else:
            rows.append((where, cells[image_col].strip(), cells[caption_col]))
    return rows


def _parse_flickr(path: Path, stats: ReadStats) -> list[Row]:
    """Any of the three Flickr layouts, told apart by the first non-blank line."""
    text = _read_text(path)
    first = next((line for line in _lines(text) if line.strip()), "")
    if "\t" in first:
        return _parse_token(path, text, stats)
    if "|" in first:
        return _parse_pipe(path, text, stats)
    return _parse_csv(path, text, stats)


# --- finding files ---


def _coco_annotation(path: Path, split: str) -> Path:
    if not path.is_dir():
        return path
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
        root / sub
        for root in (annotation.parent, annotation.parent.parent)
        for sub in FLICKR_IMAGE_DIRS[kind]
    ]
    candidates.append(annotation.parent)
    best, best_hits = None, 0
    for folder in candidates:
        hits = sum((folder / name).is_file() for name in probe)
        if hits > best_hits:
            best, best_hits = folder, hits
    if best is None:
        raise DatasetError(
            annotation,
            f"no image folder holding {probe[0]} beside it or one level up "
            f"(tried {', '.join(FLICKR_IMAGE_DIRS[kind])}); pass images_dir",
        )
    return best


# --- telling the layouts apart ---


def _read_head(path: Path) -> str:
    """The first HEAD_BYTES of a file as text (undecodable bytes replaced), or DatasetError."""
    if not path.exists():
        raise DatasetError(path, "annotation file not found")
    try:
        with path.open("rb") as stream:
            return stream.read(HEAD_BYTES).decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from exc


def _flickr_kind(path: Path) -> str:
    # The two Flickr readers differ only in the image folders they try; the name decides.
    return "flickr30k" if "30k" in path.as_posix().lower() else "flickr8k"


def detect_kind(path: str | Path) -> str:
    """The dataset kind of an annotation file or dataset folder, from names and the first
    64 KB (never the whole file). Raises DatasetError naming the path when nothing fits."""
    path = Path(path)
    if path.is_dir():
        if any(path.glob("annotations/captions_*.json")) or any(path.glob("captions_*.json")):
            return "coco"
        names = dict.fromkeys(name for kind in ("flickr30k", "flickr8k") for name in FLICKR_ANNOTATIONS[kind])
        for name in names:
            if (path / name).is_file():
                only_30k = name not in FLICKR_ANNOTATIONS["flickr8k"]  # results.csv, *.token of 30k
                return "flickr30k" if only_30k else _flickr_kind(path / name)
        raise DatasetError(
            path, f"cannot tell the dataset kind: no captions_*.json, annotations/ or {', '.join(names)} in it"
        )
    head = _read_head(path)
    if path.suffix.lower() == ".json" or head.lstrip().startswith(("{", "[")):
        return "coco"
    lines = [line for line in _lines(head) if line.strip()]
    first = lines[0] if lines else ""
    if "\t" in first or "|" in first:
        return _flickr_kind(path)
    header = [cell.strip().lower() for cell in next(csv.reader([first]), [])]
    if "image" in header and "caption" in header:
        # A plain CSV names images beside itself; Kaggle's Flickr captions.txt names them in Images/.
        row = next(csv.reader(lines[1:2]), [])
        name = row[header.index("image")].strip() if len(row) > header.index("image") else ""
        beside = bool(name) and (path.parent / name).is_file()
        flickr_dirs = {d for kind in ("flickr30k", "flickr8k") for d in FLICKR_IMAGE_DIRS[kind]}
        if not beside and any((path.parent / d).is_dir() for d in flickr_dirs):
            return _flickr_kind(path)
        return "csv"
    raise DatasetError(path, f"cannot tell the dataset kind from its first line {_shorten(first)!r}; pass kind")


# --- the entry point ---


def read_captions(
    kind: str,
    path: str | Path,
    images_dir: str | Path | None = None,
    *,
    split: str = "train",
    fraction: float = 1.0,
    limit: int | None = None,
    seed: int = 0,
    check_images: bool = True,
) -> tuple[list[CaptionRecord], ReadStats]:
    """Read one caption dataset -> (records in file order, stats).

    kind: "auto" (`detect_kind`), "coco" (path: a captions_*.json, or the COCO root holding annotations/, in which case
    `split` picks captions_{split}2017.json), "flickr30k" / "flickr8k" (path: the caption file
    or the folder holding it), "csv" (columns image,caption; images relative to the CSV's folder).
    images_dir: where image names point; found from the layout when None (not for "csv").
    fraction, limit, seed: see `subset`; applied after reading, so `stats` covers the whole file.
    check_images: skip (and count) captions whose image file does not exist.
    Raises DatasetError naming the file for a missing or unreadable file, a file without the
    expected overall shape, or an image folder that cannot be found; ValueError for a bad kind.
    """
    if kind not in KIND_CHOICES:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KIND_CHOICES)}")
    path = Path(path)
    if kind == "auto":
        kind = detect_kind(path)
        logger.info("%s: read as %s", path, kind)
    if kind == "coco":
        source = _coco_annotation(path, split)
    elif kind == "csv":
        source = path
    else:
        source = _flickr_annotation(path, kind)
    stats = ReadStats(source=source, kind=kind)
    if kind == "coco":
        rows = _parse_coco(source, stats)
    elif kind == "csv":
        rows = _parse_csv(source, _read_text(source), stats)
    else:
        rows = _parse_flickr(source, stats)

    if images_dir is not None:
        root = Path(images_dir)
        if not root.is_dir():
            raise DatasetError(root, "image folder not found")
    elif kind == "coco":
        root = _coco_images_dir(source)
    elif kind == "csv":
        root = source.parent
    elif rows:
        root = _flickr_images_dir(source, kind, [name for _, name, _ in rows if name])
    else:
        root = source.parent

    exists: dict[Path, bool] = {}
    records = []
    for where, name, raw_caption in rows:
        caption = normalize_caption(raw_caption)
        if not name:
            stats.skip(where, "missing image name", raw_caption)
            continue
        if not caption:
            stats.skip(where, "empty caption", name)
            continue
        image = root / name
        if check_images:
            if image not in exists:
                exists[image] = image.is_file()
            if not exists[image]:
                stats.skip(where, "missing image file", name)
                continue
        records.append(CaptionRecord(image, caption))
    stats.kept = len(records)

    log = logger.warning if stats.skipped else logger.info
    log("%s", stats.summary())
    if fraction != 1.0 or limit is not None:
        records = subset(records, fraction, limit, seed)
    return records, stats


# --- subsets and splits, always by image ---


def _shuffled_images(records: Sequence[CaptionRecord], seed: int) -> list[Path]:
    # Sorted first, so the same records in any order give the same shuffle.
    images = sorted({record.image for record in records})
    random.Random(seed).shuffle(images)
    return images


def _count(fraction: float, total: int) -> int:
    return math.floor(fraction * total + 0.5)  # round half up; round() would round half to even


def subset(
    records: Sequence[CaptionRecord],
    fraction: float = 1.0,
    limit: int | None = None,
    seed: int = 0,
) -> list[CaptionRecord]:
    """A deterministic random subset, drawn by image, in the input order.

    Keeps `fraction` (0-1] of the images (at least one) with all their captions, then at most
    `limit` captions: whole images in random order, the last one possibly cut short.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    by_image: dict[Path, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        by_image[record.image].append(i)
    images = _shuffled_images(records, seed)
    keep: list[int] = []
    for image in images[: max(1, _count(fraction, len(images)))]:
        keep.extend(by_image[image])
        if limit is not None and len(keep) >= limit:
            del keep[limit:]
            break
    return [records[i] for i in sorted(keep)]


def split_by_image(
    records: Sequence[CaptionRecord],
    val_fraction: float,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> tuple[list[CaptionRecord], list[CaptionRecord], list[CaptionRecord]]:
    """Split into (train, val, test) by image: no image appears in two splits.

    The fractions are of images, not captions, rounded half up; train keeps at least one image.
    Each split keeps the input order. The same records (in any order) and seed give the same
    split.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"need val_fraction, test_fraction >= 0 with a sum below 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    images = _shuffled_images(records, seed)
    n = len(images)
    n_test = min(_count(test_fraction, n), max(n - 1, 0))
    n_val = min(_count(val_fraction, n), max(n - 1 - n_test, 0))
    split_of = {image: 2 for image in images[:n_test]}
    split_of.update({image: 1 for image in images[n_test : n_test + n_val]})
    train: list[CaptionRecord] = []
    val: list[CaptionRecord] = []
    test: list[CaptionRecord] = []
    for record in records:
        (train, val, test)[split_of.get(record.image, 0)].append(record)
    return train, val, test
