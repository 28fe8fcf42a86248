"""What went wrong, file by file: the rows of the Problems panel. Plain Python, no Qt.

Every controller that reads, captions, writes or imports reports what it could not do for one
file as a Problem (its `problems_found` signal); the window puts them in the Problems panel,
where activating a row selects the image in the gallery. A status line then counts them and
says "see Problems" instead of pointing at the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core.images.scan import ScanReport
from core.metadata.caption_writes import KEPT, NOT_WRITTEN, SIDECAR_INSTEAD, WriteReport

STAGES = ("scanning", "reading", "importing", "captioning", "writing")
KINDS = {"conflict": "Conflict", "failed": "Failed", "refused": "Kept", "skipped": "Skipped"}
WAY_LABELS = {"xmp": "XMP sidecar", "embed": "embedded caption", "txt": ".txt file", "jsonl": "metadata.jsonl"}


@dataclass(frozen=True, slots=True)
class Problem:
    stage: str  # one of STAGES: what the app was doing
    kind: str  # a key of KINDS
    name: str  # the image, relative to the folder ("" when no image is concerned, e.g. a table)
    reason: str  # one sentence, without the image's name
    path: str = ""  # the image's absolute path: what activating the row selects ("" none)
    file: str = ""  # the file concerned when it is not the image (a .txt, a sidecar, a table)

    @property
    def where(self) -> str:
        """What the File column shows: the image, and the other file concerned if any."""
        other = Path(self.file).name if self.file and self.file != self.path else ""
        if self.name and other:
            return f"{self.name} ({other})"
        return self.name or other or self.file


def write_problems(report: WriteReport, name_of: Callable[[Path], str]) -> list[Problem]:
    """The outcomes of writing captions out that are neither written nor already right: a
    caption kept because someone else wrote it, a file not written, a sidecar written instead
    of embedding. `name_of(image)` gives the image's name in the folder."""
    problems = []
    for o in report.outcomes:
        way = WAY_LABELS.get(o.way, o.way)
        if o.status == KEPT:
            kind, reason = "refused", f"{way} not replaced: {o.reason or 'it holds a different caption; kept'}"
        elif o.status == NOT_WRITTEN:
            kind, reason = "failed", f"{way} not written: {o.reason}"
        elif o.status == SIDECAR_INSTEAD:
            kind, reason = "skipped", f"not embedded, an XMP sidecar instead: {o.reason}"
        else:
            continue
        problems.append(Problem("writing", kind, name_of(o.image), reason, str(o.image), str(o.target)))
    return problems


def scan_problems(report: ScanReport) -> list[Problem]:
    """Files and folders a scan left out (they are not in the gallery: nothing to select)."""
    return [Problem("scanning", "skipped", s.name, f"left out: {s.reason}", "", s.path) for s in report.skipped]


def unmatched_rows(table_path: Path, names: Iterable[str], limit: int) -> list[Problem]:
    """Rows of an imported table that name no image of the folder: the first `limit`, then one
    row counting the rest (a table of a million rows for a folder of a hundred images)."""
    names = sorted(names)
    problems = [Problem("importing", "skipped", "", f"row “{n}”: no image of that name in this folder", "",
                        str(table_path)) for n in names[:limit]]
    if len(names) > limit:
        problems.append(Problem("importing", "skipped", "", f"and {len(names) - limit:,} more rows that name no "
                                "image in this folder", "", str(table_path)))
    return problems
