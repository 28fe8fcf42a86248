"""What `visioncap caption` does around the model: reading the captions people already have
before captioning, and writing each batch's captions out (`--write`) as soon as it is done.

- Before captioning, every photo's captions beside and inside it are read (core.metadata.caption_io,
  the app's reader). With `--existing keep` (the default) a photo that has a caption a person or
  another program wrote is left alone: it is not captioned, nothing is written for it, and its
  caption goes to the CSV with its source. VisionCap's own captions (XMP's
  visioncap:DescriptionDigest) do not count: they are captioned and written again.
- With `--write`, each photo's state (size, modification time, fingerprint) is taken before it
  is captioned; a photo that differs when its batch is written (replaced, edited) is skipped
  and reported. Photos, sidecars and .txt files are written batch by batch; metadata.jsonl
  rows are merged every FLUSH_SECONDS and at the end (also after Ctrl+C).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from core.fingerprint import FileState, file_state
from core.metadata.caption_io import FoundCaption, Source, find_captions
from core.metadata.caption_writes import (
    NOT_WRITTEN,
    WriteItem,
    WriteOptions,
    WriteReport,
    WriteSession,
)
from core.metadata.caption_writes import write_captions as _write_captions

FLUSH_SECONDS = 60.0
MODEL_SOURCE = "model"


def read_existing(
    todo: list[tuple[str, str, str]], keep: bool, states: bool, progress: bool = True
) -> tuple[list[dict[str, str]], list[tuple[str, str, str]], dict[str, FileState], list[str]]:
    """For (path, identity, name) items: (CSV rows of the photos left alone for their existing
    caption, the items still to caption, the photos' states by identity when `states`, the
    problems met reading, one line each)."""
    from tqdm import tqdm

    rows: list[dict[str, str]] = []
    remaining: list[tuple[str, str, str]] = []
    found_states: dict[str, FileState] = {}
    problems: list[str] = []
    if not keep and not states:
        return rows, todo, found_states, problems
    for path, key, name in tqdm(todo, unit="img", file=sys.stderr, disable=None if progress else True,
                                desc="reading existing captions" if keep else "reading photo states"):
        if states:
            with contextlib.suppress(OSError):  # the captioner reports the photo as unreadable
                found_states[key] = file_state(path)
        if keep:
            findings = find_captions(path, name)
            own = f"{Path(path)}:"  # the photo's own problems are the captioner's to report
            problems.extend(p for p in findings.problems if not p.startswith(own))
            others = findings.others
            if others:
                best = others[0]
                rows.append({"path": path, "absolute_path": key, "caption": best.text, "error": "",
                             "source": best.source.value,
                             "notes": f"left alone: it has a caption {_where(best)}"})
                continue
        remaining.append((path, key, name))
    return rows, remaining, found_states, problems


def _where(found: FoundCaption) -> str:
    return f"in its {found.detail}" if found.source is Source.EMBEDDED else f"in {found.file.name}"


class RunWriter:
    """Writes each batch's captions the ways `--write` asked, keeping one report for the run."""

    def __init__(self, options: WriteOptions, names: dict[str, str], states: dict[str, FileState]):
        self.batch_options = WriteOptions(tuple(w for w in options.ways if w != "jsonl"), options.sidecar_naming,
                                          options.keep_mtime, options.existing)
        self.jsonl_options = WriteOptions(("jsonl",), options.sidecar_naming, options.keep_mtime, options.existing) \
            if "jsonl" in options.ways else None
        self.names, self.states = names, states
        self.session = WriteSession()
        self.report = WriteReport()
        self.pending: list[WriteItem] = []
        self.last_flush = time.monotonic()

    def _items(self, rows: Iterable[dict[str, str]]) -> list[WriteItem]:
        return [WriteItem(Path(row["path"]), self.names.get(row["absolute_path"], Path(row["path"]).name),
                          row["caption"], self.states.get(row["absolute_path"]),
                          by_model=row.get("source", MODEL_SOURCE) in (MODEL_SOURCE, ""),
                          model=row.get("model", ""), style=row.get("style", ""))
                for row in rows if row.get("caption") and not row.get("error")]

    def write(self, rows: list[dict[str, str]]) -> None:
        """Write these rows' captions; each row's `notes` says what happened to its files."""
        items = self._items(rows)
        if self.batch_options.ways and items:
            report = _write_captions(items, self.batch_options, session=self.session)
            self._merge(report)
            for row in rows:
                row["notes"] = report.notes(Path(row["path"]))
        if self.jsonl_options is not None:
            # a photo embedded into just now has a new state: the one to check at the merge
            self.pending.extend(replace(item, photo_state=self.report.states.get(item.path, item.photo_state))
                                for item in items)
            if time.monotonic() - self.last_flush > FLUSH_SECONDS:
                self.flush()

    def flush(self) -> None:
        """Merge the metadata.jsonl rows written so far into their files."""
        self.last_flush = time.monotonic()
        if self.jsonl_options is None or not self.pending:
            return
        pending, self.pending = self.pending, []
        self._merge(_write_captions(pending, self.jsonl_options, session=self.session))

    def _merge(self, report: WriteReport) -> None:
        self.report.outcomes.extend(report.outcomes)
        self.report.states.update(report.states)

    @property
    def failures(self) -> int:
        """Photos for which some file was not written because of a problem."""
        return len({o.image for o in self.report.where(NOT_WRITTEN)})
