"""VisionGPT2: a timm ViT encoder and a GPT-2 decoder whose blocks gain cross-attention.

Ordered bottom-up: the attention function and KV cache, attention layers, MLP, decoder block,
encoder, decoder, captioner.
Parameter names are the checkpoint keys: the encoder's are timm's VisionTransformer keys,
the decoder's follow HF GPT-2 (`wte`, `h.i.ln_1`, `attn.c_attn`, ...), so weight import is a
key map, not a rewrite.

Shapes: B batch, T text positions, S image tokens (patches + cls), C width, nh heads, hs head size.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import Mlp, PatchEmbed
from timm.models.vision_transformer import Block
from torch import nn

from core.captioning.config import CaptionerConfig


def _split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, nh, T, hs)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, nh, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, nh * hs)  # (B, T, C)


# Up to this many query positions per row, attention is two matmuls and a softmax instead of
# F.scaled_dot_product_attention: in a decode step (one new token, or one per beam) the fused
# CPU kernel's set-up outweighs the work, in bf16 most of all (benchmarks/generate.py).
FEW_QUERIES = 16


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, dropout: float) -> torch.Tensor:
    """q (B, nh, Tq, hs), k and v (B, nh, Tk, hs) -> (B, nh, Tq, hs)."""
    if q.size(-2) <= FEW_QUERIES and not causal and not dropout:
        weights = (q @ k.transpose(-2, -1)) * q.size(-1) ** -0.5  # (B, nh, Tq, Tk)
        return weights.softmax(dim=-1) @ v
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=causal)


class KVCache:
    """Self-attention keys and values of every decoder layer, preallocated for `max_len` positions.

    One tensor per kind for all layers, so reordering beams or dropping finished rows is a
    single `index_select`.
    """

    def __init__(self, n_layer: int, max_len: int):
        self.n_layer = n_layer
        self.max_len = max_len
        self.k: torch.Tensor | None = None  # (L, B, nh, max_len, hs)
        self.v: torch.Tensor | None = None
        self.length = 0  # positions filled

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, nh, t, hs) after the filled positions; return the keys/values so far."""
        B, nh, t, hs = k.shape
        if self.k is None or self.v is None:
            shape = (self.n_layer, B, nh, self.max_len, hs)
            self.k, self.v = k.new_empty(shape), v.new_empty(shape)
        end = self.length + t
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions, asked for {end}")
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        if layer == self.n_layer - 1:
            self.length = end
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def select(self, index: torch.Tensor) -> None:
        """Keep rows `index` (B',) of the batch, in that order."""
        if self.k is not None and self.v is not None:
            self.k = self.k.index_select(1, index)
            self.v = self.v.index_select(1, index)


