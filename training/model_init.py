"""The model and tokenizer a run starts from: pretrained backbones, random weights, or a bundle.

Backbone weights come from local safetensors files or folders; a name that is not a local path
is fetched from the model hubs (timm / Hugging Face), whose libraries are imported only then.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from core.bundles.bundle import load_bundle
from core.bundles.weights import captioner_from_backbones, read_safetensors
from core.captioning.config import CaptionerConfig
from core.captioning.model import VisionGPT2
from core.captioning.tokenizer import CaptionTokenizer
from training.config import TrainConfig
from training.tokenizer_training import SPECIAL_TOKEN, train_caption_tokenizer

logger = logging.getLogger(__name__)

GPT2_HUB_FILES = ("model.safetensors", "tokenizer.json", "config.json")


class InitError(Exception):
    """The starting weights or tokenizer cannot be found or do not fit the model config."""


def _vit_state(source: str) -> dict[str, torch.Tensor]:
    if Path(source).exists():
        return read_safetensors(source)
    logger.info("ViT weights: %s is not a local path, asking timm's hub for it", source)
    try:
        import timm

        return timm.create_model(source, pretrained=True).state_dict()
    except Exception as exc:  # network, unknown name, missing file: all end the run the same way
        raise InitError(
            f"cannot get ViT weights {source!r} from the hub ({exc}); pass a local "
            "safetensors file or folder with --vit-weights"
        ) from exc


def _gpt2_folder(source: str) -> Path:
    path = Path(source)
    if path.exists():
        return path
    logger.info("GPT-2 weights: %s is not a local path, asking the Hugging Face hub for it", source)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, allow_patterns=list(GPT2_HUB_FILES)))
    except Exception as exc:  # network, unknown repository: all end the run the same way
        raise InitError(
            f"cannot get GPT-2 weights {source!r} from the hub ({exc}); pass a local folder "
            "holding model.safetensors and tokenizer.json with --gpt2-weights"
        ) from exc


def _load_tokenizer(path: Path) -> CaptionTokenizer:
    if not path.is_file():
        raise InitError(f"{path}: tokenizer file not found")
    return CaptionTokenizer.from_file(path)


def _check_tokenizer(tokenizer: CaptionTokenizer, cfg: CaptionerConfig, source: str) -> None:
    if tokenizer.vocab_size > cfg.vocab_size:
        raise InitError(f"{source}: {tokenizer.vocab_size} tokens do not fit the model's {cfg.vocab_size}")


def _read_model_config(path: str) -> CaptionerConfig:
    """The architecture in a model config file, without its `extra` notes: they explain the
    recipe (why these sizes), and the model's config is copied into every bundle it makes."""
    return dataclasses.replace(CaptionerConfig.load(path), extra={})


def from_backbones(cfg: TrainConfig) -> tuple[VisionGPT2, CaptionTokenizer, dict]:
    """Pretrained ViT + GPT-2; only the new cross-attention layers start random."""
    model_cfg = _read_model_config(cfg.model_config) if cfg.model_config else CaptionerConfig()
    gpt2 = _gpt2_folder(cfg.gpt2_weights)
    tokenizer_path = Path(cfg.tokenizer) if cfg.tokenizer else (gpt2 if gpt2.is_dir() else gpt2.parent) / "tokenizer.json"
    tokenizer = _load_tokenizer(tokenizer_path)
    _check_tokenizer(tokenizer, model_cfg, str(tokenizer_path))
    if tokenizer.token_id(SPECIAL_TOKEN) != model_cfg.eos_token_id:
        raise InitError(
            f"{tokenizer_path}: {SPECIAL_TOKEN} has id {tokenizer.token_id(SPECIAL_TOKEN)}, the model "
            f"config's EOS is {model_cfg.eos_token_id}"
        )
    model = captioner_from_backbones(
        model_cfg,
        _vit_state(cfg.vit_weights),
        read_safetensors(gpt2),
        vit_source=cfg.vit_weights,
        gpt2_source=str(gpt2),
    )
    provenance = {"init": "backbones", "vit_weights": cfg.vit_weights, "gpt2_weights": cfg.gpt2_weights}
    return model, tokenizer, provenance


