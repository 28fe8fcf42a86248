"""A cheap content fingerprint, so a caption can follow its photo through renames and moves.

    fingerprint = blake2b(size, first 64 KiB, last 64 KiB)

Two reads of at most 64 KiB whatever the file's size: a folder of 10,000 photos is
fingerprinted in the time a whole-file hash would take for a handful. Two different photos of
the same size whose first and last 64 KiB agree are not told apart, which for camera files
(the head holds the metadata and thumbnail, the tail the last scan lines) does not happen in
practice; the fingerprint finds candidates, it does not prove identity. Writing a caption into
a photo changes its head, hence its fingerprint: record the new state after writing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024
VERSION = "v1"  # stored with each fingerprint, so a future scheme is never compared with this one


def fingerprint(path: str | Path, size: int | None = None) -> str:
    """`v1:` and 32 hex digits. Raises OSError (missing, unreadable)."""
    with open(path, "rb") as f:
        if size is None:
            size = os.fstat(f.fileno()).st_size
        digest = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
        digest.update(f.read(CHUNK))
        if size > CHUNK:
            f.seek(max(CHUNK, size - CHUNK))
            digest.update(f.read(CHUNK))
    return f"{VERSION}:{digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class FileState:
    """What a file looked like when a caption was read from it or written to it: a later
    difference in any field means someone changed the file since."""

    size: int
    mtime_ns: int
    fingerprint: str

    def to_json(self) -> dict[str, object]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, data: object) -> FileState | None:
        """None for anything that is not a state this version wrote."""
        if not isinstance(data, dict):
            return None
        size, mtime_ns, fp = data.get("size"), data.get("mtime_ns"), data.get("fingerprint")
        if isinstance(size, int) and isinstance(mtime_ns, int) and isinstance(fp, str):
            return cls(size, mtime_ns, fp)
        return None


def file_state(path: str | Path) -> FileState:
    """Stat and fingerprint `path`. Raises OSError."""
    st = os.stat(path)
    return FileState(st.st_size, st.st_mtime_ns, fingerprint(path, st.st_size))


def unchanged(path: str | Path, state: FileState) -> bool:
    """True when `path` still has `state`. Size and mtime are checked first (one stat); the
    fingerprint only when they agree, so a touched but identical file counts as unchanged."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_size != state.size:
        return False
    if st.st_mtime_ns == state.mtime_ns:
        return True
    try:
        return fingerprint(path, st.st_size) == state.fingerprint
    except OSError:
        return False
