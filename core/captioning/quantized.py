"""torch's dynamic int8 quantisation for `--precision int8` on the CPU (see
core.captioning.captioner.set_precision and docs/performance.md).

It lives in torch.ao.quantization, which torch marks deprecated in favour of a separate package
(torchao) but still ships; its notices are kept from the user's terminal here. Where a PyTorch
no longer has it, AVAILABLE is False and asking for int8 says so.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import torch
from torch import nn

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear
        from torch.ao.quantization import quantize_dynamic as _quantize_dynamic
    AVAILABLE = True
except ImportError:  # a PyTorch without torch.ao.quantization
    DynamicQuantizedLinear = None  # type: ignore[assignment,misc]
    AVAILABLE = False


@contextmanager
def quiet():
    """torch.ao's deprecation notices (import, quantising, quantised tensors) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        yield


def is_quantized(model: nn.Module) -> bool:
    return AVAILABLE and any(isinstance(m, DynamicQuantizedLinear) for m in model.modules())


def quantize_linear_layers(model: nn.Module) -> None:
    """Replace every nn.Linear of `model` (on the CPU) with its dynamically quantised int8 form,
    in place."""
    if not AVAILABLE:
        raise ValueError("this PyTorch has no dynamic quantisation (torch.ao.quantization): int8 is not available")
    with quiet():
        _quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