def sincos_position_embedding(grid: int, width: int) -> torch.Tensor:
    """The fixed 2D sine-cosine patch position embedding of MAE: (grid * grid, width), patches
    in row-major order as PatchEmbed flattens them; half the channels encode the row, half the
    column, each as sines and cosines of geometrically spaced frequencies."""
    if width % 4:
        raise ValueError(f"a 2D sine-cosine embedding needs a width divisible by 4, got {width}")
    omega = 1.0 / 10000 ** (torch.arange(width // 4, dtype=torch.float64) / (width / 4))
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")

    def encode(position: torch.Tensor) -> torch.Tensor:
        angles = position.flatten()[:, None] * omega[None]  # (grid * grid, width / 4)
        return torch.cat((angles.sin(), angles.cos()), dim=1)

    return torch.cat((encode(rows), encode(cols)), dim=1).float()


def from_scratch(cfg: TrainConfig, captions: Sequence[str]) -> tuple[VisionGPT2, CaptionTokenizer, dict]:
    """Random weights of the config in `cfg.model_config`; the tokenizer is `cfg.tokenizer` or
    one trained on `captions`, and the config's vocabulary and special tokens follow it."""
    model_cfg = _read_model_config(cfg.model_config)
    if cfg.tokenizer:
        tokenizer = _load_tokenizer(Path(cfg.tokenizer))
    else:
        tokenizer = train_caption_tokenizer(captions, cfg.tokenizer_vocab_size)
        logger.info("trained a %d-token BPE tokenizer on %d captions", tokenizer.vocab_size, len(captions))
    special = tokenizer.token_id(SPECIAL_TOKEN)
    if special is None:
        raise InitError(f"the tokenizer has no {SPECIAL_TOKEN} token to use as BOS/EOS/padding")
    model_cfg = dataclasses.replace(
        model_cfg,
        vocab_size=tokenizer.vocab_size,
        bos_token_id=special,
        eos_token_id=special,
        pad_token_id=special,
    )
    model = VisionGPT2(model_cfg)
    if cfg.pos_embed_init == "sincos":
        # Patches know where they are from the first step, instead of learning it from noise:
        # captions that say "to the left of" or "above" depend on it.
        grid = model_cfg.image_size // model_cfg.patch_size
        with torch.no_grad():
            model.encoder.pos_embed[0, 1:] = cfg.pos_embed_scale * sincos_position_embedding(grid, model_cfg.vit_width)
    provenance = {"init": "scratch", "model_config": cfg.model_config, "pos_embed_init": cfg.pos_embed_init}
    return model, tokenizer, provenance


def from_bundle(cfg: TrainConfig) -> tuple[VisionGPT2, CaptionTokenizer, dict]:
    """Fine-tune an existing bundle: its weights, config and tokenizer."""
    bundle = load_bundle(cfg.init_bundle)
    provenance = {"init": "bundle", "init_bundle": cfg.init_bundle, "init_bundle_name": bundle.manifest.name}
    return bundle.model.train(), bundle.tokenizer, provenance


def initial_model(cfg: TrainConfig, captions: Sequence[str]) -> tuple[VisionGPT2, CaptionTokenizer, dict]:
    """(model in train mode, tokenizer, provenance notes) for `cfg.init`."""
    if cfg.init == "backbones":
        model, tokenizer, provenance = from_backbones(cfg)
    elif cfg.init == "scratch":
        model, tokenizer, provenance = from_scratch(cfg, captions)
    else:
        model, tokenizer, provenance = from_bundle(cfg)
    logger.info("model: %s parameters (%s)", f"{model.num_parameters():,}", provenance["init"])
    return model.train(), tokenizer, provenance
