"""An estimate of how many CLIP tokens a caption takes, for the side panel's counter. Plain Python.

CLIP (and the Stable Diffusion text encoders built on it) reads at most 77 tokens, two of them
the start and end markers, so 75 are left for the caption; training tools cut the rest. The
exact count needs CLIP's 49,408-entry vocabulary, which the app does not ship. The estimate
splits the text as CLIP's tokenizer does before its byte-pair step (lower case; words; every
digit alone; runs of punctuation; 's 't 're 've 'm 'll 'd) and counts one token per piece, and
one more per LONG_WORD letters beyond the first LONG_WORD of a long word. Common English words
are one token in CLIP, so for everyday captions the estimate is close; rare words, names and
made-up trigger words ("ohwx") are split into several tokens by CLIP, so there it runs low.
"""

from __future__ import annotations

import re

CLIP_TEXT_TOKENS = 75  # 77 less the start and end markers
LONG_WORD = 10
_PIECES = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.IGNORECASE)


def estimate_clip_tokens(text: str) -> int:
    """About how many CLIP tokens `text` takes, without the start and end markers."""
    count = 0
    for piece in _PIECES.findall(" ".join(text.lower().split())):
        count += 1 + (max(0, len(piece) - 1) // LONG_WORD if piece[0].isalpha() else 0)
    return count


def counter_text(text: str) -> tuple[str, bool]:
    """The side panel's line for `text`, and whether it is over CLIP's limit."""
    tokens = estimate_clip_tokens(text)
    over = tokens > CLIP_TEXT_TOKENS
    line = f"≈ {tokens} of {CLIP_TEXT_TOKENS} CLIP tokens · {len(text):,} characters"
    return (line + " (CLIP would cut the rest)" if over else line), over
