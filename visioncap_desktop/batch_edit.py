"""Batch edits of captions: find and replace, prefix or suffix, whitespace, tag operations (sort,
remove duplicates, keep the first N).

Plain functions, no Qt. A BatchEdit describes what the user asked for; `compile_edit` checks it
once (a bad regular expression becomes a BatchEditError with a message to show, never an
exception inside Qt) and returns a function caption -> new caption. The controller applies that
function to many records in slices and pushes one undo command.

Empty captions are left alone by every operation: a prefix added to an image without a caption
would turn "no caption yet" into a caption of one trigger word that runs no longer replace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from itertools import islice

from visioncap_desktop import tags

OPERATIONS = ("replace", "prefix", "suffix", "whitespace", "sort_tags", "dedupe_tags", "keep_first")
PREVIEW_ROWS = 5  # before/after pairs the dialog shows
SCOPES = ("selected", "filtered", "all")


class BatchEditError(ValueError):
    """What the user asked for cannot be done (a bad regular expression, nothing to find)."""


@dataclass(frozen=True)
class BatchEdit:
    operation: str  # one of OPERATIONS
    find: str = ""  # replace: the text or regular expression to find
    text: str = ""  # replace: the replacement; prefix/suffix: what to add
    regex: bool = False
    case_sensitive: bool = False
    separator: str = ", "  # prefix/suffix: between the text added and the caption
    count: int = 0  # keep_first: how many tags stay


@dataclass(frozen=True)
class MatchCount:
    matches: int  # matches of the find pattern, empty ones included (what a replace replaces)
    captions: int  # captions the edit changes
    # (before, after) of the first PREVIEW_ROWS changes: shown, not counted
    examples: tuple[tuple[str, str], ...] = field(default=(), compare=False)


def find_pattern(find: str, regex: bool, case_sensitive: bool) -> re.Pattern[str]:
    """The compiled pattern of a find; BatchEditError for an empty find or a bad expression."""
    if not find:
        raise BatchEditError("Type the text to find.")
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        return re.compile(find if regex else re.escape(find), flags)
    except re.error as exc:
        raise BatchEditError(f"Not a valid regular expression: {exc}") from None


def compile_edit(edit: BatchEdit) -> Callable[[str], str]:
    """caption -> new caption for `edit` (the same string when nothing changes)."""
    if edit.operation == "replace":
        pattern = find_pattern(edit.find, edit.regex, edit.case_sensitive)
        replacement = edit.text
        if edit.regex:
            try:  # a bad group reference (\3 with one group) is found now, not on the 1000th caption
                _check_template(pattern, replacement)
            except (re.error, IndexError) as exc:
                raise BatchEditError(f"Not a valid replacement: {exc}") from None
            return lambda caption: pattern.sub(replacement, caption) if caption else caption
        return lambda caption: pattern.sub(lambda _: replacement, caption) if caption else caption
    if edit.operation in ("prefix", "suffix"):
        return _adder(edit.text, edit.separator, front=edit.operation == "prefix")
    if edit.operation == "whitespace":
        return normalise_whitespace
    if edit.operation == "sort_tags":
        return tags.sort_tags
    if edit.operation == "dedupe_tags":
        return tags.dedupe_tags
    if edit.operation == "keep_first":
        if edit.count < 1:
            raise BatchEditError("Keep at least one tag.")
        return lambda caption: tags.keep_first_tags(caption, edit.count)
    raise BatchEditError(f"Unknown batch operation {edit.operation!r}.")


def _check_template(pattern: re.Pattern[str], replacement: str) -> None:
    """Expand `replacement` against a match with every group of `pattern` empty: raises for
    references to groups the pattern does not have."""
    probe = re.compile("()" * pattern.groups).match("")
    for name, number in pattern.groupindex.items():
        replacement = replacement.replace(f"\\g<{name}>", f"\\g<{number}>")
    probe.expand(replacement)


def _adder(text: str, separator: str, front: bool) -> Callable[[str], str]:
    """caption -> `text` and `separator` before it (`front`) or the separator and `text` after
    it. A separator the user also typed into `text` ("ohwx, ") is not doubled; a caption that
    already starts (ends) with the text and the separator, or is the text, stays as it is, so
    running the same batch twice changes nothing."""
    mark = separator.strip()  # "," of ", ": what makes the text a tag of its own
    piece = text.rstrip() if front else text.lstrip()
    if mark and (piece.endswith(mark) if front else piece.startswith(mark)):
        piece = (piece[:-len(mark)].rstrip() if front else piece[len(mark):].lstrip())
    if not piece.strip():
        raise BatchEditError("Type the text to add.")
    joins = {separator, mark} if mark else {separator}

    def add(caption: str) -> str:
        if not caption or caption == piece:
            return caption
        if front and any(caption.startswith(piece + j) for j in joins):
            return caption
        if not front and any(caption.endswith(j + piece) for j in joins):
            return caption
        return piece + separator + caption if front else caption + separator + piece

    return add


def normalise_whitespace(caption: str) -> str:
    """Runs of spaces, tabs and line breaks become one space; no space before a comma; none at
    either end."""
    return re.sub(r" ,", ",", " ".join(caption.split()))


COUNT_STEP = 500  # captions per step of count_steps


def count_steps(edit: BatchEdit, captions: Iterable[str]) -> Generator[None, None, MatchCount]:
    """What `edit` would do to `captions`, for the dialog's live count and its before/after
    preview (matches stay 0 for operations other than replace), as a generator of steps for a
    SlicedJob; BatchEditError as compile_edit, raised before the first step."""
    change = compile_edit(edit)
    pattern = find_pattern(edit.find, edit.regex, edit.case_sensitive) if edit.operation == "replace" else None

    def steps():
        matches = changed = 0
        examples: list[tuple[str, str]] = []
        rest = iter(captions)  # consumed as the steps go
        while chunk := list(islice(rest, COUNT_STEP)):
            for caption in chunk:
                if pattern is not None and caption:
                    matches += sum(1 for _ in pattern.finditer(caption))
                after = change(caption)
                if after != caption:
                    changed += 1
                    if len(examples) < PREVIEW_ROWS:
                        examples.append((caption, after))
            yield
        return MatchCount(matches, changed, tuple(examples))

    return steps()


def describe(edit: BatchEdit) -> str:
    """What the edit does, for its undo step ("Replace “dog” with “cat”")."""
    if edit.operation == "replace":
        return f"Replace “{edit.find}” with “{edit.text}”"
    if edit.operation in ("prefix", "suffix"):
        return f"Add {edit.operation} “{edit.text}”"
    if edit.operation == "keep_first":
        return "Keep only the first tag" if edit.count == 1 else f"Keep the first {edit.count:,} tags"
    return {"whitespace": "Tidy whitespace", "sort_tags": "Sort tags",
            "dedupe_tags": "Remove duplicate tags"}.get(edit.operation, edit.operation)
