"""Decisions the controllers take that need no Qt: which records a run captions, which bundle the
settings name, what a save keeps, what the status bar says. Plain functions, tested in
tests/app/test_decisions.py."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from visioncap_desktop.records import (
    SOURCE_PLACES,
    CaptionSnapshot,
    CaptionState,
    FileFacts,
    ImageRecord,
    run_may_replace,
)
from visioncap_desktop.wording import plural, verb

CAPTION_SCOPES = ("all", "selected", "uncaptioned")


def records_to_caption(scope: str, records: Sequence[ImageRecord], selected: Sequence[ImageRecord],
                       overwrite_edited: bool) -> list[ImageRecord]:
    """What a run over `scope` captions: every record, the selected ones, or those without a
    caption (never captioned, or failed last time), less those the run may not replace."""
    if scope not in CAPTION_SCOPES:
        raise ValueError(f"scope must be one of {CAPTION_SCOPES}, got {scope!r}")
    chosen = selected if scope == "selected" else records
    if scope == "uncaptioned":
        chosen = [r for r in chosen if r.needs_caption]
    return [r for r in chosen if run_may_replace(r, overwrite_edited)]


def chosen_bundle(override: str | None, source: str, model_path: str, demo: Path | None,
                  downloaded: Path | str | None) -> str | None:
    """The model to caption with (a bundle folder, or a catalogue model's name), or None when no
    usable model is chosen.

    `override`: `--model` (a folder, or "demo"), which wins over the saved choice `source`
    ("demo", "folder" with `model_path`, "download", or "" for not chosen yet). `demo`: the
    shipped demo bundle if there is one; `downloaded`: the downloaded model (its folder or its
    catalogue name) if it is complete.
    """
    if override:
        source, model_path = ("demo", "") if override == "demo" else ("folder", override)
    if source == "demo":
        return str(demo) if demo else None
    if source == "folder":
        return model_path or None
    if source == "download":
        return str(downloaded) if downloaded else None
    return None


def folder_of_drop(paths: Iterable[Path]) -> Path | None:
    """The folder to open for dropped paths: the first folder, or the folder of the first file."""
    for path in paths:
        if path.is_dir():
            return path
        if path.is_file():
            return path.parent
    return None


def entries_to_save(stored: Mapping[str, CaptionSnapshot],
                    records: Iterable[ImageRecord]) -> dict[str, CaptionSnapshot]:
    """A folder's caption store after a save: the records listed now (those with something to
    keep), and the stored captions of files not listed now (a subfolder toggled off, a scan
    still running), which are kept, not dropped."""
    records = list(records)
    names = {r.name for r in records}
    entries = {name: s for name, s in stored.items() if name not in names}
    entries.update((r.name, r.snapshot()) for r in records if r.state is not CaptionState.PENDING or r.title)
    return entries


def facts_to_save(stored: Mapping[str, FileFacts], records: Iterable[ImageRecord]) -> dict[str, FileFacts]:
    """The FileFacts saved beside `entries_to_save`: the records' own, and the stored ones of
    files not listed now."""
    records = list(records)
    names = {r.name for r in records}
    facts = {name: f for name, f in stored.items() if name not in names}
    facts.update((r.name, r.facts()) for r in records if r.state is not CaptionState.PENDING)
    return facts


def run_summary(outcome: str, done: int, total: int, elapsed: str, failed: int = 0, skipped: int = 0) -> str:
    """The status bar's line when a run ends ("completed", "cancelled" or "failed"). `done`
    images had an answer: `failed` of them could not be captioned, `skipped` were edited during
    the run and kept the user's caption; the rest were captioned."""
    captioned = done - failed - skipped
    parts = [f"{n:,} {what}" for n, what in ((failed, "failed"), (skipped, "skipped (edited during the run)")) if n]
    see = " (see Problems)" if parts else ""
    if outcome == "completed":
        return f"Captioned {plural(captioned, 'image')} in {elapsed}" + ("; " + ", ".join(parts) if parts else "") \
            + see + "."
    if outcome == "cancelled":
        text = f"Cancelled after {done:,} of {plural(total, 'image')}; the captions made are kept"
    else:
        text = f"Captioning stopped after {done:,} of {plural(total, 'image')}"
    return text + (f": {captioned:,} captioned, " + ", ".join(parts) + see if parts else "") + "."


