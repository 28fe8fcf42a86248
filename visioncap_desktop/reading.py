"""What the captions found in files do to the records: core.metadata.caption_io.reconcile for each photo,
and what the app says about it. Plain Python, called by FolderController in the GUI thread with the
records as they are then (the user may have edited them while the files were read).

A conflict is a Problem ("took the caption from photo.txt, changed since VisionCap's", or
"kept VisionCap's caption, newer than the different one in photo.txt"). A file whose different
caption VisionCap kept is noted with its state (records.FileFacts.noted): it is not reported
again on every open, only when it changes again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.fingerprint import FileState
from core.metadata.caption_io import Action, Findings, StoredCaption, reconcile, source_key
from visioncap_desktop.problems import Problem
from visioncap_desktop.records import SOURCE_PLACES, CaptionSnapshot, ImageRecord, imported_snapshot
from visioncap_desktop.wording import plural, verb

# where the captions read came from, for the status line ("" : VisionCap's own, read back)
READ_FROM = {**SOURCE_PLACES, "": "files VisionCap wrote earlier"}


@dataclass
class ReadOutcome:
    taken: dict[str, CaptionSnapshot] = field(default_factory=dict)  # path -> the caption taken from a file
    seen: dict[str, dict[str, FileState]] = field(default_factory=dict)  # path -> files in sync with it
    noted: dict[str, dict[str, FileState]] = field(default_factory=dict)  # path -> disagreements reported
    problems: list[Problem] = field(default_factory=list)
    conflicts: int = 0
    unreadable: int = 0


def _same_content(a: FileState, b: FileState) -> bool:
    return a.size == b.size and a.fingerprint == b.fingerprint


def apply_findings(found: Mapping[str, Findings], record_for_path: Callable[[str], ImageRecord | None],
                   folder: Path, stage: str = "reading") -> ReadOutcome:
    """Reconcile each photo's findings with its record; nothing is changed here, the caller
    applies `taken` (one undo step) and records `seen` and `noted`."""
    out = ReadOutcome()
    for path, findings in found.items():
        record = record_for_path(path)
        if record is None:
            continue
        for problem in findings.problems:
            file, said, reason = problem.partition(": ")  # core's errors start with the file they name
            if said and os.path.isabs(file):
                out.problems.append(Problem(stage, "failed", record.name, reason, path, file))
            else:
                out.problems.append(Problem(stage, "failed", record.name, problem, path))
        out.unreadable += len(findings.problems)
        stored = StoredCaption(record.caption, record.changed_ns, record.seen) if record.caption else None
        decision = reconcile(stored, findings.found, folder)
        states = {source_key(f.file, folder): f.state for f in decision.in_sync}
        if decision.action is Action.TAKE and decision.found is not None:
            out.taken[path] = imported_snapshot(record, decision.found.text, decision.found.source.value,
                                                decision.found.own)
            states[source_key(decision.found.file, folder)] = decision.found.state
        out.seen[path] = states
        if not decision.conflict or decision.found is None:
            continue
        key = source_key(decision.found.file, folder)
        if decision.action is Action.KEEP:
            before = record.noted.get(key)
            out.noted[path] = {key: decision.found.state}
            if before is not None and _same_content(before, decision.found.state):
                continue  # said when the file changed; it has not changed since
        out.conflicts += 1
        reason = decision.message(record.name).removeprefix(f"{record.name}: ")
        out.problems.append(Problem(stage, "conflict", record.name, reason, path, str(decision.found.file)))
    return out


def reading_summary(taken: Mapping[str, CaptionSnapshot], conflicts: int, unreadable: int) -> str:
    """The status line after captions were read from files: how many, from which kind of file,
    and how many problems the Problems panel lists."""
    parts = []
    if taken:
        kinds = sorted({READ_FROM.get(s.source, "files") for s in taken.values()})
        parts.append(f"Read {plural(len(taken), 'caption')} from {' and '.join(kinds)}")
    if conflicts:
        parts.append(f"{plural(conflicts, 'file')} {verb(conflicts, 'disagrees')} with VisionCap's caption")
    if unreadable:
        parts.append(f"{plural(unreadable, 'file')} could not be read")
    if conflicts or unreadable:
        parts[-1] += " (see Problems)"
    return "; ".join(parts)
