"""Captions in a Hugging Face `metadata.jsonl`: one JSON object a line, with `file_name` (relative
to the file's folder, forward slashes) and a caption column, as `datasets`' imagefolder loader
reads it.

- Lines end at "\\n" only (JSON Lines; "\\r\\n" and a UTF-8 BOM are tolerated). Python's
  `str.splitlines` also splits at U+2028, U+2029, U+0085 and \\x0b \\x0c \\x1c-\\x1e \\r, which
  are legal raw inside a JSON string, so a caption holding one cut its row in two. Writing
  escapes every one of them as \\uXXXX (json.dumps escapes the control characters itself but
  leaves U+0085, U+2028 and U+2029 raw) and lone surrogates too, so other readers are safe.
- One file per dataset: `JsonlTargets` writes into the nearest metadata.jsonl that already holds
  the image's folder (its own folder's, or an ancestor's with a row in that folder), so a later
  run on a subfolder never starts a second file whose rows `datasets` would load twice. A stray
  file above, with no row there, is ignored. Otherwise the file goes in the run's dataset root.
- An existing file keeps its caption column (the first of CAPTION_COLUMNS its rows use), its
  other columns, its rows without a caption and its row order; new rows are appended in name
  order. A caption already there and different is replaced only when `may_replace` allows it.
- Writes are merges under an inter-process lock (filelock), kept in the user's cache folder so
  the dataset folder gets no lock file: re-read, apply only this write's rows, replace the file
  atomically (core.atomic). Two runs writing at once both keep their rows.
- Only regular files within the size cap are read (core.safe_files): a FIFO named
  metadata.jsonl is never opened. Anything unreadable is a MetadataError naming the file and
  line, and the file is left as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout

from core.atomic import atomic_write
from core.bundles.user_dirs import user_cache_dir
from core.errors import FileError, MetadataError
from core.fingerprint import FileState, file_state
from core.safe_files import CAPS, check_replaceable, read_regular

JSONL_NAME = "metadata.jsonl"
CAPTION_COLUMNS = ("text", "caption", "description", "prompt")  # the first one a file uses wins
NEW_COLUMN = "text"
LOCK_WAIT_S = 30.0  # a merge takes well under a second; longer means a stuck or huge writer
_LINE_BREAKERS = re.compile(r"[\u0085\u2028\u2029\ud800-\udfff]")  # left raw by json.dumps


# ---- reading ----------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[dict]:
    """The objects of `path`, one a line. Raises FileNotFoundError, or MetadataError naming the
    line."""
    try:
        data = read_regular(path, CAPS["table"])
    except FileNotFoundError:
        raise
    except FileError as exc:
        raise MetadataError(path, exc.problem) from exc
    except OSError as exc:
        raise MetadataError(path, f"could not read it ({exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        raise MetadataError(path, f"line {bad_line} is not UTF-8 text; not changed") from exc
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise MetadataError(path, f"line {number} is not valid JSON ({exc}); not changed") from exc
        if not isinstance(row, dict):
            raise MetadataError(path, f"line {number} is not a JSON object; not changed")
        rows.append(row)
    return rows


def _name(row: dict) -> str | None:
    name = row.get("file_name")
    return name.replace("\\", "/") if isinstance(name, str) else None


def caption_column(rows: list[dict]) -> str:
    """The caption column of a file's rows: the first of CAPTION_COLUMNS they use, else `text`."""
    used = set().union(*rows) if rows else set()
    return next((c for c in CAPTION_COLUMNS if c in used), NEW_COLUMN)


def _texts(rows: list[dict], column: str) -> dict[str, str]:
    """file_name -> the caption column's string (blank included); a later row wins."""
    texts = {}
    for row in rows:
        name, text = _name(row), row.get(column)
        if name is not None and isinstance(text, str):
            texts[name] = text
    return texts


def read_jsonl(path: str | Path) -> dict[str, str]:
    """file_name (backslashes turned to "/") -> caption, for the rows with both and a caption
    that is not blank; the caption exactly as written. Raises MetadataError."""
    path = Path(path)
    try:
        rows = _read_rows(path)
    except FileNotFoundError as exc:
        raise MetadataError(path, "could not read it (no such file)") from exc
    return {name: text for name, text in _texts(rows, caption_column(rows)).items() if text.strip()}


# ---- where a caption goes ---------------------------------------------------------------------


def dataset_root(path: Path, name: str) -> tuple[Path, str]:
    """(folder, file_name) of an image for metadata.jsonl: the folder `name` is relative to
    when `path` ends with the relative `name`, else the image's own folder."""
    parts = PurePosixPath(name).parts
    if (parts and not Path(name).is_absolute() and ".." not in parts
            and len(parts) <= len(path.parts) and tuple(path.parts[-len(parts):]) == parts):
        return (Path(*path.parts[: -len(parts)]) if len(parts) < len(path.parts) else Path(".")), name
    return path.parent, path.name


