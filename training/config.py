"""The training config: what to train on, from what, how, and in which stages; plain JSON.

Stages are data: a list of `Stage(start_epoch, name, trainable)` where `trainable` holds glob
patterns over parameter names (`fnmatch`, so `*` also crosses dots). One loop walks the epochs
and switches stage when an epoch reaches the next stage's `start_epoch`.

A config comes from TrainConfig's defaults, then a JSON file (`--config`), then `--set
key=value` items, then flags; every value is checked against its field's type on the way
(training.config_types), so a wrong one is named with its key and file in one line.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.captioning.device import PRECISIONS
from training.config_types import ConfigError, check_fields, expected, from_text

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
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("onecycle", "cosine")
TRACKERS = ("wandb", "mlflow")
# Validation metrics a run can pick its best by; the first two fall, the others rise.
LOWER_IS_BETTER = ("val_loss", "val_ppl")
BEST_METRICS = (*LOWER_IS_BETTER, "val_bleu4", "val_exact_match")


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
    recipe: ViT-B/16 + GPT-2 small backbones, 5 epochs, batch 32, Adam, OneCycle to 1e-4.
    training.optim says what the optimiser and schedule choices do."""

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
    optimizer: str = "adam"  # adam (the original: L2 decay) | adamw (decoupled decay, matrices only)
    schedule: str = "onecycle"  # onecycle (the original) | cosine (linear warm-up, then cosine)
    lr: float = 1e-4  # the peak learning rate of either schedule
    div_factor: float = 25.0  # OneCycle starts at lr / div_factor
    final_div_factor: float = 1e4
    pct_start: float = 0.3  # OneCycle: share of the steps spent warming up
    warmup_steps: int = 0  # cosine: optimiser steps of linear warm-up
    min_lr_ratio: float = 0.0  # cosine: ends at lr * min_lr_ratio
    weight_decay: float = 0.0
    # Validate, pick the best and export an average of the weights (0: off; e.g. 0.999).
    ema_decay: float = 0.0
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
    patience: int = 0  # stop after this many epochs without a better best_metric (0: never)
    eval_every_steps: int = 0  # also validate every N optimiser steps inside an epoch (0: epoch ends only)
    # What "best" means (the bundle, patience, keep_best_checkpoint); val_loss orders as val_ppl.
    best_metric: str = "val_loss"
    keep_best_checkpoint: bool = False  # keep the best evaluation's checkpoint beside the newest few
    tracker: str | None = None  # also log to "wandb" or "mlflow" (training.loggers); None: off
    tracker_project: str = "visioncap"  # the W&B project or MLflow experiment

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
        for name in ("checkpoint_every_steps", "checkpoint_every_minutes", "patience", "eval_every_steps",
                     "warmup_steps", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        choices = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "best_metric": BEST_METRICS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.tracker is not None and self.tracker not in TRACKERS:
            raise ValueError(f"tracker must be one of {TRACKERS} or none, got {self.tracker!r}")
        if not 0.0 <= self.ema_decay < 1.0 or not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError("ema_decay must be in [0, 1) and min_lr_ratio in [0, 1]")
        if self.warmup_steps and self.schedule != "cosine":
            raise ValueError("warmup_steps is the cosine schedule's; OneCycle warms up over pct_start")
        if self.best_metric not in LOWER_IS_BETTER and not self.val_generate:
            raise ValueError(f"best_metric {self.best_metric} needs val_generate > 0 (captions to score)")
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
    def from_dict(cls, data: dict, source: str | None = None) -> TrainConfig:
        """Checked against the field types first; every error names the key (and `source`, the
        file it came from) in one line."""
        try:
            return cls(**check_fields(cls, data))
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}" if source else str(exc)) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str | None = None) -> TrainConfig:
        return cls.from_dict(read_json_object(text, source), source)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_json(Path(path).read_text(encoding="utf-8"), str(path))


def read_json_object(text: str, source: str | None = None) -> dict:
    """A JSON object; ConfigError naming `source`, the line and the column otherwise."""
    where = f"{source}: " if source else ""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}expected a JSON object of training settings, got {type(data).__name__}")
    return data


def parse_set(items: Sequence[str]) -> dict:
    """`--set` items, typed by TrainConfig's fields: ["lr=3e-4", "augment.hflip=off",
    "stages=all", "tracker=none"] -> {"lr": 0.0003, "augment": {"hflip": "off"}, ...}. Booleans
    take true/false/yes/no/on/off/1/0, optional fields none or null, stages a --stages spec,
    tuples comma-separated numbers, other lists and objects JSON."""
    hints = typing.get_type_hints(TrainConfig)
    augment_hints = typing.get_type_hints(AugmentConfig)
    values: dict = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set lr=3e-4")
        target, name, hint = values, key, hints.get(key)
        if key.startswith("augment."):
            target, name = values.setdefault("augment", {}), key.removeprefix("augment.")
            hint = augment_hints.get(name)
        if hint is None:
            raise ConfigError(f"--set {item}: unknown key {key!r}")
        if name in target:
            raise ConfigError(f"--set {item}: {key} is set twice")
        try:
            if key == "stages" and text.strip().lower() not in ("none", "null"):
                target[name] = [s.to_dict() for s in parse_stages(text)]
            else:
                target[name] = from_text(text, hint)
        except ValueError as exc:
            problem = str(exc) if key == "stages" else f"{key} expects {expected(hint)}"
            raise ConfigError(f"--set {item}: {problem}") from None
    return values
