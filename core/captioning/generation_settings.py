"""Decoding settings, importable without torch (the app's GUI thread reads and validates them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

STRATEGIES = ("greedy", "sample", "beam")


@dataclass
class GenerationSettings:
    """How to turn an image into words. Defaults: greedy, up to 30 tokens.

    Checked when built (the CLI's arguments, the app's saved settings, from_dict), so the code
    that receives one does not check again."""

    strategy: str = "greedy"  # one of STRATEGIES
    max_new_tokens: int = 30
    min_new_tokens: int = 0
    # sampling
    temperature: float = 1.0
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # 1: no nucleus cut
    seed: int | None = None  # reproducible sampling
    # beam search
    num_beams: int = 4
    length_penalty: float = 1.0  # score = sum log p / length ** length_penalty
    early_stopping: bool = True  # stop an image once num_beams hypotheses have ended
    # any strategy
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError(f"min_new_tokens must be in [0, max_new_tokens], got {self.min_new_tokens}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 (off) or positive, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be at least 1, got {self.num_beams}")
        if self.no_repeat_ngram_size < 0:
            raise ValueError(f"no_repeat_ngram_size must be 0 (off) or positive, got {self.no_repeat_ngram_size}")
        if not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be positive, got {self.repetition_penalty}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GenerationSettings:
        """Build from a dict, ignoring unknown keys (settings saved by another version)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