class CausalSelfAttention(nn.Module):
    """GPT-2 masked self-attention; `c_attn` packs q, k, v like GPT-2's Conv1D (as nn.Linear)."""

    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.n_head = cfg.gpt_heads
        self.c_attn = nn.Linear(cfg.gpt_width, 3 * cfg.gpt_width)
        self.c_proj = nn.Linear(cfg.gpt_width, cfg.gpt_width)
        self.attn_dropout = cfg.attn_dropout
        self.resid_dropout = nn.Dropout(cfg.resid_dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        T = x.size(1)
        q, k, v = self.c_attn(x).split(x.size(-1), dim=2)
        q, k, v = (_split_heads(t, self.n_head) for t in (q, k, v))  # (B, nh, T, hs)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.append(layer, k, v)
        if past and T > 1:
            raise ValueError("with a non-empty cache, decode one position at a time")
        # A single new position may see every cached one: no mask needed.
        y = attention(q, k, v, causal=T > 1, dropout=self.attn_dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(_merge_heads(y)))


class CrossAttention(nn.Module):
    """Text queries attend to image tokens. Keys/values (`kv_proj`, k then v) read the encoder
    width, so they can be computed once per image and reused for every generated token."""

    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.n_head = cfg.gpt_heads
        self.q_proj = nn.Linear(cfg.gpt_width, cfg.gpt_width)
        self.kv_proj = nn.Linear(cfg.vit_width, 2 * cfg.gpt_width)
        self.c_proj = nn.Linear(cfg.gpt_width, cfg.gpt_width)
        self.attn_dropout = cfg.attn_dropout
        self.resid_dropout = nn.Dropout(cfg.resid_dropout)

    def project_memory(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """memory (B, S, vit_width) -> k, v (B, nh, S, hs), contiguous: they are read at every
        decode step, and strided views would be copied by each matmul."""
        k, v = self.kv_proj(memory).chunk(2, dim=-1)
        return _split_heads(k, self.n_head).contiguous(), _split_heads(v, self.n_head).contiguous()

    def forward(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """x (rows, T, C) with rows a multiple of the images in k, v (B, nh, S, hs).

        Rows of one image (beams) are adjacent; they become extra query positions of that
        image, which is exact for unmasked attention and spares copying K/V per beam.
        """
        rows, T, C = x.shape
        B = k.size(0)
        q = _split_heads(self.q_proj(x).reshape(B, rows // B * T, C), self.n_head)  # (B, nh, rows/B*T, hs)
        y = attention(q, k, v, causal=False, dropout=self.attn_dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(_merge_heads(y).reshape(rows, T, C)))


class MLP(nn.Module):
    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.gpt_width, 4 * cfg.gpt_width)
        self.c_proj = nn.Linear(4 * cfg.gpt_width, cfg.gpt_width)
        self.dropout = nn.Dropout(cfg.resid_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GPT-2 was trained with the tanh approximation ("gelu_new").
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class DecoderBlock(nn.Module):
    """GPT-2 block with a cross-attention sub-layer between self-attention and MLP.

    `ln_1`/`ln_2` keep GPT-2's meaning (before self-attention / before the MLP), so pretrained
    GPT-2 norms load into the right slots; `ln_cross` is new, like the cross-attention itself.
    """

    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.gpt_width, eps=cfg.gpt_ln_eps)
        self.attn = CausalSelfAttention(cfg)
        self.ln_cross = nn.LayerNorm(cfg.gpt_width, eps=cfg.gpt_ln_eps)
        self.cross_attn = CrossAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.gpt_width, eps=cfg.gpt_ln_eps)
        self.mlp = MLP(cfg)

    def forward(
        self,
        x: torch.Tensor,
        cross_k: torch.Tensor,
        cross_v: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        x = x + self.cross_attn(self.ln_cross(x), cross_k, cross_v)
        return x + self.mlp(self.ln_2(x))


class ImageEncoder(nn.Module):
    """ViT from timm's parts, with timm's `VisionTransformer` parameter names.

    Every behavioural argument that timm's `Block` has had since 1.0.13 (the oldest timm
    VisionCap takes) is spelled out: its defaults have changed across timm 1.0.x releases. Those
    later releases added (`scale_attn_norm`, `scale_mlp_norm`, `attn_layer`, `depth`) are left at
    their defaults, which build the plain ViT; tests/core/test_model.py fails if a new argument
    appears or one of those defaults changes. In "per_layer" mode the final norm is unused and
    is an Identity.
    """

    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=cfg.vit_ln_eps)
        self.patch_embed = PatchEmbed(
            img_size=cfg.image_size,
            patch_size=cfg.patch_size,
            in_chans=cfg.in_chans,
            embed_dim=cfg.vit_width,
            bias=True,
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.vit_width))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches + 1, cfg.vit_width))
        self.pos_drop = nn.Dropout(cfg.vit_dropout)
        self.blocks = nn.ModuleList(
            Block(
                dim=cfg.vit_width,
                num_heads=cfg.vit_heads,
                mlp_ratio=cfg.vit_mlp_ratio,
                qkv_bias=cfg.vit_qkv_bias,
                qk_norm=False,
                proj_bias=True,
                proj_drop=cfg.vit_dropout,
                attn_drop=cfg.vit_dropout,
                init_values=None,  # no LayerScale
                drop_path=0.0,
                act_layer=nn.GELU,  # exact (erf) GELU, as ViT-B/16 was trained
                # timm types it type[Module] but calls it with the width only, as partials allow
                # (its own VisionTransformer passes one)
                norm_layer=norm_layer,  # type: ignore[arg-type]
                mlp_layer=Mlp,
            )
            for _ in range(cfg.vit_depth)
        )
        self.norm = norm_layer(cfg.vit_width) if cfg.cross_attention == "final" else nn.Identity()
        self.per_layer = cfg.cross_attention == "per_layer"

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """images (B, 3, H, W) -> the memory each decoder layer attends to, each (B, S, C_vit).

        per_layer: the output of every ViT block; final: the normed last output, once.
        """
        x = self.patch_embed(images)  # (B, S-1, C)
        x = torch.cat((self.cls_token.expand(x.size(0), -1, -1), x), dim=1)
        x = self.pos_drop(x + self.pos_embed)  # (B, S, C)
        outputs = []
        for block in self.blocks:
            x = block(x)
            if self.per_layer:
                outputs.append(x)
        return outputs if self.per_layer else [self.norm(x)]

    def use_fused_attention(self, enabled: bool) -> None:
        """Whether timm's blocks run attention through F.scaled_dot_product_attention (True) or
        as explicit matmuls and a softmax (False): core.captioning.captioner.set_precision picks the faster
        one for the device and precision."""
        for block in self.blocks:
            # a plain attribute timm's Attention reads at every call, which the types do not let us
            # set: nn.Module types its submodules' attributes Tensor | Module, and timm marks the
            # flag Final (a TorchScript constant)
            block.attn.fused_attn = enabled  # type: ignore[union-attr]


