"""Captions that follow their photos: matching a folder's files to caption store entries by
content fingerprint (core.fingerprint) when a photo was renamed or the folder was moved or
copied. Qt-free; the folder scanner's thread calls these after fingerprinting.

- Rename: a file with no entry of its own takes the entry of the same store whose file is gone
  and whose fingerprint it has (only when that pairing is unambiguous). The entry moves to the
  new name: the caption is kept, under the name it now belongs to.
- Moved or copied folder: when most files have no entry in the folder's own store, the other
  stores are searched; the one whose entries match the most of those files, if they are at
  least `MIN_SHARE` of them, is re-attached: its entries are copied under the new names. The
  other store is never changed (a copied folder keeps its captions in both places).
Nothing is deleted: an entry whose file is gone stays until the user asks to forget it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

MIN_SHARE = 0.5  # of the files without an entry, the share another store must match
Entry = TypeVar("Entry")


def find_renames(files: Mapping[str, str], entries: Mapping[str, str]) -> dict[str, str]:
    """new name -> old name. `files`: name -> fingerprint of each file in the folder now;
    `entries`: name -> fingerprint of each store entry that has one. A file without an entry
    takes an entry whose file is gone when exactly one such file and one such entry share the
    fingerprint (two identical copies renamed at once are left alone)."""
    gone: dict[str, list[str]] = defaultdict(list)
    for name, fp in entries.items():
        if name not in files:
            gone[fp].append(name)
    new: dict[str, list[str]] = defaultdict(list)
    for name, fp in files.items():
        if name not in entries and fp in gone:
            new[fp].append(name)
    return {names[0]: gone[fp][0] for fp, names in new.items() if len(names) == 1 and len(gone[fp]) == 1}


@dataclass(frozen=True)
class StoreCandidate:
    """Another folder's store, reduced to what matching needs."""

    path: Path  # the store file
    folder: str  # the folder it was saved for
    fingerprints: Mapping[str, str]  # entry name -> fingerprint


@dataclass(frozen=True)
class Reattachment:
    store: Path
    folder: str  # the store's folder: the status bar says "re-attached N captions from FOLDER"
    names: dict[str, str]  # name here -> entry name in that store

    def message(self) -> str:
        return f"re-attached {len(self.names):,} captions from {self.folder}"


def find_moved_store(
    files: Mapping[str, str],
    own: Mapping[str, str],
    candidates: Iterable[StoreCandidate],
    min_share: float = MIN_SHARE,
) -> Reattachment | None:
    """The store to re-attach, or None. `files`: name -> fingerprint here; `own`: the names
    (-> fingerprints) in this folder's own store. Only files without an own entry take part;
    the search happens when they are most of the folder."""
    orphans = {name: fp for name, fp in files.items() if name not in own}
    if not orphans or len(orphans) * 2 <= len(files):
        return None
    best: Reattachment | None = None
    for candidate in candidates:
        by_fp: dict[str, list[str]] = defaultdict(list)
        for name, fp in candidate.fingerprints.items():
            by_fp[fp].append(name)
        names = {}
        for name, fp in orphans.items():
            matches = by_fp.get(fp, [])
            if name in matches:
                names[name] = name
            elif len(matches) == 1:
                names[name] = matches[0]
        if len(names) >= max(1, min_share * len(orphans)) and (best is None or len(names) > len(best.names)):
            best = Reattachment(candidate.path, candidate.folder, names)
    return best


def apply_reattachment(
    entries: Mapping[str, Entry], other: Mapping[str, Entry], reattachment: Reattachment
) -> dict[str, Entry]:
    """A copy of `entries` with the other store's entries added under the names here; an
    entry this folder already has is never replaced."""
    result = dict(entries)
    for here, there in reattachment.names.items():
        if here not in result and there in other:
            result[here] = other[there]
    return result


def store_fingerprints(data: object) -> tuple[str, dict[str, str]]:
    """(folder, name -> fingerprint) of a decoded store file; entries without a fingerprint
    (written before fingerprints existed) are left out. Raises ValueError for a non-store."""
    if not isinstance(data, dict) or data.get("format") != "visioncap-captions":
        raise ValueError("not a VisionCap caption store")
    images = data.get("images")
    if not isinstance(images, dict):
        raise ValueError("no image table")
    fingerprints = {
        name: entry["fingerprint"]
        for name, entry in images.items()
        if isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str)
    }
    return str(data.get("folder", "")), fingerprints


def candidate_stores(captions_dir: Path, exclude: Path) -> Iterator[StoreCandidate]:
    """Every readable store in `captions_dir` except `exclude` (the folder's own) and stores
    kept aside as corrupt. Unreadable ones are skipped and logged."""
    for path in sorted(captions_dir.glob("*.json")):
        if path == exclude or ".corrupt-" in path.name:
            continue
        try:
            folder, fingerprints = store_fingerprints(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError) as exc:
            log.info("not searching store %s: %s", path, exc)
            continue
        if fingerprints:
            yield StoreCandidate(path, folder, fingerprints)