def counts_text(total: int, shown: int, counts: Mapping[CaptionState, int]) -> str:
    """The status bar's count of images, with the filter's share and the states."""
    text = plural(total, "image") if shown == total else f"Showing {shown:,} of {plural(total, 'image')}"
    return (text + f"  |  {counts[CaptionState.CAPTIONED]:,} captioned, {counts[CaptionState.EDITED]:,} edited, "
            f"{plural(counts[CaptionState.ERROR], 'error')}, {counts[CaptionState.PENDING]:,} pending")


def kept_captions(records: Sequence[ImageRecord]) -> str:
    """The captions of `records`, which runs keep, by where they came from: "a caption you
    edited", "captions read from .txt files", or "captions runs keep (2 you edited, 98 read
    from .txt files)"."""
    by_source = Counter(r.source for r in records)
    whats = [(n, f"read from {SOURCE_PLACES.get(source, 'files')}" if source else "you edited")
             for source, n in sorted(by_source.items())]
    if len(whats) == 1:
        return f"{'a caption' if len(records) == 1 else 'captions'} {whats[0][1]}, which runs keep"
    return "captions runs keep (" + ", ".join(f"{n:,} {what}" for n, what in whats) + ")"


def nothing_to_caption(scope: str, records: Sequence[ImageRecord], selected: Sequence[ImageRecord],
                       overwrite_edited: bool) -> str:
    """Why a run over `scope` has nothing to caption (records_to_caption returned nothing)."""
    if not records:
        return "Nothing to caption: no images are shown. Open a folder of images first."
    if scope == "selected" and not selected:
        return "Nothing to caption: no image is selected."
    if scope == "uncaptioned":
        return ("Nothing to caption: every image has a caption. Caption All or Caption Selected "
                "caption images again.")
    chosen = selected if scope == "selected" else records
    if not overwrite_edited and all(r.edited for r in chosen):
        which = ("the selected image" if len(chosen) == 1 else f"the {len(chosen):,} selected images") \
            if scope == "selected" else ("the only image" if len(chosen) == 1 else f"all {len(chosen):,} images")
        return (f"Nothing to caption: {which} {verb(len(chosen), 'has')} {kept_captions(chosen)}. "
                f"Tick Caption > Overwrite Edited Captions to replace {'it' if len(chosen) == 1 else 'them'}.")
    return "Nothing to caption."


def empty_filter_text(search: str, state_label: str, tag: str) -> str:
    """Why the gallery shows nothing though the folder has images: the filters that are on,
    and how to turn each off."""
    parts = []
    if tag:
        parts.append(f"no caption holds the tag “{tag}” (Tags panel: Show all)")
    if search:
        parts.append(f"the search is “{search}” (clear the search box)")
    if state_label and state_label != "All images":
        parts.append(f"only “{state_label}” images are shown (choose All images)")
    return "No image shown: " + "; ".join(parts) + "." if parts else "No image shown."


SUBFOLDER_COUNT_LIMIT = 10_000  # counting stops here: a question needs no exact figure


def subfolder_question(count: int) -> str:
    """The question when a folder holds no images itself but `count` in its subfolders."""
    more = "+" if count >= SUBFOLDER_COUNT_LIMIT else ""
    return f"No images here; {count:,}{more} in subfolders: include them?"


# what core.captioning.device's errors name a GPU by (whole words: "mps" is also inside "timestamps")
DEVICE_WORDS = re.compile(r"\b(cuda|rocm|mps|xpu)\b", re.IGNORECASE)


def model_failure_advice(text: str) -> str:
    """Where to go when the model could not be loaded: the device setting when the problem is
    the device, else the model choice."""
    if DEVICE_WORDS.search(text):
        return "Choose another device in Caption > Settings > Device."
    return "Choose another model in Caption > Choose Model."


def app_version() -> str:
    """The installed distribution's version; the package's own when it is not installed (a
    frozen build, a source checkout on PYTHONPATH)."""
    from importlib import metadata

    import visioncap_desktop

    try:
        return metadata.version("visioncap")
    except metadata.PackageNotFoundError:
        return visioncap_desktop.__version__


def about_text(version: str, model_text: str, captions_dir: str) -> str:
    return (f"VisionCap {version}\n\n"
            "VisionCap writes captions for folders of photos on your own computer.\n\n"
            f"{model_text or 'Model: none chosen'}\n\n"
            f"Captions are saved automatically in {captions_dir}.")
