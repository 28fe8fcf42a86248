"""Captions in and out of the places other tools keep them, and the rule between those and the
caption store.

Reading (`find_captions`), in this order of preference:
1. tables the user asked to import: a caption CSV or a `metadata.jsonl` (core.sidecars);
2. `photo.txt`;
3. the XMP sidecars `photo.jpg.xmp`, then `photo.xmp`;
4. the description embedded in the photo (core.photo_metadata, the MWG rule).

The conflict rule (`reconcile`), between the store's caption and what is found beside a photo:
a file that changed since VisionCap last read or wrote it, and says something else, replaces the
store's caption when the file is newer than that caption (the replaced caption is one undo step
away); otherwise the store's caption stays and the caller is told which file disagrees. Nothing
is overwritten silently, and a file VisionCap has already seen in its current state never
overrides a later edit.

Writing (`write_captions`): XMP sidecars, embedded descriptions (a sidecar instead for formats
exiv2 cannot write), `.txt` files and `metadata.jsonl`, with one report for the lot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath

from core.fingerprint import FileState, file_state
from core.photo_metadata import (
    CannotEmbed,
    MetadataError,
    ReadOnlyPhoto,
    embed_description,
    read_embedded,
)
from core.sidecars import (
    SIDECAR_NAMINGS,
    existing_sidecars,
    read_caption_csv,
    read_jsonl,
    read_sidecar,
    read_txt,
    sidecar_path,
    txt_path,
    write_jsonl,
    write_sidecar,
    write_txt,
)

WAYS = ("xmp", "embed", "txt", "jsonl")


class Source(str, Enum):
    """Where a caption came from; stored beside the caption."""

    CSV = "csv"
    JSONL = "jsonl"
    TXT = "txt"
    SIDECAR = "xmp-sidecar"
    EMBEDDED = "embedded"


@dataclass(frozen=True)
class FoundCaption:
    text: str
    source: Source
    file: Path  # the file it was read from: the photo itself, its .txt or sidecar, or a table
    state: FileState  # that file's state when it was read
    detail: str = ""  # for embedded captions, the field that won ("XMP dc:description", ...)


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

    def add(source: Source, file: Path, read: Callable[[Path], object]) -> None:
        try:
            result = read(file)
            if result is None:
                return
            text, detail = (result.text, result.field) if source is Source.EMBEDDED else (result, "")
            findings.found.append(FoundCaption(text, source, file, file_state(file), detail))
        except (MetadataError, OSError) as exc:
            findings.problems.append(str(exc))

    txt = txt_path(image)
    if txt != image and txt.is_file():
        add(Source.TXT, txt, read_txt)
    for sidecar in existing_sidecars(image):
        add(Source.SIDECAR, sidecar, read_sidecar)
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


# ---- writing out ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteOptions:
    ways: tuple[str, ...] = ("xmp",)  # any of WAYS
    sidecar_naming: str = "photo.jpg.xmp"  # or "photo.xmp"
    keep_mtime: bool = False  # embedded: give the photo back its modification time
    verify_pixels: bool = True  # embedded: decode before and after and compare

    def __post_init__(self) -> None:
        unknown = [w for w in self.ways if w not in WAYS]
        if unknown:
            raise ValueError(f"unknown ways to write captions {unknown}; choose from {WAYS}")
        if self.sidecar_naming not in SIDECAR_NAMINGS:
            raise ValueError(f"sidecar naming must be one of {SIDECAR_NAMINGS}")


@dataclass
class WriteReport:
    written: dict[str, list[Path]] = field(default_factory=lambda: {w: [] for w in WAYS})
    sidecar_instead: list[tuple[Path, str]] = field(default_factory=list)  # (photo, why not embedded)
    read_only: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    # every file written, with its state afterwards: what the store records as seen
    states: dict[Path, FileState] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.read_only and not self.failed

    def summary(self) -> str:
        names = {"xmp": "XMP sidecars", "embed": "photos with embedded captions", "txt": ".txt files",
                 "jsonl": "metadata.jsonl files"}
        parts = [f"{len(files):,} {names[way]}" for way, files in self.written.items() if files]
        lines = ["wrote " + (", ".join(parts) if parts else "nothing")]
        if self.sidecar_instead:
            kinds = sorted({p.suffix.lower() or p.name for p, _ in self.sidecar_instead})
            lines.append(f"{len(self.sidecar_instead):,} photos ({', '.join(kinds)}) cannot hold an "
                         "embedded caption and got an XMP sidecar instead")
        if self.read_only:
            lines.append(f"{len(self.read_only):,} read-only photos left unchanged: "
                         + ", ".join(p.name for p in self.read_only[:5]) + (" ..." if len(self.read_only) > 5 else ""))
        lines.extend(f"failed: {file}: {reason}" for file, reason in self.failed)
        return "\n".join(lines)


def dataset_root(path: Path, name: str) -> tuple[Path, str]:
    """(folder, file_name) of an image for metadata.jsonl: the folder `name` is relative to
    when `path` ends with the relative `name`, else the image's own folder."""
    parts = PurePosixPath(name).parts
    if not Path(name).is_absolute() and ".." not in parts and len(parts) <= len(path.parts) and tuple(path.parts[-len(parts):]) == parts:
        return Path(*path.parts[: -len(parts)]) if len(parts) < len(path.parts) else Path("."), name
    return path.parent, path.name


