"""The training config: what to train on, from what, how, and in which stages; plain JSON.

Stages are data: a list of `Stage(start_epoch, name, trainable)` where `trainable` holds glob
patterns over parameter names (`fnmatch`, so `*` also crosses dots). One loop walks the epochs
and switches stage when an epoch reaches the next stage's `start_epoch`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from core.device import PRECISIONS

# The VisionGPT2 schedule for pretrained backbones, with the original's omission fixed: the
# GPT-2 stage also trains the token/position embeddings and the final norm (`decoder.*`).
CROSS_ATTENTION_PATTERNS = ("decoder.h.*.cross_attn.*", "decoder.h.*.ln_cross.*")
STAGE_PRESETS: dict[str, tuple[tuple[int, str, tuple[str, ...]], ...]] = {
    "backbones": (
        (0, "cross-attention", CROSS_ATTENTION_PATTERNS),
        (1, "gpt2", ("decoder.*",)),
        (2, "all", ("*",)),
    ),
    # From scratch (or fine-tuning a bundle) nothing is pretrained-and-fragile: train it all.
    "all": ((0, "all", ("*",)),),
}
HFLIP_MODES = ("auto", "on", "off")
INIT_KINDS = ("backbones", "scratch", "bundle")
POS_EMBED_INITS = ("random", "sincos")
ATTENTION_BACKENDS = ("auto", "math", "flash", "efficient", "cudnn")


@dataclass
class Stage:
    """From epoch `start_epoch` on, exactly the parameters matching a `trainable` glob train."""

    start_epoch: int
    name: str
    trainable: list[str]

    def to_dict(self) -> dict:
        return {"start_epoch": self.start_epoch, "name": self.name, "trainable": list(self.trainable)}


def stage_preset(name: str) -> list[Stage]:
    if name not in STAGE_PRESETS:
        raise ValueError(f"unknown stage preset {name!r}; expected one of {', '.join(STAGE_PRESETS)}")
    return [Stage(start, stage_name, list(patterns)) for start, stage_name, patterns in STAGE_PRESETS[name]]


def parse_stages(text: str) -> list[Stage]:
    """A preset name, or "START:NAME:GLOB,GLOB;START:NAME:GLOB" (e.g. "0:heads:decoder.*;3:all:*")."""
    if text in STAGE_PRESETS:
        return stage_preset(text)
    stages = []
    for part in text.split(";"):
        pieces = part.strip().split(":")
        if len(pieces) != 3 or not pieces[0].strip().isdigit() or not pieces[2].strip():
            raise ValueError(
                f"stage {part!r} is not START:NAME:GLOB[,GLOB...]; presets are {', '.join(STAGE_PRESETS)}"
            )
        start, name, globs = pieces
        stages.append(Stage(int(start), name.strip(), [g.strip() for g in globs.split(",") if g.strip()]))
    return stages


@dataclass
class AugmentConfig:
    """Training-image augmentations after the inference resize (as the original's albumentations
    list); a probability of 0 switches one off. Validation never augments."""

    enabled: bool = True
    # "auto": flip unless a training caption says left or right (a flip would make it false)
    hflip: str = "auto"
    hflip_p: float = 0.5
    brightness_contrast_p: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.2
    color_jitter_p: float = 0.5  # brightness, contrast, saturation and hue together
    color_jitter: tuple[float, float, float, float] = (0.2, 0.2, 0.2, 0.1)
    shift_scale_rotate_p: float = 0.3
    shift: float = 0.1  # fraction of the image size
    scale: float = 0.2  # zoom in [1 - scale, 1 + scale]
    rotate: float = 45.0  # degrees
    hue_saturation_p: float = 0.3
    hue: float = 0.06  # albumentations' 20 of 180 degrees is about 0.055 of a turn
    saturation: float = 0.3

    def __post_init__(self) -> None:
        self.color_jitter = tuple(float(v) for v in self.color_jitter)
        if self.hflip not in HFLIP_MODES:
            raise ValueError(f"hflip must be one of {HFLIP_MODES}, got {self.hflip!r}")


@dataclass
class TrainConfig:
    """Everything a training run needs besides the files it reads. Defaults are the VisionGPT2
    recipe: ViT-B/16 + GPT-2 small backbones, 5 epochs, batch 32, Adam, OneCycle to 1e-4."""

    # --- data ---
    kind: str = "auto"  # auto | coco | flickr30k | flickr8k | csv (training.annotations.read_captions)
    train: str = ""  # annotation file or dataset folder
    images_dir: str | None = None  # where the annotation's image names point; None: from the layout
    split: str = "train"  # COCO: which captions_{split}2017.json under a COCO root
    val: str | None = None  # a separate validation annotation file; None: split off `train`
    val_split: str = "val"
    val_images_dir: str | None = None
    val_fraction: float = 0.05  # of the training images, when `val` is None
    fraction: float = 1.0  # subset of training images (the original used about 25% of COCO)
    limit: int | None = None  # at most this many training captions
    val_limit: int | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    # --- model ---
    init: str = "backbones"  # backbones | scratch | bundle
    vit_weights: str = "vit_base_patch16_224"  # safetensors file/folder, or a timm model name
    gpt2_weights: str = "gpt2"  # folder with model.safetensors + tokenizer.json, or a hub id
    model_config: str | None = None  # CaptionerConfig JSON; None: the default ViT-B/16 + GPT-2
    init_bundle: str | None = None
    tokenizer: str | None = None  # tokenizer.json; None: GPT-2's, or trained on the captions
    tokenizer_vocab_size: int = 512  # for a tokenizer trained on the captions
    # From scratch: the ViT patch position embeddings start "random" (the model's own init) or
    # as MAE's 2D "sincos" embedding times pos_embed_scale (they train either way).
    pos_embed_init: str = "random"
    pos_embed_scale: float = 1.0

    # --- optimisation ---
    stages: list[Stage] | None = None  # None: "backbones" preset for backbones, else "all"
    epochs: int = 5
    batch_size: int = 32  # per optimiser step, over all processes and accumulation steps
    grad_accum: int = 1
    lr: float = 1e-4  # OneCycle's peak
    div_factor: float = 25.0  # OneCycle starts at lr / div_factor
    final_div_factor: float = 1e4
    pct_start: float = 0.3  # share of the steps spent warming up
    weight_decay: float = 0.0
    clip_grad: float = 1.0  # max global grad norm; 0: no clipping
    label_smoothing: float = 0.0
    precision: str = "auto"  # auto | fp32 | fp16 | bf16
    # scaled_dot_product_attention backend: auto (PyTorch chooses) | math | flash | efficient |
    # cudnn. "math" is much faster to train on CPUs for short sequences (training.runtime).
    attention: str = "auto"

    # --- runtime ---
    seed: int = 0
    device: str = "auto"
    workers: int = 2
    threads: int = 0  # torch CPU threads; 0: torch's default
    val_generate: int = 0  # greedy-caption this many validation images per epoch for BLEU/exact match
    max_new_tokens: int = 40
    keep_checkpoints: int = 2
    # Step checkpoints inside an epoch, besides the one at each epoch's end (0: off). Minutes
    # bound what a kill loses in wall time: one COCO epoch on a GPU takes hours.
    checkpoint_every_steps: int = 0
    checkpoint_every_minutes: float = 15.0
    log_every: int = 10  # optimiser steps per row of steps.csv / TensorBoard (each reads the loss)
    tensorboard: bool = True  # when the tensorboard package is installed
    plot: bool = True  # redraw OUT/metrics.png after every epoch (matplotlib, about a second)
    patience: int = 0  # stop after this many epochs without a better val perplexity (0: never)

    # --- export ---
    out: str = "runs/train"
    export_bundle: str | None = None  # also copy the best bundle here (e.g. core/assets/demo)
    bundle_name: str = "visiongpt2"
    bundle_description: str = ""
    bundle_licence: str = "unknown"
    bundle_dtype: str = "float32"  # float16 halves the bundle (the demo bundle uses it)

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)
        if self.stages is not None:
            self.stages = [s if isinstance(s, Stage) else Stage(**s) for s in self.stages]
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.init not in INIT_KINDS:
            raise ValueError(f"init must be one of {INIT_KINDS}, got {self.init!r}")
        if self.attention not in ATTENTION_BACKENDS:
            raise ValueError(f"attention must be one of {ATTENTION_BACKENDS}, got {self.attention!r}")
        if self.pos_embed_init not in POS_EMBED_INITS:
            raise ValueError(f"pos_embed_init must be one of {POS_EMBED_INITS}, got {self.pos_embed_init!r}")
        if self.init == "bundle" and not self.init_bundle:
            raise ValueError("init 'bundle' needs init_bundle")
        if self.init == "scratch" and not self.model_config:
            raise ValueError("init 'scratch' needs model_config (a CaptionerConfig JSON)")
        if self.checkpoint_every_steps < 0 or self.checkpoint_every_minutes < 0 or self.patience < 0:
            raise ValueError("checkpoint_every_steps, checkpoint_every_minutes and patience must be >= 0")
        if self.log_every < 1:
            raise ValueError(f"log_every must be at least 1, got {self.log_every}")
        if self.epochs < 1 or self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("epochs, batch_size and grad_accum must be at least 1")
        if self.stages is not None:
            if not self.stages or self.stages[0].start_epoch != 0:
                raise ValueError("the first stage must start at epoch 0")
            starts = [s.start_epoch for s in self.stages]
            if starts != sorted(set(starts)):
                raise ValueError(f"stage start epochs must increase, got {starts}")

    def resolved_stages(self) -> list[Stage]:
        if self.stages is not None:
            return self.stages
        return stage_preset("backbones" if self.init == "backbones" else "all")

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["augment"]["color_jitter"] = list(self.augment.color_jitter)
        data["stages"] = None if self.stages is None else [s.to_dict() for s in self.stages]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training config keys: {', '.join(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
