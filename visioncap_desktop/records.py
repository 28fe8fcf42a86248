"""One record per image: the data behind a gallery row, the caption store and the exports.

Qt-free: the scanner builds records in its own thread, the store and the exporters read them in
plain Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

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


@dataclass(slots=True)
class ImageRecord:
    path: str  # absolute
    name: str  # relative to the opened folder, forward slashes: the store key and CSV file_name
    caption: str = ""
    state: CaptionState = CaptionState.PENDING
    error: str = ""
    model: str = ""  # the model that wrote the caption (kept when the user edits it)
    width: int = 0  # pixels, 0 until the thumbnail loader has read the header
    height: int = 0
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
        return CaptionSnapshot(self.caption, self.state, self.error, self.model)

    def apply(self, snapshot: CaptionSnapshot) -> None:
        self.caption = snapshot.caption
        self.state = snapshot.state
        self.error = snapshot.error
        self.model = snapshot.model


def edited_snapshot(record: ImageRecord, caption: str) -> CaptionSnapshot:
    """What a user edit of `record` to `caption` leaves: state edited, no error, same model."""
    return CaptionSnapshot(caption, CaptionState.EDITED, "", record.model)


def run_may_replace(record: ImageRecord, overwrite_edited: bool) -> bool:
    """Whether a captioning run may change `record`: an edited caption is the user's and stays,
    unless the user asked runs to overwrite edits. Checked when a run is requested and again
    when each result arrives (the user may edit an image while it waits in the run)."""
    return overwrite_edited or not record.edited
