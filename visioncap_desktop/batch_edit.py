"""Batch edits of captions: find and replace, prefix or suffix, whitespace, tag operations.

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
from dataclasses import dataclass
from itertools import islice

from visioncap_desktop import tags

OPERATIONS = ("replace", "prefix", "suffix", "whitespace", "sort_tags")
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


@dataclass(frozen=True)
class MatchCount:
    matches: int  # matches of the find pattern, empty ones included (what a replace replaces)
    captions: int  # captions the edit changes


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
    if edit.operation == "prefix":
        return _adder(edit.text, front=True)
    if edit.operation == "suffix":
        return _adder(edit.text, front=False)
    if edit.operation == "whitespace":
        return normalise_whitespace
    if edit.operation == "sort_tags":
        return tags.sort_tags
    raise BatchEditError(f"Unknown batch operation {edit.operation!r}.")


def _check_template(pattern: re.Pattern[str], replacement: str) -> None:
    """Expand `replacement` against a match with every group of `pattern` empty: raises for
    references to groups the pattern does not have."""
    probe = re.compile("()" * pattern.groups).match("")
    for name, number in pattern.groupindex.items():
        replacement = replacement.replace(f"\\g<{name}>", f"\\g<{number}>")
    probe.expand(replacement)


def _adder(text: str, front: bool) -> Callable[[str], str]:
    if not text:
        raise BatchEditError("Type the text to add.")

    def add(caption: str) -> str:
        if not caption or (caption.startswith(text) if front else caption.endswith(text)):
            return caption  # added once: running the same batch twice changes nothing
        return text + caption if front else caption + text

    return add


def normalise_whitespace(caption: str) -> str:
    """Runs of spaces, tabs and line breaks become one space; no space before a comma; none at
    either end."""
    return re.sub(r" ,", ",", " ".join(caption.split()))


COUNT_STEP = 500  # captions per step of count_steps


def count_steps(edit: BatchEdit, captions: Iterable[str]) -> Generator[None, None, MatchCount]:
    """What `edit` would do to `captions`, for the dialog's live count (matches stay 0 for
    operations other than replace), as a generator of steps for a SlicedJob; BatchEditError
    as compile_edit, raised before the first step."""
    change = compile_edit(edit)
    pattern = find_pattern(edit.find, edit.regex, edit.case_sensitive) if edit.operation == "replace" else None

    def steps():
        matches = changed = 0
        rest = iter(captions)  # consumed as the steps go
        while chunk := list(islice(rest, COUNT_STEP)):
            for caption in chunk:
                if pattern is not None and caption:
                    matches += sum(1 for _ in pattern.finditer(caption))
                if change(caption) != caption:
                    changed += 1
            yield
        return MatchCount(matches, changed)

    return steps()


def count_matches(edit: BatchEdit, captions: Iterable[str]) -> MatchCount:
    """count_steps run to the end."""
    steps = count_steps(edit, captions)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def describe(edit: BatchEdit) -> str:
    """What the edit does, for its undo step ("Replace “dog” with “cat”")."""
    if edit.operation == "replace":
        return f"Replace “{edit.find}” with “{edit.text}”"
    if edit.operation in ("prefix", "suffix"):
        return f"Add {edit.operation} “{edit.text}”"
    return {"whitespace": "Tidy whitespace", "sort_tags": "Sort tags"}.get(edit.operation, edit.operation)
