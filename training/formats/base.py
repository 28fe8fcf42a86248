"""What every caption-file reader shares: the record, the read statistics, the error, text helpers.

A reader turns one annotation file into `Row`s, (where, image name, raw caption), plus the folder
the image names are relative to; `training.annotations.read_captions` makes records of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MAX_EXAMPLES = 5  # skipped rows named per reason in ReadStats.examples; the counts cover all
MAX_PROBLEM = 300  # characters of a DatasetError's problem text (a quoted header, a row)
HEAD_BYTES = 64 * 1024  # what detect_kind reads of a file
PROBE_IMAGES = 5  # image names checked to tell the right image folder from a wrong one

# (where, image name, raw caption): `where` names the file and line (or key) for ReadStats.
Row = tuple[str, str, str]


class DatasetError(Exception):
    """An annotation file or image folder is missing, unreadable or not in the expected format."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = shorten(problem, MAX_PROBLEM)  # a 68 MB JSON quoted as a "header" fits
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class CaptionRecord:
    """One caption of one image. `image` is a path; the image itself is never opened here."""

    image: Path
    caption: str


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 row", "2 rows", "0 rows"; `plural` where adding "s" is wrong."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


@dataclass
class ReadStats:
    """What a reader saw in one annotation file.

    `rows` counts caption rows (lines, CSV rows, COCO annotations, Karpathy sentences) of the
    split read; `kept` those that became records before any subsetting; `skipped` counts skips
    by reason (COCO's bad `images` entries are counted too, though they are not caption rows);
    `examples` names the first few rows of each reason ("file:line (what)"); `kind` is the
    layout read (after "auto"). `split` is the split the reader chose (a COCO root's file, a
    Karpathy split, a Flickr8k split list), None when it read the whole file whatever split was
    asked; `splits` are the splits the annotation itself assigns images to (Karpathy JSON,
    Flickr8k's lists, imagefolder split folders), from which `train` takes its validation;
    `other_splits` counts the caption rows of the other splits, which were not read.
    """

    source: Path
    kind: str = ""
    rows: int = 0
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    split: str | None = None
    splits: tuple[str, ...] = ()
    other_splits: int = 0

    def skip(self, where: str, reason: str, row: object = None) -> None:
        self.skipped[reason] += 1
        named = self.examples.setdefault(reason, [])
        if len(named) < MAX_EXAMPLES:
            detail = "" if row is None else f" ({shorten(row if isinstance(row, str) else repr(row))})"
            named.append(f"{where}{detail}")

    def summary(self) -> str:
        """A line of counts, then one line per skip reason naming its first rows."""
        split = f" ({self.split} split)" if self.split else ""
        lines = [f"{self.source}{split}: {counted(self.rows, 'row')}, {self.kept} kept"]
        if self.skipped:
            lines[0] += f", {sum(self.skipped.values())} skipped"
        for reason, count in self.skipped.most_common():
            named = self.examples.get(reason, [])
            more = f", and {count - len(named)} more" if count > len(named) else ""
            lines.append(f"  skipped {counted(count, 'row')} ({reason}): {', '.join(named)}{more}")
        return "\n".join(lines)


def shorten(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def normalize_caption(text: str) -> str:
    """Strip and collapse runs of whitespace (newlines, tabs, non-breaking spaces) to one space."""
    return " ".join(text.split())


def lines(text: str) -> list[str]:
    # Not str.splitlines(): it also splits on \x0b, \x1c, \u2028 ..., which captions may hold.
    return text.split("\n")


def read_text(path: Path) -> str:
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


def read_head(path: Path) -> str:
    """The first HEAD_BYTES of a file as text (undecodable bytes replaced), or DatasetError."""
    if not path.exists():
        raise DatasetError(path, "annotation file not found")
    try:
        with path.open("rb") as stream:
            return stream.read(HEAD_BYTES).decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from exc


def best_root(candidates: list[tuple[Path, object]], probe: list, exists) -> tuple[Path, object] | None:
    """The (folder, layout) candidate under which most of the `probe` entries exist (at least
    one); `exists(folder, layout, entry)` tests one. The first candidate wins a tie."""
    best, best_hits = None, 0
    for candidate in candidates:
        hits = sum(exists(*candidate, entry) for entry in probe)
        if hits > best_hits:
            best, best_hits = candidate, hits
    return best
