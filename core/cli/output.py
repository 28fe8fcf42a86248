"""The caption command's output CSV: what it may overwrite, who may write it, what `--resume`
keeps, and how rows reach it.

- Only a caption CSV is ever overwritten: `--out` must end in `.csv`, and an existing non-empty
  file must start with a caption CSV's header. Anything else (a photo, a document) is refused.
- One run writes a given CSV at a time: a lock file (`captions.csv.lock`, through the filelock
  package) is held for the whole run, and `captions.csv.lock.json` says which process holds it.
- Each row names its image twice: `path`, as given on the command line (the folder argument
  joined with the name inside it), and `absolute_path`, the identity `--resume` keys on.
- `--resume` keeps the rows of images that were captioned, retries the images that failed, and
  writes the header once, whatever state the earlier run left the file in.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import socket
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from core.atomic import atomic_write, atomic_write_text
from core.csvio import FORMULA_PREFIXES, CsvRowWriter, read_csv_rows
from core.errors import FileError, MetadataError

# source: "model", or where a caption a person or another program wrote was found (txt,
# xmp-sidecar, embedded, ...: core.metadata.caption_io.Source); notes: what --write did with each file;
# model and style: the model that wrote the caption and its caption style ("" where it has none)
COLUMNS = ("path", "caption", "error", "absolute_path", "source", "notes", "model", "style")
BEFORE_MODEL_COLUMNS = ("path", "caption", "error", "absolute_path", "source", "notes")  # before model and style
PREVIOUS_COLUMNS = ("path", "caption", "error", "absolute_path")  # before source and notes
RESUMABLE = (list(COLUMNS), list(BEFORE_MODEL_COLUMNS), list(PREVIOUS_COLUMNS))
LEGACY_COLUMNS = ("path", "caption", "error")  # VisionCap 0.1, before absolute_path
IDENTITY = "absolute_path"
STDOUT_NAME = "standard output"


class OutputRefused(FileError):
    """The output CSV may not be written: not a caption CSV, or another run is writing it."""


class OutputWriteError(FileError):
    """Writing the output failed (a full disk, a lost connection, no permission)."""


def identity(path: str | Path) -> str:
    """The key of an image in the CSV: its absolute path, without resolving symlinks."""
    return os.path.abspath(path)


def _header(out: Path) -> list[str] | None:
    """The first CSV row of `out`, or None if its first line is not UTF-8 text."""
    with open(out, "rb") as stream:
        line = stream.readline(4096)
    try:
        return next(csv.reader([line.decode("utf-8-sig")]), [])
    except UnicodeDecodeError:
        return None


def check_target(out: Path) -> None:
    """Raise OutputRefused unless `out` is a .csv path that is new, empty or a caption CSV."""
    if out.suffix.lower() != ".csv":
        raise OutputRefused(out, "--out must name a .csv file (VisionCap only ever overwrites caption CSVs)")
    if out.is_dir():
        raise OutputRefused(out, "is a folder; --out must name a .csv file")
    if not out.parent.is_dir():
        raise OutputRefused(out, f"the folder {out.parent} does not exist")
    if not out.exists() or out.stat().st_size == 0:
        return
    if not out.is_file():
        raise OutputRefused(out, "is not a regular file")
    header = _header(out)
    if header not in (*RESUMABLE, list(LEGACY_COLUMNS)):
        raise OutputRefused(
            out, "exists and is not a caption CSV written by visioncap, so it is left alone; choose another --out"
        )


def _lock_info_path(out: Path) -> Path:
    return out.with_name(out.name + ".lock.json")


def _holder(out: Path) -> str:
    try:
        info = json.loads(_lock_info_path(out).read_text(encoding="utf-8"))
        return f"process {info['pid']} on {info['host']}, since {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said who it is"


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold `out`'s lock for the duration; raise OutputRefused at once if another run holds it.
    The lock is the operating system's, so a run that was killed never leaves it held."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(out.with_name(out.name + ".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OutputRefused(
            out, f"another visioncap run is writing it ({_holder(out)}); wait for it to end or choose another --out"
        ) from None
    except OSError as exc:
        raise OutputWriteError(out, f"cannot create its lock file {exc.filename or ''} ({exc.strerror or exc})") from exc
    info = _lock_info_path(out)
    try:
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        atomic_write_text(info, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}))
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def rows_to_keep(out: Path, wanted: Iterable[str]) -> tuple[list[dict[str, str]], set[str]]:
    """For --resume: (rows of an earlier run to keep, identities already captioned).

    Captioned rows are kept once each. A failed row is dropped when its image is in `wanted`
    (this run's identities), so that it is retried, and kept as a record otherwise.
    """
    if not out.is_file():
        return [], set()
    columns, rows = read_csv_rows(out)
    if not columns:
        return [], set()
    if columns == list(LEGACY_COLUMNS):
        raise OutputRefused(
            out, "cannot resume: written by an earlier VisionCap without the absolute_path column; run without --resume"
        )
    if columns not in RESUMABLE:
        raise OutputRefused(out, f"cannot resume: its columns are {columns}, expected {list(COLUMNS)}")
    wanted = set(wanted)
    done: set[str] = set()
    kept = []
    for row in rows:
        key = row[IDENTITY]
        if key in done or (row["error"] and key in wanted):
            continue
        if not row["error"]:
            done.add(key)
        row.setdefault("source", "model" if row["caption"] and not row["error"] else "")
        row.setdefault("notes", "")
        row.setdefault("model", "")
        row.setdefault("style", "")
        kept.append(row)
    return kept, done


class CsvOutput:
    """Streams rows to `out` (standard output if None) after writing the header and the kept
    rows once; every write error names the file."""

    def __init__(self, out: Path | None, kept: list[dict[str, str]]):
        self.name = str(out) if out is not None else STDOUT_NAME
        self._stream = sys.stdout
        if out is not None:
            self._guarded(atomic_write, out, lambda tmp: self._write_start(tmp, kept))
            self._guarded(self._open_for_append, out)
        self._writer = CsvRowWriter(self._stream, COLUMNS)
        if out is None:
            self._guarded(self._writer.write_header)

    def _open_for_append(self, out: Path) -> None:
        self._stream = open(out, "a", encoding="utf-8", newline="")  # noqa: SIM115

    @staticmethod
    def _write_start(tmp: Path, kept: list[dict[str, str]]) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as stream:
            writer = CsvRowWriter(stream, COLUMNS)
            writer.write_header()
            writer.write_rows(kept)

    def _guarded(self, action, *args) -> None:
        try:
            action(*args)
        except (OSError, ValueError) as exc:  # ValueError: an encoding error, a closed stream
            raise OutputWriteError(self.name, f"cannot write ({getattr(exc, 'strerror', None) or exc})") from exc

    def write(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Write rows and flush them to the operating system."""
        self._guarded(self._writer.write_rows, rows)

    def close(self) -> None:
        if self._stream is not sys.stdout:
            self._guarded(self._stream.close)


# ---- reading a caption CSV to import ----------------------------------------------------------


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
