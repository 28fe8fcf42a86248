"""One record per image: the data behind a gallery row, the caption store and the exports.

Qt-free: the scanner builds records in its own thread, the store and the exporters read them in
plain Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from core.fingerprint import FileState

_DIGITS = re.compile(r"\d+")


def natural_key(name: str) -> str:
    """A sort key that orders img2 before img10 and ignores letter case."""
    return _DIGITS.sub(lambda m: m.group().zfill(12), name.casefold())


class CaptionState(str, Enum):
    PENDING = "pending"  # no caption yet
    CAPTIONED = "captioned"  # written by the model
    EDITED = "edited"  # written or corrected by the user: runs leave it alone by default
    ERROR = "error"  # the last run could not read the image; `error` says why


@dataclass(frozen=True, slots=True)
class CaptionSnapshot:
    """Everything a captioning run or an edit can change on a record: what undo restores and
    what the caption store saves."""

    caption: str = ""
    state: CaptionState = CaptionState.PENDING
    error: str = ""
    model: str = ""
    source: str = ""  # SOURCES: where the caption was read from ("" for the model or the user)
    title: str = ""  # the photo's title (XMP dc:title) where the user gives one: written beside the caption
    style: str = ""  # the caption style `model` wrote it in (Florence-2's "detailed"...); "" none


# Where a caption came from besides the model and the user (core.metadata.caption_io.Source values). Such
# a caption is protected from captioning runs like an edit.
SOURCES = ("csv", "jsonl", "txt", "caption-file", "xmp-sidecar", "takeout", "embedded")
# where such captions were read from, in a sentence ("Read 3 captions from .txt files")
SOURCE_PLACES = {"csv": "a CSV", "jsonl": "metadata.jsonl", "txt": ".txt files", "caption-file": ".caption files",
                 "xmp-sidecar": "XMP sidecars", "takeout": "Google Takeout JSON", "embedded": "photo metadata"}
SOURCE_LABELS = {"csv": "CSV", "jsonl": "metadata.jsonl", "txt": ".txt file", "caption-file": ".caption file",
                 "xmp-sidecar": "XMP sidecar", "takeout": "Google Takeout JSON", "embedded": "photo metadata"}


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the store keeps about an image file besides its caption: the content fingerprint
    (core.fingerprint) with the size and modification time it was computed at, so an unchanged
    file is not read again; when VisionCap's caption last changed; and the state of every file
    the caption was read from or written to, keyed by core.metadata.caption_io.source_key (and, `noted`,
of the files that disagree and were reported)."""

    fingerprint: str = ""
    size: int = 0
    mtime_ns: int = 0
    changed_ns: int = 0  # time.time_ns() of the caption's last change in VisionCap; 0: unknown
    seen: Mapping[str, FileState] = field(default_factory=dict)
    # files whose different caption VisionCap kept its own against, and said so, each with its
    # state then: the same disagreement is not reported again, only a new change of the file
    noted: Mapping[str, FileState] = field(default_factory=dict)

    def state(self) -> FileState | None:
        """The image file's own state, when fingerprinted."""
        return FileState(self.size, self.mtime_ns, self.fingerprint) if self.fingerprint else None


@dataclass(slots=True)
class ImageRecord:
    path: str  # absolute
    name: str  # relative to the opened folder, forward slashes: the store key and CSV file_name
    caption: str = ""
    state: CaptionState = CaptionState.PENDING
    error: str = ""
    model: str = ""  # the model that wrote the caption (kept when the user edits it)
    style: str = ""  # see CaptionSnapshot.style
    width: int = 0  # pixels, 0 until the thumbnail loader has read the header
    height: int = 0
    source: str = ""  # see CaptionSnapshot.source
    fingerprint: str = ""  # core.fingerprint of the file, "" until the scanner has read it
    size: int = 0  # bytes, with mtime_ns: the file's state when fingerprinted
    mtime_ns: int = 0
    changed_ns: int = 0  # see FileFacts.changed_ns
    seen: dict[str, FileState] = field(default_factory=dict)  # see FileFacts.seen
    noted: dict[str, FileState] = field(default_factory=dict)  # see FileFacts.noted
    title: str = ""  # see CaptionSnapshot.title
    # computed once, in the scanner's thread, so sorting 100,000 records is a plain list.sort
    sort_key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.sort_key:
            self.sort_key = natural_key(self.name)

    @property
    def edited(self) -> bool:
        return self.state is CaptionState.EDITED

    @property
    def needs_caption(self) -> bool:
        """What "Caption uncaptioned" runs on: never captioned, or failed last time."""
        return self.state in (CaptionState.PENDING, CaptionState.ERROR)

    def snapshot(self) -> CaptionSnapshot:
        return CaptionSnapshot(self.caption, self.state, self.error, self.model, self.source, self.title, self.style)

    def apply(self, snapshot: CaptionSnapshot) -> None:
        self.caption = snapshot.caption
        self.state = snapshot.state
        self.error = snapshot.error
        self.model = snapshot.model
        self.source = snapshot.source
        self.title = snapshot.title
        self.style = snapshot.style

    def facts(self) -> FileFacts:
        return FileFacts(self.fingerprint, self.size, self.mtime_ns, self.changed_ns, dict(self.seen),
                         dict(self.noted))

    def apply_facts(self, facts: FileFacts) -> None:
        self.fingerprint, self.size, self.mtime_ns = facts.fingerprint, facts.size, facts.mtime_ns
        self.changed_ns = facts.changed_ns
        self.seen = dict(facts.seen)
        self.noted = dict(facts.noted)

    def set_file_state(self, state: FileState) -> None:
        self.fingerprint, self.size, self.mtime_ns = state.fingerprint, state.size, state.mtime_ns

    @property
    def source_label(self) -> str:
        """"from a .txt file" and the like for a caption read from a file, else ""."""
        return f"from {SOURCE_LABELS[self.source]}" if self.source in SOURCE_LABELS else ""


def edited_snapshot(record: ImageRecord, caption: str) -> CaptionSnapshot:
    """What a user edit of `record` to `caption` leaves: state edited, no error, same model; the
    caption is the user's now, not the file's it was read from. The title stays."""
    return CaptionSnapshot(caption, CaptionState.EDITED, "", record.model, title=record.title, style=record.style)


def titled_snapshot(record: ImageRecord, title: str) -> CaptionSnapshot:
    """`record` with the title `title`; its caption and state as they are."""
    return replace(record.snapshot(), title=title.strip())


def imported_snapshot(record: ImageRecord, caption: str, source: str, own: bool = False) -> CaptionSnapshot:
    """A caption read from a file (`source`, one of SOURCES): kept from runs like an edit. One
    that VisionCap's model wrote there and nobody changed since (`own`) is the model's caption
    again, which runs may replace."""
    if own:
        return CaptionSnapshot(caption, CaptionState.CAPTIONED, "", record.model, title=record.title,
                               style=record.style)
    return CaptionSnapshot(caption, CaptionState.EDITED, "", record.model, source, record.title, record.style)


def run_may_replace(record: ImageRecord, overwrite_edited: bool) -> bool:
    """Whether a captioning run may change `record`: an edited caption is the user's and stays,
    unless the user asked runs to overwrite edits. Checked when a run is requested and again
    when each result arrives (the user may edit an image while it waits in the run)."""
    return overwrite_edited or not record.edited
