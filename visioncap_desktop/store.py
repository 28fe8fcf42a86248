"""The per-folder caption store: every caption, edit and error of one opened folder, as JSON in
the user data folder.

    <data>/captions/<folder name>-<hash of the resolved folder path>.json
    {"format": "visioncap-captions", "version": 1, "folder": "/photos/trip", "saved": "...",
     "images": {"day1/beach.jpg": {"caption": "...", "state": "edited", "model": "...", "error": "",
                                   "source": "txt", "fingerprint": "v1:...", "size": 123, "mtime_ns": ...,
                                   "changed_ns": ..., "seen": {"day1/beach.txt": {"size": ..., ...}}}}}

`source`, `fingerprint`, `size`, `mtime_ns`, `changed_ns`, `seen` and `noted` (records.FileFacts)
and `title` (a photo's title, saved also for an image with no caption yet) and `style` (the
caption style the model wrote in) are optional: a store
without them loads as before, and an older VisionCap ignores them.

Keys are file names relative to the folder. Writes are atomic (core.atomic), so a crash leaves
the previous file or the new one. Text typed but not yet committed goes to a small drafts file
beside the store (`<store name>.drafts.json`, {"drafts": {name: text}}), which the store's
format leaves alone. A store or drafts file that cannot be read (truncated, not UTF-8, or written
by a newer version) is renamed to `*.corrupt-<timestamp>.json` and reported, never overwritten.
Qt-free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from core.atomic import atomic_write_text
from core.fingerprint import FileState
from visioncap_desktop import paths
from visioncap_desktop.records import CaptionSnapshot, CaptionState, FileFacts

log = logging.getLogger(__name__)

STORE_FORMAT = "visioncap-captions"
STORE_VERSION = 1
_ENTRY_KEYS = {"caption": str, "state": str, "model": str, "style": str, "error": str, "source": str, "title": str}


class StoreFormatError(ValueError):
    """The file is not a caption store this version can read."""


def store_path(folder: str | Path, root: Path | None = None) -> Path:
    """The store file of `folder`: a readable label plus a hash of its resolved path (normalised
    for case-insensitive file systems), so two folders with the same name never share a store."""
    resolved = Path(folder).resolve()
    digest = hashlib.sha256(os.path.normcase(str(resolved)).encode("utf-8")).hexdigest()[:16]
    label = re.sub(r"[^\w.-]+", "_", resolved.name)[:40] or "root"
    return (root or paths.captions_dir()) / f"{label}-{digest}.json"


@dataclass
class LoadResult:
    entries: dict[str, CaptionSnapshot] = field(default_factory=dict)
    problem: str | None = None  # a sentence for the user when the store could not be used
    kept_aside: Path | None = None  # where an unreadable store was moved
    facts: dict[str, FileFacts] = field(default_factory=dict)  # entries that have any


def decode_utf8(data: bytes) -> str:
    """The text of a store or drafts file; ValueError naming the first byte that is not UTF-8
    (a file saved in another encoding, or damaged), as for any other unreadable store."""
    try:
        return data.decode("utf-8-sig")  # a BOM from an editor is no damage
    except UnicodeDecodeError as exc:
        raise StoreFormatError(f"not UTF-8 text (byte {exc.start:,} is 0x{data[exc.start]:02x})") from None


def keep_aside(path: Path) -> Path:
    """Rename an unreadable file to `<stem>.corrupt-<timestamp>.json` beside it, never over
    another; returns the new path. Raises OSError."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.corrupt-{stamp}.json")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.corrupt-{stamp}-{n}.json")
    os.replace(path, target)
    return target


def parse_store(data: object) -> dict[str, CaptionSnapshot]:
    """Validate a decoded store; raise StoreFormatError naming the first problem."""
    if not isinstance(data, dict) or data.get("format") != STORE_FORMAT:
        raise StoreFormatError("not a VisionCap caption store")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise StoreFormatError(f"invalid format version {version!r}")
    if version > STORE_VERSION:
        raise StoreFormatError(
            f"written by a newer VisionCap (format version {version}, this one reads up to {STORE_VERSION})"
        )
    images = data.get("images")
    if not isinstance(images, dict):
        raise StoreFormatError("no image table")
    entries = {}
    for name, entry in images.items():
        if not isinstance(entry, dict) or any(not isinstance(entry.get(k, ""), t) for k, t in _ENTRY_KEYS.items()):
            raise StoreFormatError(f"malformed entry for {name!r}")
        try:
            state = CaptionState(entry.get("state", CaptionState.CAPTIONED.value))
        except ValueError as exc:
            raise StoreFormatError(f"unknown state {entry.get('state')!r} for {name!r}") from exc
        entries[name] = CaptionSnapshot(entry.get("caption", ""), state, entry.get("error", ""), entry.get("model", ""),
                                        entry.get("source", ""), entry.get("title", ""), entry.get("style", ""))
    return entries


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _states(value: object) -> dict[str, FileState]:
    if not isinstance(value, dict):
        return {}
    return {key: state for key, item in value.items() if (state := FileState.from_json(item)) is not None}


def parse_facts(data: object) -> dict[str, FileFacts]:
    """The FileFacts of the entries of a store `parse_store` accepted; malformed or missing
    values count as unknown (the file is fingerprinted again), never as an error."""
    facts = {}
    for name, entry in data["images"].items():
        fingerprint = entry.get("fingerprint")
        fact = FileFacts(fingerprint if isinstance(fingerprint, str) else "", _int(entry.get("size")),
                         _int(entry.get("mtime_ns")), _int(entry.get("changed_ns")), _states(entry.get("seen")),
                         _states(entry.get("noted")))
        if fact != FileFacts():
            facts[name] = fact
    return facts


