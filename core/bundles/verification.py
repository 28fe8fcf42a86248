"""SHA-256 checks of bundle files, remembered so that a bundle is hashed once, not at every load.

A file whose SHA-256 matched its manifest is recorded in the user cache folder by absolute path,
size, modification time and hash. A later load with the same record skips hashing; any change
to the file (an edit, a copy over it, a corruption written to disk) changes its modification
time and makes the next load hash it again. The cache is an optimisation only: if it cannot be
read or written, files are simply hashed every time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from core.atomic import atomic_write_text
from core.bundles.user_dirs import user_cache_dir

log = logging.getLogger(__name__)

CACHE_FILE = "verified-files.json"
CACHE_ENTRIES = 256  # the most recently verified files are kept


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_path() -> Path:
    return user_cache_dir() / CACHE_FILE


def _record(path: Path, sha256: str) -> tuple[str, dict]:
    st = path.stat()
    return os.path.abspath(path), {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}


def _load() -> dict[str, dict]:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(entries: dict[str, dict]) -> None:
    kept = dict(list(entries.items())[-CACHE_ENTRIES:])
    try:
        cache_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache_path(), json.dumps(kept, indent=1) + "\n")
    except OSError as exc:
        log.info("cannot remember verified files in %s: %s", cache_path(), exc)


def verify_files(expected: dict[Path, str]) -> Path | None:
    """Check each file's SHA-256 against `expected` (path -> hex digest), hashing only files the
    cache does not already vouch for. Returns the first file that does not match, or None."""
    cache = _load()
    changed = False
    try:
        for path, sha256 in expected.items():
            key, record = _record(path, sha256)
            if cache.get(key) == record:
                continue
            cache.pop(key, None)
            changed = True
            if sha256_file(path) != sha256:
                return path
            cache[key] = record
        return None
    finally:
        if changed:
            _save(cache)
