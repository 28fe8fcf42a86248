"""Captions in files beside the photos: XMP sidecars, `.txt` and `.caption` files, and Google
Photos Takeout JSON. (metadata.jsonl is core.metadata.jsonl_captions; caption CSVs core.cli.output.)

- XMP sidecar: `photo.jpg.xmp` (darktable, digiKam) or `photo.xmp` (Lightroom, Capture One);
  read both, `photo.jpg.xmp` first since `photo.xmp` may be shared by `photo.jpg` and
  `photo.cr2`. Read and edited as XML by core.metadata.xmp_packet, never through exiv2 (whose toolkit
  gives up on repeated properties and would hand back nothing): every other property stays, and
  the sidecar is re-read and compared before it replaces the old one. A sidecar that already
  exists is the one written, under either name; one is created only when there is none.
- `photo.txt` (kohya-style datasets, TagGUI) and `photo.caption`, UTF-8, beside the photo. When
  several photos share the stem (`photo.png`, `photo.tif`), such a file belongs to none of them
  and is reported, except for a camera RAW and one picture of the same shot (`IMG_1.CR2` and
  `IMG_1.JPG`), which share it.
- Google Photos Takeout: `photo.jpg.json` or `photo.jpg.supplemental-metadata.json` (cut short
  in long names) beside the photo; its `description`.
Only regular files under a size cap are read (core.safe_files); every write is atomic.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.atomic import atomic_write
from core.errors import FileError, KeptCaption, MetadataError
from core.fingerprint import FileState, file_state
from core.images.plugins import IMAGE_EXTENSIONS, RAW_EXTENSIONS
from core.metadata import xmp_packet
from core.metadata.photo_check import XMP_HIERARCHICAL, XMP_KEYWORDS, xmp_problems
from core.metadata.photo_edit import Mark, add_keywords_and_title, describe
from core.metadata.photo_metadata import meaningful
from core.safe_files import CAPS, check_replaceable, read_regular

SIDECAR_NAMINGS = ("photo.jpg.xmp", "photo.xmp")
CAPTION_SUFFIXES = (".txt", ".caption")
NEW_SIDECAR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""/>\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
)
TAKEOUT_SUPPLEMENT = "supplemental-metadata"


@dataclass(frozen=True)
class FileCaption:
    text: str
    own: bool = False  # an XMP sidecar's description VisionCap wrote and nobody changed since


WRITTEN, UNCHANGED, KEPT = "written", "unchanged", "kept"


@dataclass(frozen=True)
class Written:
    path: Path
    status: str  # WRITTEN, UNCHANGED (it held exactly this caption) or KEPT (it held another's)
    state: FileState | None  # the file afterwards; None when kept
    existing: str = ""  # the caption kept

    @property
    def written(self) -> bool:
        return self.status == WRITTEN


def _read(path: Path, kind: str) -> bytes:
    try:
        return read_regular(path, CAPS[kind])
    except FileError as exc:
        raise MetadataError(path, exc.problem) from exc
    except OSError as exc:
        raise MetadataError(path, f"could not read it: {exc.strerror or exc}") from exc


def _replace(path: Path, data: bytes) -> FileState:
    try:
        check_replaceable(path)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
        return file_state(path)
    except FileError as exc:
        raise MetadataError(path, exc.problem) from exc
    except OSError as exc:
        raise MetadataError(path, f"could not write it: {exc.strerror or exc}") from exc


# ---- XMP sidecars -----------------------------------------------------------------------------


def sidecar_path(image: str | Path, naming: str = "photo.jpg.xmp") -> Path:
    """Where a new sidecar of `image` goes: `photo.jpg.xmp` or `photo.xmp` (`naming` is one of
    SIDECAR_NAMINGS)."""
    image = Path(image)
    if naming not in SIDECAR_NAMINGS:
        raise ValueError(f"sidecar naming must be one of {SIDECAR_NAMINGS}, got {naming!r}")
    return image.with_name(image.name + ".xmp") if naming == "photo.jpg.xmp" else image.with_suffix(".xmp")


def existing_sidecars(image: str | Path) -> list[Path]:
    """The sidecars of `image` that exist (whatever kind of file they are), in reading order."""
    return [p for p in (sidecar_path(image, n) for n in SIDECAR_NAMINGS) if os.path.lexists(p)]


def _sidecar_doc(path: Path, data: bytes):
    try:
        return xmp_packet.parse(data)
    except xmp_packet.XmpError as exc:
        raise MetadataError(path, f"its XMP cannot be read ({exc}); not changed") from exc


def _caption_of(doc) -> FileCaption | None:
    text = meaningful(xmp_packet.choose(xmp_packet.lang_alt(doc, xmp_packet.DC, "description")))
    if text is None:
        return None
    own = xmp_packet.simple(doc, xmp_packet.VISIONCAP, "DescriptionDigest") == xmp_packet.caption_digest(text)
    return FileCaption(text, own)


def read_sidecar(path: str | Path) -> FileCaption | None:
    """The dc:description of one XMP sidecar (None if it has none). Raises MetadataError."""
    return _caption_of(read_sidecar_doc(path))


def read_sidecar_doc(path: str | Path):
    """One XMP sidecar's parsed packet (core.metadata.xmp_packet). Raises MetadataError."""
    path = Path(path)
    return _sidecar_doc(path, _read(path, "sidecar"))


