import pytest
import torch
from torch import nn

from core.captioning.captioner import precision_context, set_precision
from core.captioning.generation import GenerationSettings, generate
from core.captioning.onednn import (
    OneDNNLinear,
    PackedVocabHead,
    onednn_available,
    pack_decoder,
    unpack_decoder,
)
from tests.tiny import tiny_model

pytestmark = pytest.mark.skipif(not onednn_available(), reason="this PyTorch build has no oneDNN")

IDS = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2}


def test_packed_decoder_gives_the_same_logits_and_tokens():
    plain = tiny_model(seed=3, spread=0.25, eos_boost=3.5, **IDS)
    packed = tiny_model(seed=3, spread=0.25, eos_boost=3.5, **IDS)
    assert pack_decoder(packed)
    assert isinstance(packed.decoder.h[0].mlp.c_fc, OneDNNLinear)
    images, ids = torch.randn(6, 3, 32, 32), torch.randint(0, 320, (6, 7))
    with torch.no_grad():
        assert torch.allclose(packed(images, ids), plain(images, ids), atol=1e-5)
    for settings in (GenerationSettings(max_new_tokens=25), GenerationSettings(strategy="beam", num_beams=3)):
        assert generate(packed, images, settings) == generate(plain, images, settings)


def test_unpacking_restores_plain_layers_with_the_same_weights():
    model = tiny_model(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pack_decoder(model)
    unpack_decoder(model)
    assert isinstance(model.decoder.h[1].attn.c_attn, nn.Linear) and not isinstance(model.decoder.head, PackedVocabHead)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_set_precision_packs_fp32_and_bf16_on_the_cpu():
    model = tiny_model()
    set_precision(model, "fp32", torch.device("cpu"))
    assert isinstance(model.decoder.head, PackedVocabHead)
    set_precision(model, "bf16", torch.device("cpu"))
    assert not isinstance(model.decoder.head, PackedVocabHead)  # the bf16 head stays F.linear under autocast
    assert model.decoder.h[0].mlp.c_fc.weight.dtype == torch.bfloat16
    assert isinstance(model.decoder.h[0].mlp.c_fc, OneDNNLinear) == onednn_available(torch.bfloat16)
    assert not model.encoder.blocks[0].attn.fused_attn
    set_precision(model, "fp16", torch.device("cpu"))
    assert isinstance(model.decoder.h[0].mlp.c_fc, nn.Linear)


@pytest.mark.skipif(not onednn_available(torch.bfloat16), reason="no bf16 oneDNN on this CPU")
def test_packed_bf16_decoder_equals_plain_autocast():
    """Prepacked bf16 layers give exactly what autocast's F.linear gives: same logits, same tokens."""
    plain = tiny_model(seed=3, spread=0.25, eos_boost=3.5, **IDS)
    for module in plain.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.to(torch.bfloat16)
    packed = tiny_model(seed=3, spread=0.25, eos_boost=3.5, **IDS)
    set_precision(packed, "bf16", torch.device("cpu"))
    for block in plain.encoder.blocks:
        block.attn.fused_attn = False
    images = torch.randn(6, 3, 32, 32)
    with torch.no_grad(), precision_context("bf16", torch.device("cpu")):
        cross_plain, cross_packed = plain.cross_kv(images), packed.cross_kv(images)
        tokens = torch.randint(0, 320, (6, 1))
        assert torch.equal(packed.decoder(tokens, cross_packed), plain.decoder(tokens, cross_plain))
        for settings in (GenerationSettings(max_new_tokens=25), GenerationSettings(strategy="beam", num_beams=3)):
            assert generate(packed, images, settings) == generate(plain, images, settings)


def test_unpacking_keeps_the_dtype_and_the_weights():
    model, reference = tiny_model(seed=2), tiny_model(seed=2)
    set_precision(model, "bf16", torch.device("cpu"))
    unpack_decoder(model)
    for module in reference.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.to(torch.bfloat16)
    assert isinstance(model.decoder.h[0].mlp.c_fc, nn.Linear)
    before, after = reference.state_dict(), model.state_dict()
    assert before.keys() == after.keys()
    assert all(before[k].dtype == after[k].dtype and torch.equal(before[k], after[k]) for k in before)
