"""Tags: captions written as comma-separated lists ("red car, street, night").

Plain functions, no Qt. A caption without commas is one tag, so sentence captions pass through
every function unchanged unless the whole sentence is the tag being renamed or deleted. A
caption is rewritten only when it holds the tag concerned; then its tags are joined with ", ".

The tag panel lists only tags of at most MAX_TAG_WORDS words: a sentence caption ("a dog runs
on the beach") is counted as "not a tag list" instead of filling the panel with one entry per
image (see `tag_counts`).
"""

from __future__ import annotations

import heapq
import unicodedata
from collections import Counter
from collections.abc import Iterable
from operator import itemgetter

SEPARATOR = ","
MAX_TAG_WORDS = 5  # a part with more words is a sentence, not a tag


def split_tags(caption: str) -> list[str]:
    """The caption's tags in order: its comma-separated parts, stripped, empty ones dropped."""
    return [part for part in (p.strip() for p in caption.split(SEPARATOR)) if part]


def join_tags(tags: Iterable[str]) -> str:
    return f"{SEPARATOR} ".join(tags)


def is_tag(part: str, max_words: int = MAX_TAG_WORDS) -> bool:
    return 0 < len(part.split()) <= max_words


def tag_counts(captions: Iterable[str], max_words: int = MAX_TAG_WORDS) -> tuple[Counter[str], int]:
    """(tag -> number of captions holding it, number of non-empty captions with no tag of at
    most `max_words` words: sentences). A tag twice in one caption counts once."""
    counts: Counter[str] = Counter()
    sentences = 0
    for caption in captions:
        if not caption:
            continue
        tags = {t for t in split_tags(caption) if is_tag(t, max_words)}
        if tags:
            counts.update(tags)
        elif caption.strip():
            sentences += 1
    return counts, sentences


MAX_KNOWN_TAGS = 5000  # offered for completion; a folder of unique tags (an id per image) has 100,000


def known_tags(counts: Counter[str], limit: int = MAX_KNOWN_TAGS) -> list[str]:
    """Tags for autocompletion: the `limit` most used, the most used first, then alphabetical."""
    top = heapq.nlargest(limit, counts.items(), key=itemgetter(1)) if len(counts) > limit else counts.items()
    return [tag for tag, _ in sorted(top, key=lambda item: (-item[1], item[0].casefold()))]


def _dedupe(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def rename_tag(caption: str, old: str, new: str) -> str:
    """`old` replaced by `new` (its place kept; a `new` already present is not repeated; an
    empty `new` deletes). The caption unchanged when it does not hold `old`."""
    old, new = old.strip(), new.strip()
    tags = split_tags(caption)
    if old not in tags:
        return caption
    return join_tags(_dedupe(new if t == old else t for t in tags if new or t != old))


def delete_tag(caption: str, tag: str) -> str:
    return rename_tag(caption, tag, "")


def add_tags(caption: str, new: Iterable[str]) -> str:
    """`new` tags the caption does not hold yet, added at its end (in their order, each once);
    the caption unchanged, spacing and all, when it holds them all. A part holding a comma
    cannot be a tag and is left out."""
    held = set(split_tags(caption))
    missing = list(dict.fromkeys(t.strip() for t in new if t.strip() and SEPARATOR not in t and t.strip() not in held))
    if not missing:
        return caption
    return join_tags([*split_tags(caption), *missing])


def move_tag_to_front(caption: str, tag: str) -> str:
    """`tag` first, the others in their order; unchanged when the caption does not hold it."""
    tag = tag.strip()
    tags = split_tags(caption)
    if tag not in tags or tags[0] == tag:
        return caption
    return join_tags(_dedupe([tag, *(t for t in tags if t != tag)]))


def alphabetical_key(text: str) -> tuple[str, str]:
    """Sort key that ignores case and accents (é with e, Ä with a), then the text itself."""
    letters = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return letters.casefold(), text


def sort_tags(caption: str) -> str:
    """Tags in alphabetical order (ignoring case and accents), duplicates dropped; a caption of
    one tag is returned unchanged (a sentence stays as written)."""
    tags = split_tags(caption)
    if len(tags) < 2:
        return caption
    ordered = join_tags(_dedupe(sorted(tags, key=alphabetical_key)))
    return ordered if ordered != join_tags(tags) else caption


def dedupe_tags(caption: str) -> str:
    """Each tag once, at its first place; tags that differ only in letter case are one tag (the
    first spelling stays). A caption without repeated tags is returned unchanged."""
    tags = split_tags(caption)
    first: dict[str, str] = {}
    for tag in tags:
        first.setdefault(tag.casefold(), tag)
    return join_tags(first.values()) if len(first) < len(tags) else caption


def keep_first_tags(caption: str, count: int) -> str:
    """The first `count` tags; a caption with no more than that is returned unchanged."""
    tags = split_tags(caption)
    return join_tags(tags[:count]) if len(tags) > count else caption