def write_sidecar(
    image: str | Path,
    text: str,
    naming: str = "photo.jpg.xmp",
    *,
    may_replace: Callable[[Path, str], bool] | None = None,
    own: bool = True,
    dry_run: bool = False,
    keywords: tuple[str, ...] = (),
    title: str | None = None,
    mark: Mark | None = None,
) -> list[Written]:
    """Put `text` as the description in the sidecar(s) of `image`: every one that exists, else
    a new one named by `naming`. In a sidecar holding a different caption that is not
    VisionCap's own, it replaces it only if `may_replace(sidecar, caption)` says so (None:
    always); else that sidecar is KEPT. `own`: the model's caption, marked as VisionCap's
    (see core.metadata.photo_edit.describe). Every sidecar is read and checked before any is written: a
    MetadataError (naming the sidecar) means none was changed. `dry_run`: nothing is written;
    a WRITTEN result (with no state) says the sidecar would be. `keywords`, `title` and `mark`:
    as core.metadata.photo_metadata.embed_description writes them."""
    targets = existing_sidecars(image) or [sidecar_path(image, naming)]
    planned = [_plan_one(path, text, may_replace, own, tuple(keywords), title, mark) for path in targets]
    if dry_run:
        return [done if isinstance(done, Written) else Written(path, WRITTEN, None) for path, done in zip(targets, planned)]
    return [done if isinstance(done, Written) else Written(path, WRITTEN, _replace(path, done))
            for path, done in zip(targets, planned)]


def _plan_one(path: Path, text: str, may_replace: Callable[[Path, str], bool] | None, own: bool,
              keywords: tuple[str, ...] = (), title: str | None = None, mark: Mark | None = None) -> Written | bytes:
    """What writing `text` into the sidecar at `path` comes to: a Written when nothing is to be
    written, else the new sidecar's bytes, checked."""
    old = _read(path, "sidecar") if os.path.lexists(path) else None
    doc = _sidecar_doc(path, old if old is not None else NEW_SIDECAR.encode())
    before = _sidecar_doc(path, old) if old is not None else None
    current = _caption_of(doc)
    extras_there = set(keywords) <= set(xmp_packet.bag(doc, xmp_packet.DC, "subject") or ()) and (
        title is None or xmp_packet.choose(xmp_packet.lang_alt(doc, xmp_packet.DC, "title")) == title)
    if current is not None and current.text == text and current.own == own and extras_there:
        return Written(path, UNCHANGED, file_state(path))
    if current is not None and current.text != text and not current.own and may_replace is not None \
            and not may_replace(path, current.text):
        return Written(path, KEPT, None, current.text)
    describe(doc, text, frozenset({current.text} if current else ()), own=own, mark=mark)
    add_keywords_and_title(doc, keywords, title)
    data = xmp_packet.serialize(doc) + b"\n"
    check = _sidecar_doc(path, data)
    problems = xmp_problems(before, check, frozenset({XMP_KEYWORDS, XMP_HIERARCHICAL}) if keywords else frozenset())
    back = _caption_of(check)
    if back is None or back.text != text or back.own != own:
        problems.append("the caption did not read back")
    if problems:
        raise MetadataError(path, "not written: " + "; ".join(problems))
    return data


# ---- .txt and .caption beside the photo -------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _listing(folder: str, mtime_ns: int) -> tuple[str, ...]:
    """The names in `folder` (cached while the folder is unchanged)."""
    try:
        return tuple(sorted(os.listdir(folder)))
    except OSError:
        return ()


