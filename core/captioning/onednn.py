"""Decoding on the CPU through oneDNN with prepacked weights, in fp32 and bf16.

A decode step multiplies a few rows (one per image or beam) by every decoder weight, so it is
bound by how fast the matrix multiply streams the weights from memory. For so few rows MKL's
fp32 GEMM streams them well below the memory's speed. oneDNN, given the weights already
reordered into its blocked layout (`pack_weight`, the layout PyTorch's own compiler uses for
frozen CPU models) and called on plain tensors (`packed_linear`, no conversion of the input per
call), reads them faster in both dtypes; benchmarks/generate.py measures it, README.md has the
figures. The results equal F.linear's (a test checks the tokens). CUDA never comes here.

Packing is for inference only: the packed layers have no gradients. `unpack_decoder` restores
plain nn.Linear layers (before moving to CUDA, say).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from core.captioning.model import DecoderBlock, VisionGPT2, VocabHead

# the decoder's per-step projections; kv_proj runs once per image on hundreds of rows (MKL's case)
ROWS_HINT = 8  # the weight layout is chosen for this many rows (the default batch); any count works
PACKED = (("attn", "c_attn"), ("attn", "c_proj"), ("cross_attn", "q_proj"), ("cross_attn", "c_proj"),
          ("mlp", "c_fc"), ("mlp", "c_proj"))


def packed_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (rows, in) times a weight prepacked by `pack_weight` -> (rows, out), in x's dtype."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def pack_weight(weight: torch.Tensor) -> torch.Tensor:
    """A (out, in) weight in the oneDNN layout that suits a few rows at a time."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), ROWS_HINT)


@functools.cache
def onednn_available(dtype: torch.dtype = torch.float32) -> bool:
    """True where this PyTorch build runs a prepacked Linear in `dtype` through oneDNN (and
    gets F.linear's result, up to rounding)."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        x = torch.linspace(-1, 1, 12).view(3, 4).to(dtype)
        w = torch.linspace(-2, 2, 8).view(2, 4).to(dtype)
        return bool(torch.allclose(packed_linear(x, pack_weight(w), None), F.linear(x, w), atol=0.02))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


class OneDNNLinear(nn.Module):
    """An inference-only nn.Linear whose weight lives in oneDNN's layout, in the dtype it had
    (float32, or bfloat16 under autocast: the input is cast to it, as autocast would)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = pack_weight(linear.weight)
        self.bias = None if linear.bias is None else linear.bias.detach().to(linear.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(self.weight.dtype)  # oneDNN's linear takes 2-D input
        return packed_linear(rows, self.weight, self.bias).view(*x.shape[:-1], self.out_features)

    def to_linear(self) -> nn.Linear:
        dtype = self.weight.dtype
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(self.weight.to_dense())
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        return linear


class PackedVocabHead(VocabHead):
    """The tied vocabulary head with a copy of the token embedding in oneDNN's layout: a decode
    step's few fp32 rows read the 50k-row table through it. Anything else (a whole sequence in
    training's evaluation, autocast) takes the plain head."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.packed = pack_weight(weight.float())

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.dtype == torch.float32 and not torch.is_autocast_enabled(x.device.type):
            return packed_linear(x.contiguous(), self.packed, None)
        return super().forward(x, weight)


def pack_decoder(model: VisionGPT2) -> bool:
    """Route the decoder's per-step matmuls through oneDNN, in the dtype their weights have
    (and, in float32, the vocabulary head). Returns False, changing nothing, where oneDNN
    cannot run that dtype."""
    first = model.decoder.h[0]
    assert isinstance(first, DecoderBlock)  # (nn.ModuleList yields plain Modules)
    dtype = first.mlp.c_fc.weight.dtype
    if not onednn_available(dtype):
        return False
    for block in model.decoder.h:
        for parent, name in PACKED:
            owner = getattr(block, parent)
            layer = getattr(owner, name)
            if isinstance(layer, nn.Linear):
                setattr(owner, name, OneDNNLinear(layer))
    if dtype == torch.float32:  # a packed copy: the dense table stays for the token-embedding lookup
        model.decoder.head = PackedVocabHead(model.decoder.wte.weight)
    return True


def unpack_decoder(model: VisionGPT2) -> None:
    """Back to plain nn.Linear layers (on the CPU; move afterwards)."""
    for block in model.decoder.h:
        for parent, name in PACKED:
            owner = getattr(block, parent)
            layer = getattr(owner, name)
            if isinstance(layer, OneDNNLinear):
                setattr(owner, name, layer.to_linear())
    model.decoder.head = VocabHead()
