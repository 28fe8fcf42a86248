"""fp32 decoding on the CPU through oneDNN instead of MKL.

A decode step multiplies a few rows (one per image or beam) by every decoder weight, so it is
bound by how fast the matrix multiply streams the weights from memory. For so few rows MKL's
fp32 GEMM streams them well below the memory's speed, while oneDNN, given the weights in its own
("mkldnn") layout, comes close to it (benchmarks/generate.py measures the difference; README.md
has the figures). bf16 already runs through oneDNN, and CUDA never comes here.

Packing is for inference only: the packed layers have no gradients. `unpack_decoder` restores
plain nn.Linear layers (before moving to CUDA, say).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from core.model import VisionGPT2

# the decoder's per-step projections; kv_proj runs once per image on hundreds of rows (MKL's case)
PACKED = (("attn", "c_attn"), ("attn", "c_proj"), ("cross_attn", "q_proj"), ("cross_attn", "c_proj"),
          ("mlp", "c_fc"), ("mlp", "c_proj"))


@functools.cache
def onednn_available() -> bool:
    """True where this PyTorch build can run a Linear layer through oneDNN."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        x = torch.ones(1, 4)
        w = torch.ones(2, 4)
        return bool(torch.equal(F.linear(x.to_mkldnn(), w.to_mkldnn()).to_dense(), F.linear(x, w)))
    except (RuntimeError, NotImplementedError):
        return False


class OneDNNLinear(nn.Module):
    """An inference-only nn.Linear whose weight and bias live in oneDNN's layout."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight.detach().float().to_mkldnn()
        self.bias = None if linear.bias is None else linear.bias.detach().float().to_mkldnn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)  # oneDNN's linear takes 2-D input
        y = F.linear(rows.to_mkldnn(), self.weight, self.bias).to_dense()
        return y.view(*x.shape[:-1], self.out_features)

    def to_linear(self) -> nn.Linear:
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(self.weight.to_dense())
            if self.bias is not None:
                linear.bias.copy_(self.bias.to_dense())
        return linear


def pack_decoder(model: VisionGPT2) -> bool:
    """Route the decoder's per-step matmuls (and the vocabulary head) through oneDNN.
    Returns False, changing nothing, where oneDNN is not available."""
    if not onednn_available():
        return False
    for block in model.decoder.h:
        for parent, name in PACKED:
            owner = getattr(block, parent)
            layer = getattr(owner, name)
            if isinstance(layer, nn.Linear):
                setattr(owner, name, OneDNNLinear(layer))
    # a packed copy: the dense table stays for the token-embedding lookup
    model.decoder.packed_head = model.decoder.wte.weight.detach().float().to_mkldnn()
    return True


def unpack_decoder(model: VisionGPT2) -> None:
    """Back to plain nn.Linear layers (on the CPU; move afterwards)."""
    for block in model.decoder.h:
        for parent, name in PACKED:
            owner = getattr(block, parent)
            layer = getattr(owner, name)
            if isinstance(layer, OneDNNLinear):
                setattr(owner, name, layer.to_linear())
    model.decoder.packed_head = None