class Embedding(nn.Embedding):
    """nn.Embedding that leaves its table uninitialised on the meta device (a bundle is about
    to be assigned): `normal_` there imports torch._dynamo, 2 s and 150 MB of start-up."""

    def reset_parameters(self) -> None:
        if not self.weight.is_meta:
            super().reset_parameters()


class VocabHead(nn.Module):
    """The tied vocabulary head: logits from the token embedding's weight, given at each call
    (so the weight is stored once, as `wte`). core/captioning/onednn.py swaps in a prepacked one."""

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.linear(x, weight)  # (..., C) -> (..., V)


class TextDecoder(nn.Module):
    """GPT-2 with cross-attention; the LM head is the token embedding (tied)."""

    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.wte = Embedding(cfg.vocab_size, cfg.gpt_width)
        self.wpe = Embedding(cfg.context_length, cfg.gpt_width)
        self.drop = nn.Dropout(cfg.embd_dropout)
        self.h = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.gpt_depth))
        self.ln_f = nn.LayerNorm(cfg.gpt_width, eps=cfg.gpt_ln_eps)
        self.head = VocabHead()

    def cross_kv(self, memories: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-layer cross-attention keys/values; one memory is shared by all layers."""
        kv = []
        for i, block in enumerate(self.h):
            assert isinstance(block, DecoderBlock)  # (nn.ModuleList yields plain Modules)
            kv.append(block.cross_attn.project_memory(memories[i if len(memories) > 1 else 0]))
        return kv

    def forward(
        self,
        input_ids: torch.Tensor,
        cross_kv: list[tuple[torch.Tensor, torch.Tensor]],
        cache: KVCache | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """input_ids (B, T) -> logits (B, T, V), or (B, V) for the last position only."""
        T = input_ids.size(1)
        start = cache.length if cache is not None else 0
        if start + T > self.wpe.num_embeddings:
            raise ValueError(f"{start + T} positions exceed the context length {self.wpe.num_embeddings}")
        pos = torch.arange(start, start + T, device=input_ids.device)
        x = self.drop(self.wte(input_ids) + self.wpe(pos))  # (B, T, C)
        for i, block in enumerate(self.h):
            k, v = cross_kv[i]
            x = block(x, k, v, cache, i)
        x = self.ln_f(x[:, -1] if last_only else x)  # the vocabulary head runs only where needed
        return self.vocab_logits(x)

    def vocab_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The tied vocabulary head: (B, C) -> (B, V) or (B, T, C) -> (B, T, V)."""
        return self.head(x, self.wte.weight)


class VisionGPT2(nn.Module):
    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.config = cfg
        self.encoder = ImageEncoder(cfg)
        self.decoder = TextDecoder(cfg)
        if not self.decoder.wte.weight.is_meta:  # on meta, loaded weights will be assigned
            self.init_weights()

    def init_weights(self) -> None:
        cfg = self.config
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled by depth
        for name, p in self.decoder.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.gpt_depth))
        nn.init.trunc_normal_(self.encoder.pos_embed, std=0.02)
        nn.init.normal_(self.encoder.cls_token, std=1e-6)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def cross_kv(self, images: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Run the encoder and every layer's cross-attention projections once per image."""
        return self.decoder.cross_kv(self.encoder(images))

    def forward(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
    ) -> torch.Tensor:
        """Teacher-forced pass: images (B, 3, H, W), input_ids (B, T) -> logits (B, T, V).

        The loss is the trainer's, not the model's.
        """
        return self.decoder(input_ids, self.cross_kv(images))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