def folder_names(folder: Path) -> tuple[str, ...]:
    try:
        return _listing(str(folder), os.stat(folder).st_mtime_ns)
    except OSError:
        return ()


StemIndex = dict[str, tuple[str, ...]]  # stem -> the image names in a folder with that stem


@functools.lru_cache(maxsize=64)
def _stems(folder: str, mtime_ns: int) -> StemIndex:
    index: dict[str, list[str]] = {}
    for name in _listing(folder, mtime_ns):
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in IMAGE_EXTENSIONS:
            index.setdefault(stem, []).append(name)
    return {stem: tuple(names) for stem, names in index.items()}


def stem_index(folder: Path) -> StemIndex:
    """Which images of `folder` share which stem (cached while the folder is unchanged)."""
    try:
        return _stems(str(folder), os.stat(folder).st_mtime_ns)
    except OSError:
        return {}


def shares_stem_with(image: str | Path, index: StemIndex | None = None) -> list[Path]:
    """Other images a `photo.txt` of `image` would also belong to; [] when it is `image`'s
    alone, or shared by a camera RAW and one picture of the same shot (a RAW+JPEG pair).
    `index`: the folder's stem_index, for a writer whose own files change the folder."""
    image = Path(image)
    names = (index if index is not None else stem_index(image.parent)).get(image.stem, ())
    siblings = [image.with_name(n) for n in names if n != image.name]
    if not siblings:
        return []
    raws = [p for p in (image, *siblings) if p.suffix.lower() in RAW_EXTENSIONS]
    if len(siblings) == 1 and len(raws) == 1:
        return []
    return siblings


def caption_file_paths(image: str | Path) -> list[Path]:
    """photo.txt and photo.caption beside `image`, in reading order (whether or not they exist)."""
    image = Path(image)
    return [image.with_suffix(s) for s in CAPTION_SUFFIXES if image.with_suffix(s) != image]


def txt_path(image: str | Path) -> Path:
    """photo.jpg -> photo.txt, in the same folder."""
    return Path(image).with_suffix(".txt")


def read_txt(path: str | Path) -> str | None:
    """A caption file's text (BOM and trailing line breaks removed, spaces kept as written), None
    if blank. Raises MetadataError for a file that is not UTF-8 text, too large, or not a file."""
    path = Path(path)
    data = _read(path, "caption")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetadataError(path, f"not UTF-8 text (byte {exc.start}); not read") from exc
    text = text.rstrip("\r\n")
    return text if text.strip() else None


def write_txt(
    image: str | Path, text: str, *, may_replace: Callable[[str], bool] | None = None, dry_run: bool = False
) -> Written:
    """Write `text` to photo.txt beside `image`. A different caption already there is replaced
    only if `may_replace(it)` says so (None: always), else KeptCaption. Raises MetadataError.
    `dry_run`: nothing is written (a WRITTEN result has no state)."""
    path = txt_path(image)
    if os.path.lexists(path):
        current = read_txt(path)
        if current == text:
            return Written(path, UNCHANGED, file_state(path))
        if current is not None and may_replace is not None and not may_replace(current):
            raise KeptCaption(path, current, ".txt file")
    if dry_run:
        try:
            check_replaceable(path)
        except FileError as exc:
            raise MetadataError(path, exc.problem) from exc
        return Written(path, WRITTEN, None)
    return Written(path, WRITTEN, _replace(path, text.encode("utf-8")))


# ---- Google Photos Takeout --------------------------------------------------------------------


def takeout_paths(image: str | Path) -> list[Path]:
    """The Takeout JSON files of `image` that exist: `photo.jpg.json`, and
    `photo.jpg.supplemental-metadata.json` with the suffix cut as Takeout cuts long names."""
    image = Path(image)
    found = []
    for name in folder_names(image.parent):
        if not name.startswith(image.name + ".") or not name.endswith(".json"):
            continue
        middle = name[len(image.name) + 1 : -len(".json")]
        if middle == "" or (middle and TAKEOUT_SUPPLEMENT.startswith(middle.rstrip("."))):
            found.append(image.with_name(name))
    return found


def read_takeout(path: str | Path) -> str | None:
    """The `description` a Google Photos user gave the photo, None if none. Raises MetadataError."""
    path = Path(path)
    try:
        data = json.loads(_read(path, "json").decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(path, f"not a Takeout JSON file ({exc}); not read") from exc
    text = data.get("description") if isinstance(data, dict) else None
    return text if isinstance(text, str) and text.strip() else None
