"""Where the model computes and in what precision: the one vocabulary that captioning and training
share. Importable without torch (the CLI's --help lists PRECISIONS); torch is imported by the
functions that need it.

"auto" means something different when captioning and when training, so each has its own named
policy below; both read the same device and the same CPU capability.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" picks CUDA when available, else the CPU. Asking for CUDA without it is an error."""
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but this PyTorch build or machine has no CUDA device")
    return device


def cpu_has_fast_bf16() -> bool:
    """AVX512-BF16 or AMX: where bf16 matmuls beat fp32 on the CPU."""
    import torch

    with contextlib.suppress(AttributeError, RuntimeError):
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def _check(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def resolve_precision(precision: str, device: torch.device) -> str:
    """Captioning's "auto": fp16 on CUDA, bf16 on CPUs with native bf16 (see
    benchmarks/generate.py), else fp32."""
    _check(precision)
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def resolve_training_precision(precision: str, device: torch.device) -> str:
    """Training's "auto": bf16 on CUDA devices that support it, else fp16 (trained with a
    GradScaler, as the original); on the CPU bf16 where it is native, else fp32. bf16 on a
    CUDA device without it is an error."""
    import torch

    _check(precision)
    on_cuda = device.type == "cuda"
    if precision == "auto":
        if on_cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    if precision == "bf16" and on_cuda and not torch.cuda.is_bf16_supported():
        raise ValueError("bf16 was requested but this CUDA device does not support it")
    return precision
