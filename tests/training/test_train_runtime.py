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
            expected = model(images, ids)
        with Precision.of("fp32", CPU, "math").forward():
            logits = model(images, ids)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)


# --- the precision policy on CPUs ---


def test_fp16_training_on_a_cpu_without_fp16_hardware_is_refused(monkeypatch):
    from training import runtime

    monkeypatch.setattr(runtime, "cpu_has_fast_fp16", lambda: False)
    with pytest.raises(ValueError, match=r"fp16 training on this CPU.* is refused.*--precision fp32"):
        runtime.training_precision("fp16", CPU)
    monkeypatch.setattr(runtime, "cpu_has_fast_fp16", lambda: True)  # AMX-FP16
    assert runtime.training_precision("fp16", CPU).name == "fp16"
    # evaluation keeps its own policy: Precision.of alone refuses nothing on the CPU
    assert Precision.of("fp16", CPU).name == "fp16"


@pytest.mark.parametrize("native", [False, True])
def test_bf16_without_native_support_warns_that_it_is_emulated(monkeypatch, caplog, native):
    import core.captioning.device
    from training.runtime import training_precision

    monkeypatch.setattr(core.captioning.device, "cpu_has_fast_bf16", lambda: native)
    with caplog.at_level("WARNING"):
        assert training_precision("bf16", CPU).name == "bf16"
        assert training_precision("bf16", CPU, warn=False).name == "bf16"  # other DDP ranks stay quiet
    warnings = [r.getMessage() for r in caplog.records if "emulated" in r.getMessage()]
    assert len(warnings) == (0 if native else 1)
    if warnings:
        assert "slower than fp32" in warnings[0] and "auto picks fp32" in warnings[0]
    assert training_precision("auto", CPU).name == ("bf16" if native else "fp32")


def test_a_training_run_refuses_fp16_on_the_cpu_before_reading_its_data(tmp_path, monkeypatch):
    from tests.training.trainkit import tiny_run
    from training import runtime
    from training.trainer import train

    monkeypatch.setattr(runtime, "cpu_has_fast_fp16", lambda: False)
    with pytest.raises(ValueError, match="fp16 training"):
        train(tiny_run(tmp_path / "no-data-here", tmp_path / "run", precision="fp16", device="cpu"), progress=False)