def _facts_json(facts: FileFacts | None) -> dict[str, object]:
    if facts is None:
        return {}
    data: dict[str, object] = {}
    if facts.fingerprint:
        data.update(fingerprint=facts.fingerprint, size=facts.size, mtime_ns=facts.mtime_ns)
    if facts.changed_ns:
        data["changed_ns"] = facts.changed_ns
    for key, states in (("seen", facts.seen), ("noted", facts.noted)):
        if states:
            data[key] = {name: state.to_json() for name, state in sorted(states.items())}
    return data


def dump_store(folder: Path, entries: Mapping[str, CaptionSnapshot],
               facts: Mapping[str, FileFacts] | None = None) -> str:
    facts = facts or {}
    images = {
        name: {"caption": s.caption, "state": s.state.value, "model": s.model, "error": s.error,
               **({"style": s.style} if s.style else {}),
               **({"source": s.source} if s.source else {}), **({"title": s.title} if s.title else {}),
               **_facts_json(facts.get(name))}
        for name, s in sorted(entries.items())
        if s.state is not CaptionState.PENDING or s.title
    }
    data = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "folder": str(folder),
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "images": images,
    }
    return json.dumps(data, indent=1, ensure_ascii=True) + "\n"


class CaptionStore:
    """Load and save the captions of one folder."""

    def __init__(self, folder: str | Path, root: Path | None = None):
        self.folder = Path(folder).resolve()
        self.path = store_path(self.folder, root)
        # False after an unreadable store could not be moved aside: saving would destroy it.
        self.writable = True

    def load(self) -> LoadResult:
        """Read the store. A missing store is empty; an unreadable one is moved aside."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return LoadResult()
        except OSError as exc:
            self.writable = False
            return LoadResult(problem=f"Could not read the saved captions {self.path}: {exc}. "
                                      "Captions for this folder will not be saved this session.")
        try:
            decoded = json.loads(decode_utf8(data))
            return LoadResult(parse_store(decoded), facts=parse_facts(decoded))
        except (ValueError, RecursionError) as exc:
            # JSONDecodeError, StoreFormatError and UnicodeDecodeError (see decode_utf8) are ValueErrors
            return self._keep_aside(str(exc))

    def _keep_aside(self, reason: str) -> LoadResult:
        try:
            target = keep_aside(self.path)
        except OSError as exc:
            self.writable = False
            log.error("could not move unreadable store %s aside: %s", self.path, exc)
            return LoadResult(problem=f"The saved captions {self.path} could not be read ({reason}) "
                                      f"nor moved aside ({exc}). They are left untouched and captions "
                                      "for this folder will not be saved this session.")
        log.warning("kept unreadable store %s aside as %s: %s", self.path, target, reason)
        return LoadResult(
            problem=f"The saved captions for this folder could not be read ({reason}). "
                    f"The file was kept as {target} and the folder starts without saved captions.",
            kept_aside=target,
        )

    def save(self, entries: Mapping[str, CaptionSnapshot], facts: Mapping[str, FileFacts] | None = None) -> None:
        """Write all non-pending entries (with their `facts`) atomically. Raises OSError (full
        disk, read-only)."""
        if not self.writable:
            raise OSError(f"{self.path}: not saving over a store that could not be read")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, dump_store(self.folder, entries, facts))


# --- drafts: text typed but not yet committed as a caption ------------------------------------

DRAFTS_FORMAT = "visioncap-drafts"
DRAFTS_VERSION = 1


def drafts_path(folder: str | Path, root: Path | None = None) -> Path:
    """The drafts file of `folder`, beside its caption store: `<store name>.drafts.json`."""
    store = store_path(folder, root)
    return store.with_name(f"{store.stem}.drafts.json")


def read_drafts(path: Path) -> dict[str, str]:
    """{file name: typed text} from a drafts file; {} if there is none. Raises StoreFormatError
    naming the file and the problem, OSError if it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(decode_utf8(raw))
    except ValueError as exc:
        raise StoreFormatError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != DRAFTS_FORMAT:
        raise StoreFormatError(f"{path}: not a VisionCap drafts file")
    if not isinstance(data.get("version"), int) or data["version"] > DRAFTS_VERSION:
        raise StoreFormatError(f"{path}: unknown drafts version {data.get('version')!r}")
    drafts = data.get("drafts")
    if not isinstance(drafts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in drafts.items()):
        raise StoreFormatError(f"{path}: malformed drafts table")
    return drafts


def write_drafts(path: Path, folder: Path, drafts: Mapping[str, str]) -> None:
    """Write the drafts atomically; no drafts: remove the file. Raises OSError."""
    if not drafts:
        path.unlink(missing_ok=True)
        return
    data = {"format": DRAFTS_FORMAT, "version": DRAFTS_VERSION, "folder": str(folder),
            "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"), "drafts": dict(sorted(drafts.items()))}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=True) + "\n")


def read_store_file(path: Path) -> tuple[dict[str, CaptionSnapshot], dict[str, FileFacts]]:
    """The entries and facts of any store file (another folder's, to re-attach it). Raises
    OSError or ValueError naming the problem."""
    data = json.loads(decode_utf8(path.read_bytes()))
    return parse_store(data), parse_facts(data)
