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
from collections.abc import Iterable, Mapping
from pathlib import Path

from core.atomic import atomic_write_text
from core.bundles.user_dirs import user_cache_dir
from core.errors import BundleError

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


def file_entries(folder: Path, names: Iterable[str]) -> dict[str, dict]:
    """A manifest's `files`: name -> {"bytes", "sha256"} of each file in `folder`."""
    return {name: {"bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)} for name in names}


def check_files(folder: Path, files: Mapping[str, Mapping], verify_hashes: bool, changed: str) -> None:
    """Every file a manifest lists (`files`, as `file_entries` writes them) exists in `folder`
    with its recorded size and, if `verify_hashes`, its SHA-256 (remembered per file in the user
    cache, so only a new or changed file is hashed). Raises BundleError naming the file; a wrong
    hash says the file changed `changed` ("after the bundle was written")."""
    for name, info in files.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(path, "missing")
        size = path.stat().st_size
        if "bytes" in info and size != info["bytes"]:
            hint = "truncated" if size < info["bytes"] else "larger than recorded"
            raise BundleError(path, f"{hint}: {size:,} bytes, the manifest records {info['bytes']:,}")
    if not verify_hashes:
        return
    expected = {folder / name: info["sha256"] for name, info in files.items() if "sha256" in info}
    try:
        corrupt = verify_files(expected)
    except OSError as exc:
        raise BundleError(Path(exc.filename or folder), f"unreadable ({exc.strerror or exc})") from exc
    if corrupt is not None:
        raise BundleError(corrupt, f"corrupt: its SHA-256 does not match the manifest (the file changed {changed})")
