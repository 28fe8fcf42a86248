"""Tiny models, tokenizers and bundles built inside tests: no downloads, milliseconds to make."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from core.bundles.bundle import save_bundle
from core.captioning.config import CaptionerConfig
from core.captioning.model import VisionGPT2
from core.captioning.tokenizer import CaptionTokenizer

CAPTIONS = [
    "a large red circle to the left of a small blue square",
    "a small green triangle above a large yellow circle",
    "a dog runs on the beach",
    "two people riding bikes down a street",
    "a plate of food with broccoli and rice",
    "Ünïcödé café, \"quoted\" text; commas, and = signs",
]


def train_tokenizer(texts: list[str] | None = None, vocab_size: int = 300) -> Tokenizer:
    """A byte-level BPE like GPT-2's, with <|endoftext|> as token 0."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts or CAPTIONS * 4, trainer)
    return tokenizer


def tiny_config(**overrides) -> CaptionerConfig:
    values = dict(
        image_size=32, patch_size=8, vit_width=32, vit_depth=2, vit_heads=2,
        vocab_size=320, context_length=64, gpt_width=32, gpt_depth=2, gpt_heads=2,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )
    values.update(overrides)
    return CaptionerConfig(**values)


def tiny_model(seed: int = 0, spread: float = 0.0, eos_boost: float = 1.0, **overrides) -> VisionGPT2:
    """A random tiny model in eval mode. `spread` > 0 redraws every weight with that std so
    greedy decoding wanders through the vocabulary instead of ending at once; `eos_boost`
    scales the EOS embedding (the tied LM head) so that rows end after varying lengths."""
    torch.manual_seed(seed)
    model = VisionGPT2(tiny_config(**overrides)).eval()
    with torch.no_grad():
        if spread:
            for p in model.parameters():
                p.normal_(0.0, spread)
        model.decoder.wte.weight[model.config.eos_token_id] *= eos_boost
    return model


def make_tiny_bundle(path: Path, seed: int = 0, spread: float = 0.3, **overrides) -> Path:
    model = tiny_model(seed, spread, **overrides)
    tokenizer = CaptionTokenizer(train_tokenizer())
    return save_bundle(path, model, tokenizer, name="tiny-test", description="random weights", licence="MIT",
                       provenance={"source": "tests/tiny.py", "seed": seed})
