"""Captions in and out of the places other tools keep them, and the rule between those and the
caption store.

Reading (`find_captions`), in this order of preference:
1. tables the user asked to import: a caption CSV or a `metadata.jsonl`;
2. `photo.txt`, then `photo.caption` (not when several photos share the stem, see core.metadata.sidecars);
3. the XMP sidecars `photo.jpg.xmp`, then `photo.xmp`;
4. Google Photos Takeout JSON (`photo.jpg.json`, `photo.jpg.supplemental-metadata.json`);
5. the description embedded in the photo (core.metadata.photo_metadata: the MWG rule, then EXIF
   UserComment and Windows' fields).

The conflict rule (`reconcile`), between the store's caption and what is found beside a photo:
a file that changed since VisionCap last read or wrote it, and says something else, replaces the
store's caption when the file is newer than that caption (the replaced caption is one undo step
away); otherwise the store's caption stays and the caller is told which file disagrees. Nothing
is overwritten silently, and a file VisionCap has already seen in its current state never
overrides a later edit.

Writing captions out is core.metadata.caption_writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from core.cli.output import read_caption_csv
from core.errors import MetadataError
from core.fingerprint import FileState, file_state
from core.metadata.jsonl_captions import read_jsonl
from core.metadata.photo_metadata import (
    EmbeddedCaption,
    read_embedded,
)
from core.metadata.sidecars import (
    FileCaption,
    caption_file_paths,
    existing_sidecars,
    read_sidecar,
    read_takeout,
    read_txt,
    shares_stem_with,
    takeout_paths,
)


class Source(str, Enum):
    """Where a caption came from; stored beside the caption."""

    CSV = "csv"
    JSONL = "jsonl"
    TXT = "txt"
    CAPTION_FILE = "caption-file"
    SIDECAR = "xmp-sidecar"
    TAKEOUT = "takeout"
    EMBEDDED = "embedded"


@dataclass(frozen=True)
class FoundCaption:
    text: str
    source: Source
    file: Path  # the file it was read from: the photo itself, its .txt or sidecar, or a table
    state: FileState  # that file's state when it was read
    detail: str = ""  # for embedded captions, the field that won ("XMP dc:description", ...)
    own: bool = False  # written by VisionCap and unchanged since (XMP's visioncap:DescriptionDigest)


@dataclass(frozen=True)
class Table:
    """An imported CSV or metadata.jsonl: captions by name relative to the opened folder."""

    source: Source
    path: Path
    state: FileState
    captions: Mapping[str, str]


def load_table(path: str | Path, folder: str | Path) -> Table:
    """Read a caption CSV or a metadata.jsonl (by extension) for the images under `folder`.
    Raises MetadataError or OSError naming the file."""
    path = Path(path)
    state = file_state(path)
    if path.suffix.lower() == ".jsonl":
        return Table(Source.JSONL, path, state, read_jsonl(path))
    return Table(Source.CSV, path, state, read_caption_csv(path, folder))


@dataclass
class Findings:
    found: list[FoundCaption] = field(default_factory=list)  # in order of preference
    problems: list[str] = field(default_factory=list)  # unreadable files, one sentence each

    @property
    def best(self) -> FoundCaption | None:
        return self.found[0] if self.found else None

    @property
    def others(self) -> list[FoundCaption]:
        """The captions a person or another program wrote (not VisionCap's own)."""
        return [f for f in self.found if not f.own]


def find_captions(
    image: str | Path, name: str, tables: Sequence[Table] = (), *, embedded: bool = True
) -> Findings:
    """Every caption beside or inside `image` (`name`: its path relative to the opened folder,
    forward slashes), most preferred first. Never raises: an unreadable file is a problem in
    the result and the others are still read. Meant for the folder scanner's thread."""
    image = Path(image)
    findings = Findings()
    for table in tables:
        text = table.captions.get(name)
        if text:
            findings.found.append(FoundCaption(text, table.source, table.path, table.state))

    def add(source: Source, file: Path, read: Callable[[Path], str | FileCaption | EmbeddedCaption | None]) -> None:
        try:
            result = read(file)
            if result is None:
                return
            text = result if isinstance(result, str) else result.text
            findings.found.append(FoundCaption(text, source, file, file_state(file), getattr(result, "field", ""),
                                               getattr(result, "own", False)))
        except (MetadataError, OSError) as exc:
            findings.problems.append(str(exc))

    caption_files = [p for p in caption_file_paths(image) if p.exists() or p.is_symlink()]
    shared = shares_stem_with(image) if caption_files else []
    for file in caption_files:
        if shared:
            findings.problems.append(f"{file}: also belongs to {', '.join(p.name for p in shared)}; "
                                     "not taken as the caption of either")
        else:
            add(Source.TXT if file.suffix == ".txt" else Source.CAPTION_FILE, file, read_txt)
    for sidecar in existing_sidecars(image):
        add(Source.SIDECAR, sidecar, read_sidecar)
    for takeout in takeout_paths(image):
        add(Source.TAKEOUT, takeout, read_takeout)
    if embedded:
        add(Source.EMBEDDED, image, read_embedded)
    return findings


# ---- the conflict rule ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCaption:
    """What the store knows about one image's caption."""

    caption: str
    changed_ns: int  # when the caption last changed in VisionCap (time.time_ns())
    # files VisionCap read this caption from or wrote it to, each with its state then, keyed
    # by `source_key` (relative to the folder when inside it, so moving the folder keeps them)
    seen: Mapping[str, FileState] = field(default_factory=dict)


class Action(str, Enum):
    KEEP = "keep"  # the store's caption stays
    TAKE = "take"  # the found caption replaces the store's (one undo step restores it)


@dataclass(frozen=True)
class Decision:
    action: Action
    found: FoundCaption | None = None  # the caption taken, or the newest one that disagrees
    conflict: bool = False  # a file disagrees with a caption the user may care about: say so
    # files found saying what the store now holds: record their states as seen
    in_sync: tuple[FoundCaption, ...] = ()

    def message(self, name: str) -> str:
        if self.found is None or not self.conflict:
            return ""
        where = self.found.file.name
        if self.action is Action.TAKE:
            return f"{name}: took the caption from {where}, changed since VisionCap's (Undo restores VisionCap's)"
        return f"{name}: kept VisionCap's caption, newer than the different one in {where}"


def source_key(file: str | Path, folder: str | Path) -> str:
    """How the store names a caption's source file: relative to the folder with forward
    slashes when inside it, else the absolute path."""
    file, folder = Path(file), Path(folder)
    try:
        return file.relative_to(folder).as_posix()
    except ValueError:
        return str(file)


def _same_content(a: FileState, b: FileState) -> bool:
    # mtime left out: copying a folder changes it, the content does not
    return a.size == b.size and a.fingerprint == b.fingerprint


def reconcile(stored: StoredCaption | None, found: Sequence[FoundCaption], folder: str | Path) -> Decision:
    """Decide between the store's caption and the captions found (in order of preference).

    - nothing found: keep;
    - no caption in the store: take the most preferred found;
    - otherwise look only at files that say something else and changed since VisionCap last
      saw them (or were never seen): none, keep; else the newest of them replaces the store's
      caption if it is newer than it, or the store's stays; both cases are reported as a
      conflict. Files that agree with the store are returned to be recorded as seen.
    """
    if not found:
        return Decision(Action.KEEP)
    if stored is None or not stored.caption.strip():
        return Decision(Action.TAKE, found[0])
    agree = tuple(f for f in found if f.text == stored.caption)

    def changed_since_seen(f: FoundCaption) -> bool:
        seen = stored.seen.get(source_key(f.file, folder))
        return seen is None or not _same_content(seen, f.state)

    disagree = [f for f in found if f.text != stored.caption and changed_since_seen(f)]
    if not disagree:
        return Decision(Action.KEEP, in_sync=agree)
    newest = max(disagree, key=lambda f: f.state.mtime_ns)
    if newest.state.mtime_ns > stored.changed_ns:
        return Decision(Action.TAKE, newest, conflict=True)
    return Decision(Action.KEEP, newest, conflict=True, in_sync=agree)
