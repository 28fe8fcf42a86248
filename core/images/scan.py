"""Finding image files in folders, and saying which files and folders were left out and why.

A scan yields plain strings as it goes (no sorting, no Path per file: scanning 100,000 files
stays quick and a caller can show progress). What it cannot use goes into a `ScanReport`: files
whose extension names a picture format VisionCap cannot read (or whose plug-in failed to
load), broken links, paths too long to open, and folders that cannot be read. Hidden entries
(a name starting with a dot) are not looked at. Symbolic links to folders are followed; a
folder reached a second time (a link loop, or a link into the scanned tree) is scanned once.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.images.plugins import IMAGE_EXTENSIONS, KNOWN_EXTENSIONS, format_problem


@dataclass(frozen=True)
class Skipped:
    """A file or folder a scan left out. `name` is relative to the scanned folder with forward
    slashes (a folder's ends with "/"); `path` is the path on disk."""

    path: str
    name: str
    reason: str


@dataclass
class ScanReport:
    """Filled in by a scan while it runs: read it when the scan is over."""

    skipped: list[Skipped] = field(default_factory=list)

    def headline(self) -> str:
        """One line for a summary or a status bar, e.g. "left out 2 files and 1 folder";
        empty when nothing was left out."""
        folders = sum(entry.name.endswith("/") for entry in self.skipped)
        files = len(self.skipped) - folders
        parts = [f"{count} {word}{'s' if count != 1 else ''}"
                 for count, word in ((files, "file"), (folders, "folder")) if count]
        return f"left out {' and '.join(parts)}" if parts else ""

    def lines(self, limit: int = 20) -> list[str]:
        """The headline, the reasons with their counts, then up to `limit` entries by name."""
        if not self.skipped:
            return []
        counts = Counter(entry.reason for entry in self.skipped)
        out = [f"{self.headline()}:"]
        out += [f"  {count} x {reason}" for reason, count in counts.most_common()]
        out += [f"  {entry.name}: {entry.reason}" for entry in self.skipped[:limit]]
        if len(self.skipped) > limit:
            out.append(f"  ... and {len(self.skipped) - limit} more")
        return out


def is_image_file(path: str | os.PathLike) -> bool:
    """True for the extensions VisionCap reads, in any letter case (whether their plug-in
    loads is `core.images.plugins.format_problem`'s question)."""
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _path_max(folder: str) -> int | None:
    """The longest path (in bytes, with its terminating zero) the OS opens, where it says."""
    try:
        return os.pathconf(folder, "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):  # Windows has no pathconf
        return None


def _too_long(path: str, path_max: int | None) -> str | None:
    if path_max is not None and len(os.fsencode(path)) >= path_max:
        return f"path too long to open ({len(path)} characters; the limit here is {path_max - 1} bytes)"
    return None


def _problem(exc: OSError, path: str, what: str) -> str:
    if exc.errno == errno.ENAMETOOLONG or (os.name == "nt" and len(path) >= 260):
        return f"path too long to open ({len(path)} characters)"
    if isinstance(exc, PermissionError):
        return f"{what} not readable (permission denied)"
    return f"{what} not readable ({exc.strerror or exc})"


def _key(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # another drive
        return False


def scan_images(
    folder: str | os.PathLike, recursive: bool = False, report: ScanReport | None = None
) -> Iterator[tuple[str, str]]:
    """Yield (path, name relative to `folder` with forward slashes) for each image file, as
    found. What is left out goes into `report` when one is given. An unreadable `folder`
    raises OSError; names that are not valid UTF-8 come as str with surrogate escapes."""
    root = os.fspath(folder)
    real_root = os.path.realpath(root)
    path_max = _path_max(root)
    skipped = report.skipped if report is not None else []
    visited = {_key(root)}
    stack = [(root, "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = os.scandir(current)
        except OSError as exc:
            if current == root:
                raise
            skipped.append(Skipped(current, prefix, _problem(exc, current, "folder")))
            continue
        with entries:
            subdirs = []
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                extension = os.path.splitext(name)[1].lower()
                shown = prefix + name
                try:
                    if entry.is_dir():
                        shown += "/"
                        if recursive and _new_folder(entry, real_root, visited):
                            subdirs.append((entry.path, shown))
                    elif extension not in KNOWN_EXTENSIONS:
                        continue
                    elif entry.is_file():
                        problem = format_problem(extension) or _too_long(entry.path, path_max)
                        if problem is None:
                            yield entry.path, shown
                        else:
                            skipped.append(Skipped(entry.path, shown, problem))
                    else:
                        reason = "broken link (its target is missing)" if entry.is_symlink() else "not a regular file"
                        skipped.append(Skipped(entry.path, shown, reason))
                except OSError as exc:  # from stat
                    if recursive or extension in KNOWN_EXTENSIONS:
                        what = "folder" if shown.endswith("/") else "file"
                        skipped.append(Skipped(entry.path, shown, _problem(exc, entry.path, what)))
            stack.extend(sorted(subdirs, reverse=True))


def _new_folder(entry: os.DirEntry, real_root: str, visited: set[tuple[int, int]]) -> bool:
    """Whether to scan this folder: not if it was scanned already (link loops end here), nor
    if it is a link to a folder inside the scanned tree (found there under its own name)."""
    if entry.is_symlink() and _inside(os.path.realpath(entry.path), real_root):
        return False
    key = _key(entry.path)
    if key in visited:
        return False
    visited.add(key)
    return True


def iter_image_files(folder: str | os.PathLike, recursive: bool = False) -> Iterator[Path]:
    """`scan_images` as Paths."""
    return (Path(path) for path, _ in scan_images(folder, recursive))


def collect_images(
    paths: Iterable[str | os.PathLike], recursive: bool = False, report: ScanReport | None = None
) -> list[tuple[Path, str]]:
    """Expand files and folders into (path, display name) pairs in a stable order.

    The display name is relative to the folder argument (forward slashes), or the file as given.
    Folders' left-out files go into `report`. Raises FileNotFoundError naming a path that does
    not exist.
    """
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            scanned = sorted(scan_images(path, recursive, report), key=lambda e: e[1])
            found.extend((Path(p), name) for p, name in scanned)
        elif path.is_file():
            found.append((path, str(raw)))
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
    return found
