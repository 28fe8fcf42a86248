"""Reading files that other people and programs put beside the photos, and deciding whether a
file or folder may be written, without trusting what a name suggests.

- Only regular files are ever opened for reading: a FIFO named `photo.jpg.xmp` or
  `metadata.jsonl` would block a reader forever, a device could be endless. The file is opened
  without blocking and checked with fstat, so a file swapped for a FIFO after a stat is still
  refused.
- Caption and sidecar files have size caps (CAPS): a 100 MB `.txt` is not a caption.
- Read-only means the permission bits say so, for every user: `os.access` says "writable" to
  root and administrators for any file, so a photo marked read-only would be written anyway.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from core.errors import FileError

MiB = 1 << 20
# The largest file of each kind that is read; larger ones are reported and skipped.
CAPS = {
    "caption": 1 * MiB,  # photo.txt, photo.caption: a caption is a few hundred bytes
    "sidecar": 16 * MiB,  # an XMP sidecar; darktable's edit history makes them a few hundred KB
    "json": 4 * MiB,  # a Google Takeout photo.jpg.json
    "table": 1024 * MiB,  # metadata.jsonl of a large dataset
}


class NotARegularFile(FileError):
    """A FIFO, device, socket or folder where a file was expected: never opened."""


class TooLarge(FileError):
    """Over the size cap of its kind: not read."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def is_regular(path: str | Path) -> bool:
    """True for an existing regular file (symlinks followed); never opens it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for reading in binary, after checking (on the open file) that it is a
    regular file. Raises NotARegularFile or OSError (missing, unreadable)."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    if not is_regular(path):  # Windows cannot open a folder at all: say what it is first
        with contextlib.suppress(OSError):
            raise NotARegularFile(path, f"is {_kind(os.stat(path).st_mode)}, not a file; not read")
    fd = os.open(path, flags)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotARegularFile(path, f"is {_kind(st.st_mode)}, not a file; not read")
    return os.fdopen(fd, "rb")


def read_regular(path: str | Path, cap: int) -> bytes:
    """The bytes of `path`, which must be a regular file of at most `cap` bytes.

    Raises NotARegularFile, TooLarge, or OSError (missing, unreadable)."""
    with open_regular(path) as stream:
        size = os.fstat(stream.fileno()).st_size
        if size > cap:
            raise TooLarge(path, f"is {size / MiB:.1f} MB, over the {cap / MiB:g} MB limit for such files; not read")
        data = stream.read(cap + 1)
    if len(data) > cap:  # grew while read
        raise TooLarge(path, f"is over the {cap / MiB:g} MB limit for such files; not read")
    return data


def _euid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def read_only_by_mode(st: os.stat_result) -> bool:
    """Whether the permission bits make a file or folder read-only for this process's user.

    The owner's, group's or others' write bit, whichever applies; for root (who may write
    anything) any write bit at all, so a file or folder with none is left alone. On Windows
    the read-only attribute (the owner's write bit in st_mode)."""
    uid = _euid()
    if uid is None or sys.platform == "win32":
        return not st.st_mode & stat.S_IWUSR
    if uid == 0:
        return not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if st.st_uid == uid:
        return not st.st_mode & stat.S_IWUSR
    if st.st_gid in os.getgroups() or st.st_gid == os.getegid():
        return not st.st_mode & stat.S_IWGRP
    return not st.st_mode & stat.S_IWOTH


def folder_read_only(folder: str | Path) -> bool:
    """True when new files may not be made in `folder`: its permission bits say read-only, or
    the system refuses (an ACL, a read-only mount)."""
    try:
        st = os.stat(folder)
    except OSError:
        return True
    return read_only_by_mode(st) or not os.access(folder, os.W_OK)


def check_replaceable(path: Path, what: str = "the file") -> os.stat_result | None:
    """Raise FileError when `path` (which may not exist yet) may not be replaced: the file or
    its folder is read-only by its permission bits, even for root. Returns the file's stat, or
    None when it does not exist. A symbolic link is judged by the file it points to."""
    path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(path, f"is {_kind(st.st_mode)}, not a file; nothing written")
        if read_only_by_mode(st) or not os.access(path, os.W_OK):
            raise FileError(path, f"{what} is read-only; nothing written")
    if folder_read_only(path.parent):
        raise FileError(path, "its folder is read-only; nothing written")
    return st
