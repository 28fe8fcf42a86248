"""Captions to token ids and back, with the `tokenizers` library alone (no transformers import)."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer


class CaptionTokenizer:
    """A byte-level BPE tokenizer as saved in `tokenizer.json`.

    Special tokens (BOS/EOS/pad) are the model config's business: `encode` adds none and
    `decode` drops any it meets.
    """

    def __init__(self, tokenizer: Tokenizer):
        self.backend = tokenizer

    @classmethod
    def from_file(cls, path: str | Path) -> CaptionTokenizer:
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self.backend.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def token_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return self.backend.decode(ids, skip_special_tokens=True).strip()

    def decode_batch(self, batch: list[list[int]]) -> list[str]:
        return [text.strip() for text in self.backend.decode_batch(batch, skip_special_tokens=True)]
