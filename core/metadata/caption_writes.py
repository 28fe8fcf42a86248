"""Writing captions out, from the CLI and the app, under one rule: each file ends up with the
caption written and everything else it held unchanged, or exactly as it was with a one-line
reason in the report.

`write_captions(items, options)` writes each WriteItem the ways asked (XMP sidecars, embedded
descriptions with a sidecar instead where a photo cannot take one, `.txt` files, metadata.jsonl
rows) and returns a WriteReport: one Outcome per file, written, unchanged, kept, not written or
sidecar instead, each with its reason. A photo that changed since it was captioned gets nothing.
A caption a person or another program put in a file is replaced only when the caller says so
(`WriteOptions.existing`, or the file is in a state VisionCap already knows: `WriteItem.known`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import KeptCaption, MetadataError
from core.fingerprint import FileState, file_state
from core.metadata.jsonl_captions import JsonlTargets, write_jsonl
from core.metadata.photo_edit import Mark
from core.metadata.photo_metadata import CannotEmbed, ReadOnlyPhoto, embed_description
from core.metadata.sidecars import (
    SIDECAR_NAMINGS,
    StemIndex,
    existing_sidecars,
    shares_stem_with,
    sidecar_path,
    stem_index,
    txt_path,
    write_sidecar,
    write_txt,
)

WAYS = ("xmp", "embed", "txt", "jsonl")
EXISTING = ("keep", "replace")
WRITTEN, UNCHANGED, KEPT, NOT_WRITTEN, SIDECAR_INSTEAD = "written", "unchanged", "kept", "not written", "sidecar instead"
WAY_NAMES = {"xmp": "XMP sidecars", "embed": "photos with embedded captions", "txt": ".txt files",
             "jsonl": "metadata.jsonl rows"}


@dataclass(frozen=True)
class WriteOptions:
    ways: tuple[str, ...] = ("xmp",)  # any of WAYS
    sidecar_naming: str = "photo.jpg.xmp"  # for new sidecars; "photo.xmp" is the other naming
    keep_mtime: bool = False  # embedded: give the photo back its modification time
    # a different caption a person or another program left in a file: "keep" it or "replace" it
    existing: str = "keep"

    def __post_init__(self) -> None:
        unknown = [w for w in self.ways if w not in WAYS]
        if unknown:
            raise ValueError(f"unknown ways to write captions {unknown}; choose from {WAYS}")
        if self.sidecar_naming not in SIDECAR_NAMINGS:
            raise ValueError(f"sidecar naming must be one of {SIDECAR_NAMINGS}")
        if self.existing not in EXISTING:
            raise ValueError(f"existing must be one of {EXISTING}")


@dataclass(frozen=True)
class WriteItem:
    path: Path
    name: str  # relative to the folder the user gave, forward slashes
    caption: str
    photo_state: FileState | None = None  # the photo as captioned: a photo changed since is skipped
    # files whose present content VisionCap knows (the app's store): replacing their caption
    # is the user's edit, not another's caption lost
    known: Mapping[Path, FileState] = field(default_factory=dict)
    # the model wrote the caption: it is marked as VisionCap's own, which a later run may
    # replace; a caption a person wrote or edited is not, and later runs keep it
    by_model: bool = True
    # embedded and in sidecars: keywords added beside the photo's own (XMP dc:subject, IPTC
    # Keywords), and a title (XMP dc:title); .txt and metadata.jsonl hold only the caption
    keywords: tuple[str, ...] = ()
    title: str | None = None
    # the model (and its caption style) that wrote a model's caption: XMP visioncap:Model and
    # visioncap:Style beside the digest, in embedded captions and sidecars
    model: str = ""
    style: str = ""

    @property
    def mark(self) -> Mark | None:
        return Mark(self.model, self.style) if self.by_model and self.model else None


@dataclass(frozen=True)
class Outcome:
    image: Path
    way: str  # one of WAYS
    target: Path  # the file written, or left as it was
    status: str  # WRITTEN, UNCHANGED, KEPT, NOT_WRITTEN or SIDECAR_INSTEAD
    reason: str = ""  # why not written; for WRITTEN, what was left alone (IPTC...), if anything


@dataclass
class WriteReport:
    outcomes: list[Outcome] = field(default_factory=list)
    # every file written, with its state afterwards: what the store records as seen
    states: dict[Path, FileState] = field(default_factory=dict)
    dry_run: bool = False  # nothing was written: WRITTEN outcomes are what a write would do

    def add(self, image: Path, way: str, target: Path, status: str, reason: str = "") -> None:
        self.outcomes.append(Outcome(image, way, target, status, reason))

    def where(self, status: str, way: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status and (way is None or o.way == way)]

    @property
    def ok(self) -> bool:
        """Nothing was left unwritten because of a problem (kept captions are not problems)."""
        return not self.where(NOT_WRITTEN)

    def notes(self, image: Path) -> str:
        """One line on what happened to `image`'s files, for the CLI's CSV."""
        parts = []
        for o in (o for o in self.outcomes if o.image == image):
            text = f"{o.way}: {o.status}" + (f" ({o.reason})" if o.reason else "")
            parts.append(text)
        return "; ".join(parts)

    def summary(self, kept_hint: str = "") -> str:
        """One line of counts, then one line per file that was not written or has a note."""
        written = [f"{len(self.where(WRITTEN, w)):,} {WAY_NAMES[w]}" for w in WAYS if self.where(WRITTEN, w)]
        lines = [("would write " if self.dry_run else "wrote ") + (", ".join(written) if written else "nothing")]
        if self.where(UNCHANGED):
            lines.append(f"{len(self.where(UNCHANGED)):,} already held the caption (not rewritten)")
        kept = self.where(KEPT)
        if kept:
            lines.append(f"{len(kept):,} kept: they hold a different caption a person or another program wrote"
                         f"{kept_hint}: " + ", ".join(o.target.name for o in kept[:5]) + (" ..." if len(kept) > 5 else ""))
        for o in self.where(SIDECAR_INSTEAD):
            lines.append(f"sidecar instead of embedding: {o.image}: {o.reason}")
        lines.extend(f"not written: {o.target}: {o.reason}" for o in self.where(NOT_WRITTEN))
        lines.extend(f"note: {o.target}: {o.reason}" for o in self.where(WRITTEN) if o.reason)
        return "\n".join(lines)


def _known(item: WriteItem, target: Path, options: WriteOptions) -> Callable[..., bool]:
    """The may_replace rule for one target file: replacing was asked for, or VisionCap knows
    the file as it is now (its caption is the one the user has been editing)."""
    if options.existing == "replace":
        return lambda *_: True
    state = item.known.get(target)

    def known(*_) -> bool:
        try:
            now = file_state(target)
        except OSError:
            return False
        return state is not None and (now.size, now.fingerprint) == (state.size, state.fingerprint)

    return known


@dataclass
class WriteSession:
    """What a run that writes in several calls (the CLI, batch by batch) remembers between them:
    where the metadata.jsonl files are, and which photos of a folder share a stem (the folder's
    own listing changes with every file written, the photos in it do not)."""

    jsonl: JsonlTargets = field(default_factory=JsonlTargets)
    stems: dict[Path, StemIndex] = field(default_factory=dict)

    def shares_stem_with(self, image: Path) -> list[Path]:
        if image.parent not in self.stems:
            self.stems[image.parent] = stem_index(image.parent)
        return shares_stem_with(image, self.stems[image.parent])


class _Writer:
    """One write_captions call: the report, and which image claimed which shared file."""

    def __init__(self, options: WriteOptions, session: WriteSession | None, dry_run: bool = False):
        self.options = options
        self.dry_run = dry_run
        self.report = WriteReport(dry_run=dry_run)
        self.owners: dict[Path, Path] = {}
        self.session = session or WriteSession()
        self.jsonl: dict[Path, dict[str, tuple[WriteItem, str]]] = {}

    def claim(self, target: Path, image: Path, way: str) -> bool:
        owner = self.owners.setdefault(target, image)
        if owner != image:
            self.report.add(image, way, target, NOT_WRITTEN, f"also the file of {owner.name}")
        return owner == image

    def item(self, item: WriteItem) -> None:
        image, ways = Path(item.path), self.options.ways
        if item.photo_state is not None and not _same_photo(image, item.photo_state):
            for way in ways:
                self.report.add(image, way, image, NOT_WRITTEN,
                                "the photo changed since it was captioned (replaced or edited); nothing written for it")
            return
        if "xmp" in ways:
            self.sidecar(item)
        if "embed" in ways:
            self.embed(item)
        if "txt" in ways:
            self.txt(item)
        if "jsonl" in ways:
            try:
                path, file_name = self.session.jsonl.target(image, item.name)
                self.jsonl.setdefault(path, {})[file_name] = (item, item.caption)
            except MetadataError as exc:
                self.report.add(image, "jsonl", exc.path, NOT_WRITTEN, exc.reason)

    def sidecar(self, item: WriteItem, why: str = "") -> None:
        image = Path(item.path)
        targets = existing_sidecars(image) or [sidecar_path(image, self.options.sidecar_naming)]
        if not all(self.claim(t, image, "xmp") for t in targets):
            return
        shared = self.session.shares_stem_with(image) if any(t.name == image.with_suffix(".xmp").name for t in targets) else []
        if shared:
            self.report.add(image, "xmp", targets[0], NOT_WRITTEN,
                            f"{targets[0].name} also belongs to {', '.join(p.name for p in shared)}")
            return
        try:
            results = write_sidecar(image, item.caption, self.options.sidecar_naming,
                                    may_replace=lambda path, old: _known(item, path, self.options)(),
                                    own=item.by_model, dry_run=self.dry_run, keywords=item.keywords,
                                    title=item.title, mark=item.mark)
        except MetadataError as exc:
            self._failed(image, "xmp", exc)
            return
        for result in results:
            if result.status == KEPT:
                self.report.add(image, "xmp", result.path, KEPT, KeptCaption(result.path, result.existing).reason)
                continue
            self.report.add(image, "xmp", result.path, WRITTEN if result.written else UNCHANGED, why)
            self._record(result.path, result.state)

    def embed(self, item: WriteItem) -> None:
        image = Path(item.path)
        try:
            result = embed_description(image, item.caption, keep_mtime=self.options.keep_mtime,
                                       expect=item.photo_state, may_replace=_known(item, image, self.options),
                                       own=item.by_model, dry_run=self.dry_run, keywords=item.keywords,
                                       title=item.title, mark=item.mark)
        except CannotEmbed as exc:
            self.report.add(image, "embed", image, SIDECAR_INSTEAD, exc.reason)
            if "xmp" not in self.options.ways:
                self.sidecar(item, "instead of embedding")
            return
        except (ReadOnlyPhoto, MetadataError) as exc:
            self._failed(image, "embed", exc)
            return
        self.report.add(image, "embed", image, WRITTEN if result.written else UNCHANGED, "; ".join(result.notes))
        self._record(image, result.state)

    def txt(self, item: WriteItem) -> None:
        image = Path(item.path)
        target = txt_path(image)
        if target == image or not self.claim(target, image, "txt"):
            return
        shared = self.session.shares_stem_with(image)
        if shared:
            self.report.add(image, "txt", target, NOT_WRITTEN,
                            f"{target.name} would also belong to {', '.join(p.name for p in shared)}")
            return
        try:
            result = write_txt(image, item.caption, may_replace=_known(item, target, self.options),
                               dry_run=self.dry_run)
        except MetadataError as exc:
            self._failed(image, "txt", exc)
            return
        self.report.add(image, "txt", target, WRITTEN if result.written else UNCHANGED)
        self._record(target, result.state)

    def flush_jsonl(self) -> None:
        for path, rows in self.jsonl.items():
            first = next(iter(rows.values()))[0]
            known = _known(first, path, self.options)
            try:
                result = write_jsonl(path, {name: text for name, (_, text) in rows.items()},
                                     may_replace=known, dry_run=self.dry_run)
            except MetadataError as exc:
                for item, _ in rows.values():
                    self.report.add(Path(item.path), "jsonl", path, NOT_WRITTEN, exc.reason)
                continue
            for name, (item, _) in rows.items():
                status = WRITTEN if name in result.written else UNCHANGED if name in result.unchanged else KEPT
                self.report.add(Path(item.path), "jsonl", path, status)
            if result.state is not None:
                self._record(path, result.state)
        self.jsonl.clear()

    def _record(self, path: Path, state: FileState | None) -> None:
        """A file written is seen in its new state (nothing is recorded in a dry run)."""
        if state is not None and not self.dry_run:
            self.report.states[path] = state

    def _failed(self, image: Path, way: str, exc: MetadataError) -> None:
        status = KEPT if isinstance(exc, KeptCaption) else NOT_WRITTEN
        self.report.add(image, way, exc.path, status, exc.reason)


def _same_photo(image: Path, state: FileState) -> bool:
    try:
        now = file_state(image)
    except OSError:
        return False
    return (now.size, now.fingerprint) == (state.size, state.fingerprint)


def write_captions(
    items: Iterable[WriteItem],
    options: WriteOptions,
    *,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    session: WriteSession | None = None,
    dry_run: bool = False,
) -> WriteReport:
    """Write each item's caption the ways `options` asks; items without a caption are left out.
    Never raises for one file: every file written or left alone is an Outcome in the report.
    `progress(n)` after each image; `cancelled()` is checked between images (what is written
    stays written). `session`: one WriteSession for a run that writes in several calls.
    `dry_run`: every check, every new file built and verified, nothing written: the report
    lists what a write would do (WRITTEN: would be written) and why anything would be left."""
    writer = _Writer(options, session, dry_run)
    for done, item in enumerate(items, 1):
        if cancelled():
            break
        if item.caption.strip():
            writer.item(item)
        if progress:
            progress(done)
    writer.flush_jsonl()
    return writer.report
