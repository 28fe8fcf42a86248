"""Key maps from public checkpoints into VisionGPT2's parameter names.

Pure functions over state dicts: explicit key lists, a shape check per key, a named list of the
GPT-2 Conv1D weights that are transposed, and exact key-set checks. Keys a source has and we
deliberately drop (classifier heads, poolers, attention-mask buffers) are listed by name; the
new cross-attention layers a backbone import leaves to initialisation are listed by name too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import torch

from core.captioning.config import CaptionerConfig
from core.captioning.model import VisionGPT2
from core.errors import ImportFormatError

# GPT-2 stores these as Conv1D (in, out); nn.Linear wants (out, in).
GPT2_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
GPT2_BLOCK_KEYS = (
    "ln_1.weight", "ln_1.bias",
    "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
    "ln_2.weight", "ln_2.bias",
    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
)
# Causal-mask buffers that older transformers versions saved with the weights.
GPT2_IGNORED = re.compile(r"(^|\.)h\.\d+\.(attn|crossattention)\.(bias|masked_bias)$")

TIMM_VIT_BLOCK_KEYS = (
    "norm1.weight", "norm1.bias",
    "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
    "norm2.weight", "norm2.bias",
    "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
)
TIMM_VIT_IGNORED = ("head.weight", "head.bias", "fc_norm.weight", "fc_norm.bias")

# What a backbone import leaves to initialisation, per decoder block.
NEW_CROSS_ATTENTION_KEYS = (
    "ln_cross.weight", "ln_cross.bias",
    "cross_attn.q_proj.weight", "cross_attn.q_proj.bias",
    "cross_attn.kv_proj.weight", "cross_attn.kv_proj.bias",
    "cross_attn.c_proj.weight", "cross_attn.c_proj.bias",
)


class KeyMapper:
    """Collects target tensors, checking each against the model's expected shape."""

    def __init__(self, expected: Mapping[str, torch.Size], source: str):
        self.expected = expected
        self.source = source
        self.out: dict[str, torch.Tensor] = {}

    def put(self, key: str, tensor: torch.Tensor) -> None:
        if key not in self.expected:
            raise ImportFormatError(f"{self.source}: no parameter {key} in a model of this config")
        if tuple(tensor.shape) != tuple(self.expected[key]):
            raise ImportFormatError(
                f"{self.source}: {key} has shape {list(tensor.shape)}, the config implies {list(self.expected[key])}"
            )
        self.out[key] = tensor.detach().to(torch.float32).contiguous()


def take(state: Mapping[str, torch.Tensor], key: str, *, used: set[str], source: str, shown: str = "") -> torch.Tensor:
    """state[key], recorded in `used` for `check_all_used`. A missing key is an error naming
    `source` and the key (after `shown`, the part of the checkpoint the state came from).
    Mapping functions bind it once: `get = partial(take, state, used=used, source=...)`."""
    if key not in state:
        raise ImportFormatError(f"{source}: missing tensor {shown}{key}")
    used.add(key)
    return state[key]


def check_all_used(state: Mapping[str, torch.Tensor], used: set[str], ignored, source: str) -> None:
    """Every source key must be mapped or deliberately ignored: nothing is silently dropped."""
    leftover = sorted(
        k for k in state
        if k not in used and not (ignored(k) if callable(ignored) else k in ignored)
    )
    if leftover:
        raise ImportFormatError(f"{source}: unexpected tensors {leftover[:8]}{' ...' if len(leftover) > 8 else ''}")


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def map_gpt2(
    state: Mapping[str, torch.Tensor],
    cfg: CaptionerConfig,
    mapper: KeyMapper,
    used: set[str],
) -> None:
    """GPT-2 (GPT2Model or GPT2LMHeadModel keys, `transformer.` prefix optional) -> decoder.*"""
    prefix = "transformer." if any(k.startswith("transformer.") for k in state) else ""
    get = partial(take, state, used=used, source=mapper.source)
    for name in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"):
        mapper.put(f"decoder.{name}", get(prefix + name))
    for i in range(cfg.gpt_depth):
        for name in GPT2_BLOCK_KEYS:
            tensor = get(f"{prefix}h.{i}.{name}")
            mapper.put(f"decoder.h.{i}.{name}", tensor.t() if name in GPT2_CONV1D else tensor)
    if "lm_head.weight" in state:
        used.add("lm_head.weight")
        if not torch.equal(state["lm_head.weight"], state[prefix + "wte.weight"]):
            raise ImportFormatError(
                f"{mapper.source}: lm_head.weight differs from the token embedding; "
                "VisionCap's decoder ties them as GPT-2 does"
            )


