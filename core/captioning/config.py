"""The one architecture config of the VisionGPT2 captioner, saved as plain JSON in every bundle."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

CROSS_ATTENTION_MODES = ("per_layer", "final")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "lanczos")


@dataclass
class CaptionerConfig:
    """Everything needed to rebuild the model (and its preprocessing) from a file alone.

    Defaults are ViT-B/16 at 224 px + GPT-2 small, the VisionGPT2 design.
    """

    # --- image encoder (timm ViT) ---
    image_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    vit_width: int = 768
    vit_depth: int = 12
    vit_heads: int = 12
    vit_mlp_ratio: float = 4.0
    vit_ln_eps: float = 1e-6  # timm's ViT; HF's ViTModel uses 1e-12
    vit_qkv_bias: bool = True
    vit_dropout: float = 0.0  # timm's proj/attn/pos dropout; 0 as in vit_base_patch16_224

    # --- text decoder (GPT-2) ---
    vocab_size: int = 50257
    context_length: int = 1024  # GPT-2's n_positions: longest caption incl. BOS
    gpt_width: int = 768
    gpt_depth: int = 12
    gpt_heads: int = 12
    gpt_ln_eps: float = 1e-5
    embd_dropout: float = 0.1  # GPT-2's embd_pdrop
    attn_dropout: float = 0.1  # GPT-2's attn_pdrop
    resid_dropout: float = 0.1  # GPT-2's resid_pdrop

    # "per_layer": decoder block i cross-attends to the output of ViT block i (VisionGPT2).
    # "final": every decoder block cross-attends to the final, layer-normed encoder output
    # (HF VisionEncoderDecoderModel).
    cross_attention: str = "per_layer"

    # --- special tokens (GPT-2 has one token, <|endoftext|>, for all three) ---
    bos_token_id: int = 50256
    eos_token_id: int = 50256
    pad_token_id: int = 50256

    # --- preprocessing: square resize, then (x/255 - mean) / std ---
    image_mean: tuple[float, ...] = (0.5, 0.5, 0.5)  # one value per input channel
    image_std: tuple[float, ...] = (0.5, 0.5, 0.5)
    resize_interpolation: str = "bilinear"  # as the original and HF's ViTImageProcessor

    extra: dict = field(default_factory=dict)  # free-form notes; ignored by the model

    def __post_init__(self) -> None:
        self.image_mean = tuple(float(v) for v in self.image_mean)
        self.image_std = tuple(float(v) for v in self.image_std)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent field."""
        problems = []
        if self.cross_attention not in CROSS_ATTENTION_MODES:
            problems.append(
                f"cross_attention must be one of {CROSS_ATTENTION_MODES}, got {self.cross_attention!r}"
            )
        if self.cross_attention == "per_layer" and self.vit_depth != self.gpt_depth:
            problems.append(
                f"per_layer cross-attention needs vit_depth == gpt_depth, got {self.vit_depth} and {self.gpt_depth}"
            )
        if self.image_size % self.patch_size:
            problems.append(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.vit_width % self.vit_heads:
            problems.append(f"vit_width {self.vit_width} is not divisible by vit_heads {self.vit_heads}")
        if self.gpt_width % self.gpt_heads:
            problems.append(f"gpt_width {self.gpt_width} is not divisible by gpt_heads {self.gpt_heads}")
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            token = getattr(self, name)
            if not 0 <= token < self.vocab_size:
                problems.append(f"{name} {token} is outside the vocabulary of {self.vocab_size}")
        if self.resize_interpolation not in INTERPOLATIONS:
            problems.append(
                f"resize_interpolation must be one of {INTERPOLATIONS}, got {self.resize_interpolation!r}"
            )
        if len(self.image_mean) != self.in_chans or len(self.image_std) != self.in_chans:
            problems.append("image_mean and image_std need one value per input channel")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["image_mean"] = list(self.image_mean)
        data["image_std"] = list(self.image_std)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CaptionerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CaptionerConfig:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> CaptionerConfig:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
