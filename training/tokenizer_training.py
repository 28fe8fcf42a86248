"""A byte-level BPE tokenizer trained on the training captions, for models trained from scratch.

Byte-level like GPT-2's (any text encodes, nothing is unknown), with one special token,
<|endoftext|>, at id 0, which serves as BOS, EOS and padding as in GPT-2.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from core.captioning.tokenizer import CaptionTokenizer

SPECIAL_TOKEN = "<|endoftext|>"


def train_caption_tokenizer(captions: Sequence[str], vocab_size: int = 512) -> CaptionTokenizer:
    """Train on `captions`. The vocabulary stops short of `vocab_size` once every word of the
    captions is one token, so a small caption set gives a small vocabulary."""
    if vocab_size < 258:
        raise ValueError(f"vocab_size must hold the 256 bytes and the special token, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[SPECIAL_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(captions, trainer)
    return CaptionTokenizer(tokenizer)