def write_captions(
    items: Iterable[tuple[str | Path, str, str]],
    options: WriteOptions,
    *,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> WriteReport:
    """Write each (image path, name, caption) the ways `options` asks; images without a caption
    are left out. Never raises for one file: failures are collected in the report, and a
    read-only photo is reported, not written. `progress(n)` after each image; `cancelled()`
    is checked between images (what is written stays written)."""
    report = WriteReport()
    tables: dict[Path, dict[str, str]] = {}
    owners: dict[Path, Path] = {}  # photo.jpg and photo.png both map to photo.txt
    done = 0

    def claim(target: Path, image: Path) -> bool:
        owner = owners.setdefault(target, image)
        if owner != image:
            report.failed.append((target, f"also the caption file of {owner.name}; not written for {image.name}"))
        return owner == image

    for raw, name, caption in items:
        if cancelled():
            break
        if not caption.strip():
            continue
        image = Path(raw)
        sidecar_free = claim(sidecar_path(image, options.sidecar_naming), image)
        if "xmp" in options.ways and sidecar_free:
            _sidecar(image, caption, options, report)
        if "embed" in options.ways:
            try:
                report.states[image] = embed_description(
                    image, caption, keep_mtime=options.keep_mtime, verify_pixels=options.verify_pixels)
                report.written["embed"].append(image)
            except ReadOnlyPhoto:
                report.read_only.append(image)
            except CannotEmbed as exc:
                report.sidecar_instead.append((image, exc.reason))
                if "xmp" not in options.ways and sidecar_free:
                    _sidecar(image, caption, options, report)
            except MetadataError as exc:
                report.failed.append((image, exc.reason))
        if "txt" in options.ways and claim(txt_path(image), image):
            try:
                target = write_txt(image, caption)
                report.written["txt"].append(target)
                report.states[target] = file_state(target)
            except (MetadataError, OSError) as exc:
                report.failed.append((txt_path(image), getattr(exc, "reason", str(exc))))
        if "jsonl" in options.ways:
            folder, file_name = dataset_root(image, name)
            tables.setdefault(folder, {})[file_name] = caption
        done += 1
        if progress:
            progress(done)
    for folder, captions in tables.items():
        try:
            target = write_jsonl(folder, captions)
            report.written["jsonl"].append(target)
            report.states[target] = file_state(target)
        except (MetadataError, OSError) as exc:
            report.failed.append((folder / "metadata.jsonl", getattr(exc, "reason", str(exc))))
    return report


def write_rows_out(
    items: Iterable[tuple[str | Path, str, str]], rows: Iterable[Mapping[str, str]], options: WriteOptions
) -> WriteReport:
    """Write out the rows of `visioncap caption`: `items` are the run's (image path, identity,
    name within its folder argument) triples, rows are keyed by `absolute_path` (the identity).
    Rows with an error or no caption are left out."""
    images = {key: (Path(path), name) for path, key, name in items}
    return write_captions(
        ((*images[row["absolute_path"]], row.get("caption", "")) for row in rows
         if row.get("absolute_path") in images and not row.get("error")),
        options,
    )


def _sidecar(image: Path, caption: str, options: WriteOptions, report: WriteReport) -> None:
    try:
        target = write_sidecar(image, caption, options.sidecar_naming)
        report.written["xmp"].append(target)
        report.states[target] = file_state(target)
    except (MetadataError, OSError) as exc:
        report.failed.append((image, getattr(exc, "reason", str(exc))))
