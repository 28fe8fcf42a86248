"""Precision and attention-kernel choices for forward passes."""

from __future__ import annotations

import pytest
import torch

from tests.tiny import tiny_model
from training.runtime import Precision

CPU = torch.device("cpu")


def test_explicit_precisions_and_autocast_dtypes():
    assert Precision.of("fp32", CPU).dtype is None
    assert Precision.of("bf16", CPU).dtype is torch.bfloat16
    assert Precision.of("auto", CPU).name in ("fp32", "bf16")
    with pytest.raises(ValueError, match="attention"):
        Precision.of("fp32", CPU, "fastest")


def test_math_attention_is_only_switched_on_inside_the_forward_context():
    precision = Precision.of("bf16", CPU, "math")
    before = torch.backends.cuda.flash_sdp_enabled()
    with precision.forward():
        assert not torch.backends.cuda.flash_sdp_enabled()
        assert torch.backends.cuda.math_sdp_enabled()
        assert torch.is_autocast_enabled("cpu")
    assert torch.backends.cuda.flash_sdp_enabled() == before
    assert not torch.is_autocast_enabled("cpu")


def test_math_attention_computes_the_same_logits():
    model = tiny_model(seed=1, spread=0.2)
    images, ids = torch.randn(2, 3, 32, 32), torch.randint(0, 300, (2, 7))
    with torch.no_grad():
        with Precision.of("fp32", CPU, "auto").forward():
            expected, _ = model(images, ids)
        with Precision.of("fp32", CPU, "math").forward():
            logits, _ = model(images, ids)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
