"""Stages: which parameters train when, for the pretrained-backbones schedule."""

from __future__ import annotations

import pytest

from core.bundles.weights import NEW_CROSS_ATTENTION_KEYS
from tests.tiny import tiny_model
from training.config import Stage, stage_preset
from training.stages import apply_stage, stage_at


def _trainable(model) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def test_backbones_schedule_unfreezes_cross_attention_then_gpt2_then_all():
    model = tiny_model()
    names = {name for name, _ in model.named_parameters()}
    stages = stage_preset("backbones")

    apply_stage(model, stage_at(stages, 0))
    new = {f"decoder.h.{i}.{key}" for i in range(2) for key in NEW_CROSS_ATTENTION_KEYS}
    assert _trainable(model) == new  # the new layers and their LayerNorms (ln_cross), only

    apply_stage(model, stage_at(stages, 1))
    decoder = {name for name in names if name.startswith("decoder.")}
    assert _trainable(model) == decoder
    # the original forgot these: GPT-2's embeddings (and so the tied head) and final norm
    assert {"decoder.wte.weight", "decoder.wpe.weight", "decoder.ln_f.weight", "decoder.ln_f.bias"} <= decoder
    assert not any(name.startswith("encoder.") for name in _trainable(model))

    for epoch in (2, 4):
        apply_stage(model, stage_at(stages, epoch))
        assert _trainable(model) == names


def test_a_pattern_that_matches_nothing_is_an_error():
    with pytest.raises(ValueError, match=r"decoder\.heads"):
        apply_stage(tiny_model(), Stage(0, "typo", ["decoder.heads.*"]))