def map_timm_vit(
    state: Mapping[str, torch.Tensor],
    cfg: CaptionerConfig,
    mapper: KeyMapper,
    used: set[str],
) -> None:
    """timm VisionTransformer keys -> encoder.* (the names are timm's; only the prefix changes)."""
    get = partial(take, state, used=used, source=mapper.source)
    for name in ("cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"):
        mapper.put(f"encoder.{name}", get(name))
    for i in range(cfg.vit_depth):
        for name in TIMM_VIT_BLOCK_KEYS:
            mapper.put(f"encoder.blocks.{i}.{name}", get(f"blocks.{i}.{name}"))
    if cfg.cross_attention == "final":
        for name in ("norm.weight", "norm.bias"):
            mapper.put(f"encoder.{name}", get(name))
    else:  # per_layer attends to raw block outputs: the final norm has no use
        used.update({"norm.weight", "norm.bias"} & set(state))


def captioner_from_backbones(
    cfg: CaptionerConfig,
    vit_state: Mapping[str, torch.Tensor],
    gpt2_state: Mapping[str, torch.Tensor],
    vit_source: str = "ViT weights",
    gpt2_source: str = "GPT-2 weights",
) -> VisionGPT2:
    """A fresh captioner with pretrained ViT and GPT-2 weights; only the new cross-attention
    layers (NEW_CROSS_ATTENTION_KEYS in every block) keep their random initialisation."""
    model = VisionGPT2(cfg)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    vit_map, vit_used = KeyMapper(expected, vit_source), set[str]()
    map_timm_vit(vit_state, cfg, vit_map, vit_used)
    check_all_used(vit_state, vit_used, TIMM_VIT_IGNORED, vit_source)
    gpt_map, gpt_used = KeyMapper(expected, gpt2_source), set[str]()
    map_gpt2(gpt2_state, cfg, gpt_map, gpt_used)
    check_all_used(gpt2_state, gpt_used, GPT2_IGNORED.search, gpt2_source)

    loaded = {**vit_map.out, **gpt_map.out}
    new = {f"decoder.h.{i}.{name}" for i in range(cfg.gpt_depth) for name in NEW_CROSS_ATTENTION_KEYS}
    not_loaded = set(expected) - set(loaded)
    if not_loaded != new:
        raise ImportFormatError(
            f"backbone import left unexpected parameters unset: {sorted(not_loaded - new)[:8]}"
        )
    current = model.state_dict()
    current.update(loaded)
    model.load_state_dict(current, strict=True)
    return model


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a .safetensors file, or every shard of a folder's model.safetensors(.index.json)."""
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        single = path / "model.safetensors"
        shards = sorted(path.glob("model-*-of-*.safetensors"))
        files = [single] if single.is_file() else shards
        if not files:
            pickled = [p.name for p in path.glob("*.bin")] + [p.name for p in path.glob("*.pth")]
            hint = (
                f" (it has {', '.join(pickled)}: pickle files, which VisionCap never loads because "
                "unpickling runs code; convert them to safetensors first)"
                if pickled else ""
            )
            raise ImportFormatError(f"{path}: no model.safetensors{hint}")
    else:
        files = [path]
    state: dict[str, torch.Tensor] = {}
    for file in files:
        try:
            state.update(load_file(str(file)))
        except Exception as exc:  # safetensors raises its own error type; report the file
            raise ImportFormatError(f"{file}: not a readable safetensors file ({exc})") from exc
    return state
