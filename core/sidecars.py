"""Captions in files beside the photos: XMP sidecars, `.txt` files, a Hugging Face
`metadata.jsonl`, and caption CSVs (the CLI's output or the app's export).

- XMP sidecar: `photo.jpg.xmp` (darktable, digiKam) or `photo.xmp` (Lightroom, Capture One);
  read both, `photo.jpg.xmp` first since `photo.xmp` may be shared by `photo.jpg` and
  `photo.cr2`. Written through exiv2 into an existing sidecar, keeping all its other properties
  (edit history, ratings, keywords), or as a new one.
- `photo.txt` beside `photo.jpg`: the caption file of kohya-style and TagGUI datasets, UTF-8.
- `metadata.jsonl` in the dataset folder: one JSON object a line with `file_name` (relative,
  forward slashes) and `text`, what `datasets`' imagefolder loader reads. Writing merges into an
  existing file: other rows and other columns stay.
Every write is atomic (core.atomic).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import exiv2

from core.atomic import atomic_write, atomic_write_text
from core.csvio import FORMULA_PREFIXES, read_csv_rows
from core.photo_metadata import (
    XMP_KEY,
    MetadataError,
    image_bytes,
    lang_alternatives,
    meaningful,
    read_mapped,
    set_xmp_description,
    xmp_default,
)

SIDECAR_NAMINGS = ("photo.jpg.xmp", "photo.xmp")
JSONL_NAME = "metadata.jsonl"


# ---- XMP sidecars -----------------------------------------------------------------------------


def sidecar_path(image: str | Path, naming: str = "photo.jpg.xmp") -> Path:
    """Where the sidecar of `image` goes: `photo.jpg.xmp` or `photo.xmp` (`naming` is one of
    SIDECAR_NAMINGS)."""
    image = Path(image)
    if naming not in SIDECAR_NAMINGS:
        raise ValueError(f"sidecar naming must be one of {SIDECAR_NAMINGS}, got {naming!r}")
    return image.with_name(image.name + ".xmp") if naming == "photo.jpg.xmp" else image.with_suffix(".xmp")


def existing_sidecars(image: str | Path) -> list[Path]:
    """The sidecars of `image` that exist, in reading order."""
    return [p for p in (sidecar_path(image, n) for n in SIDECAR_NAMINGS) if p.is_file()]


def _sidecar_description(buffer) -> str | None:
    sidecar = exiv2.ImageFactory.open(buffer)
    sidecar.readMetadata()
    return next((xmp_default(lang_alternatives(d)) for d in sidecar.xmpData() if d.key() == XMP_KEY), None)


def read_sidecar(path: str | Path) -> str | None:
    """The dc:description of one XMP sidecar (None if it has none). Raises MetadataError."""
    return meaningful(read_mapped(path, _sidecar_description, "this XMP sidecar"))


def _sidecar_with_description(old: bytes | None, path: Path, text: str) -> bytes:
    sidecar = exiv2.ImageFactory.open(old) if old else exiv2.ImageFactory.create(exiv2.ImageType.xmp)
    if old:
        sidecar.readMetadata()
        before = {d.key(): d.toString() for d in sidecar.xmpData() if d.key() != XMP_KEY}
        if sidecar.mimeType() != "application/rdf+xml":
            raise MetadataError(path, f"exists but is not an XMP sidecar ({sidecar.mimeType()}); not changed")
    else:
        before = {}
    set_xmp_description(sidecar.xmpData(), text)
    sidecar.writeMetadata()
    written = image_bytes(sidecar)
    check = exiv2.ImageFactory.open(written)
    check.readMetadata()
    after = {d.key(): d.toString() for d in check.xmpData() if d.key() != XMP_KEY}
    if after != before or _sidecar_description(written) != text:
        raise MetadataError(path, "the updated sidecar did not read back the same; not changed")
    return written


def write_sidecar(image: str | Path, text: str, naming: str = "photo.jpg.xmp") -> Path:
    """Create or update the XMP sidecar of `image` with `text` as its description; returns the
    sidecar's path. Raises MetadataError (a file in the way that is not XMP, a read-only folder)."""
    path = sidecar_path(image, naming)
    try:
        old = path.read_bytes() if path.exists() else None
        written = _sidecar_with_description(old, path, text)
        atomic_write(path, lambda tmp: tmp.write_bytes(written))
    except OSError as exc:
        raise MetadataError(path, f"could not write it: {exc.strerror or exc}") from exc
    except exiv2.Exiv2Error as exc:
        raise MetadataError(path, f"exiv2 could not process it: {exc}") from exc
    return path