class JsonlTargets:
    """Where each image's caption goes, for one run: reads each metadata.jsonl above the images
    at most once (the folders its rows lie in), so a run over 100,000 images stays cheap."""

    def __init__(self) -> None:
        self._folders: dict[Path, frozenset[str] | MetadataError | None] = {}

    def _listed(self, jsonl: Path) -> frozenset[str] | MetadataError | None:
        if jsonl not in self._folders:
            try:
                names = (_name(row) for row in _read_rows(jsonl))
                self._folders[jsonl] = frozenset(PurePosixPath(n).parent.as_posix() for n in names if n)
            except FileNotFoundError:
                self._folders[jsonl] = None
            except MetadataError as exc:
                self._folders[jsonl] = exc
        return self._folders[jsonl]

    def target(self, image: str | Path, name: str) -> tuple[Path, str]:
        """(the metadata.jsonl to write, the file_name in it) for `image`, whose path relative
        to the folder the user gave is `name` (forward slashes). Raises MetadataError for an
        unreadable metadata.jsonl in that folder or below it; one above it is ignored."""
        image = Path(image).absolute()
        root, file_name = dataset_root(image, name)
        folder = image.parent
        if (folder / JSONL_NAME).exists():
            return folder / JSONL_NAME, image.name
        for ancestor in folder.parents:
            listed = self._listed(ancestor / JSONL_NAME)
            if isinstance(listed, MetadataError):
                if ancestor.is_relative_to(root):
                    raise listed
            elif listed and folder.relative_to(ancestor).as_posix() in listed:
                return ancestor / JSONL_NAME, image.relative_to(ancestor).as_posix()
        return root / JSONL_NAME, file_name


def jsonl_target(image: Path, name: str) -> tuple[Path, str]:
    """`JsonlTargets().target` for one image; a run should keep one JsonlTargets instead."""
    return JsonlTargets().target(image, name)


# ---- writing ----------------------------------------------------------------------------------


@dataclass
class JsonlResult:
    path: Path
    written: list[str] = field(default_factory=list)  # new or changed rows
    unchanged: list[str] = field(default_factory=list)  # the row already had exactly this text
    kept: dict[str, str] = field(default_factory=dict)  # name -> different text left in place
    state: FileState | None = None  # the file after the write; None when nothing was written


def lock_path(jsonl: Path) -> Path:
    """The lock of one metadata.jsonl, in the user's cache folder, named by its absolute path."""
    key = os.path.normcase(str(Path(jsonl).resolve()))
    return user_cache_dir() / "locks" / f"jsonl-{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"


def serialise(rows: list[dict]) -> bytes:
    """UTF-8 JSON Lines in which no character but the final "\\n" of each row breaks a line."""
    lines = (_LINE_BREAKERS.sub(lambda m: f"\\u{ord(m[0]):04x}", json.dumps(row, ensure_ascii=False)) for row in rows)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _merge(path: Path, captions: Mapping[str, str], may_replace: Callable[[str, str], bool],
           dry_run: bool = False) -> JsonlResult:
    result = JsonlResult(path)
    try:
        rows = _read_rows(path)
    except FileNotFoundError:
        rows = []
    column = caption_column(rows)
    current = _texts(rows, column)
    changes = {}
    for name, text in sorted(captions.items()):
        old = current.get(name)
        if old == text:
            result.unchanged.append(name)
        elif old is None or not old.strip() or may_replace(name, old):
            changes[name] = text
            result.written.append(name)
        else:
            result.kept[name] = old
    if not changes:
        return result
    try:
        check_replaceable(path, "metadata.jsonl")
    except FileError as exc:
        raise MetadataError(path, exc.problem) from exc
    if dry_run:
        return result
    present = set()
    for row in rows:
        row_name = _name(row)
        if row_name in changes:
            row[column] = changes[row_name]
            present.add(row_name)
    rows.extend({"file_name": name, column: text} for name, text in changes.items() if name not in present)
    body = serialise(rows)
    atomic_write(path, lambda tmp: tmp.write_bytes(body))
    result.state = file_state(path)
    return result


def write_jsonl(
    path: str | Path,
    captions: Mapping[str, str],
    *,
    may_replace: Callable[[str, str], bool] = lambda name, old: True,
    dry_run: bool = False,
) -> JsonlResult:
    """Set the caption of each file_name in the metadata.jsonl at `path`, creating it if needed.
    A different caption already there is replaced only if `may_replace(name, old)`; a blank one
    counts as none. Unchanged files are not rewritten; with `dry_run` none is, and the result
    says what would be. Raises MetadataError; the file is then
    as it was."""
    path = Path(path)
    lock = lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock), timeout=LOCK_WAIT_S):
            return _merge(path, captions, may_replace, dry_run)
    except Timeout:
        raise MetadataError(path, f"another run is writing it (waited {LOCK_WAIT_S:g} s); not changed") from None
    except OSError as exc:
        raise MetadataError(path, f"could not write it ({exc.strerror or exc}); not changed") from exc
