"""Write a file so that readers see the old content or the new, never a mixture.

The new content goes to a temporary file in the same folder, is flushed to disk, and is then
renamed over the target (`os.replace` is atomic on Windows, macOS and Linux). If anything fails
(a full disk, a read-only folder, a cancelled export) the temporary file is removed and an
earlier file at the target path is left exactly as it was.

The temporary file has one name per target, `.photo.jpg.visioncap-tmp`, created exclusively: a
second writer of the same target at the same moment is refused instead of racing, and a file of
that name left by a process killed mid-write is removed by the next write once it is
STALE_SECONDS old. Nothing else in the folder is looked at, so writing into every photo of a
folder of 100,000 stays one file operation each.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

STALE_SECONDS = 600  # a write takes seconds at most; an older temporary file was left by a kill
SUFFIX = ".visioncap-tmp"


def temporary_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}{SUFFIX}")


def _create_temporary(tmp: Path) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for attempt in range(2):
        try:
            os.close(os.open(tmp, flags, 0o600))
            return
        except FileExistsError:
            try:
                age = time.time() - os.lstat(tmp).st_mtime
            except FileNotFoundError:
                continue  # the other writer just finished
            if attempt or age < STALE_SECONDS:
                raise FileExistsError(
                    errno.EEXIST, "another write of this file is in progress (its temporary file exists)", str(tmp)
                ) from None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)  # left by a process killed mid-write


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp_path)` to produce the content (what it returns is ignored), then move it
    into place at `path`. A symbolic link is written through: the file it points to is
    replaced, the link stays."""
    path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    tmp = temporary_path(path)
    _create_temporary(tmp)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the temporary file was made 0600; keep the usual permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding, newline=""))
