import pytest
import torch
from torch import nn

from core.captioner import set_precision
from core.generation import GenerationSettings, generate
from core.onednn import OneDNNLinear, onednn_available, pack_decoder, unpack_decoder
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
        assert torch.allclose(packed(images, ids)[0], plain(images, ids)[0], atol=1e-5)
    for settings in (GenerationSettings(max_new_tokens=25), GenerationSettings(strategy="beam", num_beams=3)):
        assert generate(packed, images, settings) == generate(plain, images, settings)


def test_unpacking_restores_plain_layers_with_the_same_weights():
    model = tiny_model(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pack_decoder(model)
    unpack_decoder(model)
    assert isinstance(model.decoder.h[1].attn.c_attn, nn.Linear) and model.decoder.packed_head is None
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_set_precision_packs_only_for_fp32_on_the_cpu():
    model = tiny_model()
    set_precision(model, "fp32", torch.device("cpu"))
    assert model.decoder.packed_head is not None
    set_precision(model, "bf16", torch.device("cpu"))
    assert model.decoder.packed_head is None
    assert model.decoder.h[0].mlp.c_fc.weight.dtype == torch.bfloat16
    assert not model.encoder.blocks[0].attn.fused_attn