# ---- .txt beside the photo --------------------------------------------------------------------


def txt_path(image: str | Path) -> Path:
    """photo.jpg -> photo.txt, in the same folder."""
    return Path(image).with_suffix(".txt")


def read_txt(path: str | Path) -> str | None:
    """A caption file's text (BOM and surrounding whitespace removed), None if blank.
    Raises MetadataError for a file that is not UTF-8 text."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(path, f"not a readable UTF-8 caption file: {exc}") from exc
    return text.strip() or None


def write_txt(image: str | Path, text: str) -> Path:
    path = txt_path(image)
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise MetadataError(path, f"could not write it: {exc.strerror or exc}") from exc
    return path


# ---- metadata.jsonl ---------------------------------------------------------------------------


def read_jsonl(path: str | Path) -> dict[str, str]:
    """file_name -> text of a Hugging Face `metadata.jsonl` (rows without both are skipped;
    a caption column named `caption` is accepted too). Raises MetadataError naming the line."""
    captions: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(path, f"could not read it: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise MetadataError(path, f"line {number} is not JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise MetadataError(path, f"line {number} is not a JSON object")
        name, text = row.get("file_name"), row.get("text", row.get("caption"))
        if isinstance(name, str) and isinstance(text, str) and text.strip():
            captions[name.replace("\\", "/")] = text
    return captions


def write_jsonl(folder: str | Path, captions: Mapping[str, str]) -> Path:
    """Set `text` for each file_name in `folder/metadata.jsonl`, creating it if needed. Rows
    and columns already there are kept; new rows are appended in name order."""
    path = Path(folder) / JSONL_NAME
    rows: list[dict] = []
    if path.exists():
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            rows = [json.loads(line) for line in lines if line.strip()]
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise MetadataError(path, f"exists but could not be read ({exc}); not changed") from exc
        if not all(isinstance(row, dict) for row in rows):
            raise MetadataError(path, "exists but is not one JSON object a line; not changed")
    pending = dict(captions)
    for row in rows:
        name = row.get("file_name")
        if isinstance(name, str) and name in pending:
            row["text"] = pending.pop(name)
    rows.extend({"file_name": name, "text": text} for name, text in sorted(pending.items()))
    body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    try:
        atomic_write_text(path, body)
    except OSError as exc:
        raise MetadataError(path, f"could not write it: {exc.strerror or exc}") from exc
    return path


# ---- caption CSVs -----------------------------------------------------------------------------


def _unguard(cell: str) -> str:
    """Undo the app's CSV formula guard: an apostrophe before a formula character."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES) else cell


def read_caption_csv(path: str | Path, folder: str | Path) -> dict[str, str]:
    """Captions of a CSV written by `visioncap caption` (path, caption, error) or by the app's
    export (file_name, path, caption, ...), keyed by name relative to `folder` with forward
    slashes. A row matches by `file_name`, else by `path` (absolute, or relative to `folder`);
    rows with an error, an empty caption or a path outside `folder` are skipped.
    Raises MetadataError for a CSV without a caption column."""
    try:
        columns, rows = read_csv_rows(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(path, f"could not read it: {exc}") from exc
    if "caption" not in columns or not {"file_name", "path"} & set(columns):
        raise MetadataError(path, f"no caption and path columns (it has {columns})")
    root = Path(folder).resolve()
    captions: dict[str, str] = {}
    for row in rows:
        caption = _unguard(row.get("caption", ""))
        if not caption.strip() or row.get("error"):
            continue
        name = _unguard(row.get("file_name", "")).replace("\\", "/")
        if not name:
            raw = Path(_unguard(row.get("path", "")))
            if raw.is_absolute():
                try:
                    name = raw.resolve().relative_to(root).as_posix()
                except ValueError:
                    continue
            else:
                name = raw.as_posix()
        captions[name] = caption
    return captions
