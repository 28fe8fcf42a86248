"""Words for counts in what the app says: "1 image", "3 images", "1,000 captions". Plain Python.

English only needs a plural form per noun; the irregular ones the app uses are in PLURALS.
"""

from __future__ import annotations

PLURALS = {"match": "matches", "was": "were", "has": "have", "is": "are", "this": "these",
           "metadata.jsonl": "metadata.jsonl files", "photo with an embedded caption": "photos with embedded captions"}


def plural_of(word: str) -> str:
    """The plural of `word`: PLURALS, else the last word with an "s" (a phrase keeps its start)."""
    return PLURALS.get(word, word + "s")


def plural(count: int, word: str, many: str | None = None) -> str:
    """`count` with `word` (or `many` when it is not 1): plural(1, "image") == "1 image",
    plural(2_000, "image") == "2,000 images"."""
    return f"{count:,} {word if count == 1 else many or plural_of(word)}"


def verb(count: int, singular: str) -> str:
    """The verb agreeing with `count`: verb(1, "has") == "has", verb(3, "has") == "have",
    verb(3, "holds") == "hold"; "will" and "cannot" stay as they are."""
    if count == 1:
        return singular
    return PLURALS.get(singular) or (singular[:-1] if singular.endswith("s") else singular)
