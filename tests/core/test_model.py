import pytest
import torch

from core.captioning.model import KVCache, VisionGPT2
from tests.tiny import tiny_config, tiny_model


@pytest.mark.parametrize("mode", ["per_layer", "final"])
def test_forward_shapes_and_a_gradient_for_every_parameter(mode):
    model = tiny_model(cross_attention=mode).train()
    images = torch.randn(2, 3, 32, 32)
    ids = torch.randint(0, 320, (2, 7))
    logits = model(images, ids)
    assert logits.shape == (2, 7, 320)
    assert torch.isfinite(logits).all()
    logits.float().logsumexp(-1).mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


def test_per_layer_mode_attends_to_each_vit_block_output():
    """Decoder block i sees ViT block i: changing only the last ViT block changes nothing
    that the first decoder block computes."""
    model = tiny_model(cross_attention="per_layer", spread=0.2)
    images = torch.randn(1, 3, 32, 32)
    ids = torch.randint(0, 320, (1, 5))
    seen = {}
    model.decoder.h[0].register_forward_hook(lambda m, i, o: seen.__setitem__("block0", o.clone()))
    model(images, ids)
    first = seen["block0"]
    with torch.no_grad():
        model.encoder.blocks[-1].mlp.fc2.bias.add_(1.0)
    model(images, ids)
    assert torch.equal(seen["block0"], first)
    assert isinstance(model.encoder.norm, torch.nn.Identity)


def test_final_mode_applies_the_encoder_norm_once_for_all_layers():
    model = tiny_model(cross_attention="final")
    memories = model.encoder(torch.randn(2, 3, 32, 32))
    assert len(memories) == 1
    # layer-normed with unit weight and zero bias: mean 0, variance 1 per token
    assert torch.allclose(memories[0].mean(-1), torch.zeros(2, 17), atol=1e-5)


def test_cached_decoding_matches_full_forward_logits():
    model = tiny_model(spread=0.2)
    images = torch.randn(2, 3, 32, 32)
    ids = torch.randint(0, 320, (2, 6))
    full = model(images, ids)
    cross = model.cross_kv(images)
    cache = KVCache(model.config.gpt_depth, max_len=6)
    steps = [model.decoder(ids[:, t : t + 1], cross, cache, last_only=True) for t in range(6)]
    assert torch.allclose(torch.stack(steps, dim=1), full, atol=1e-5)


def test_building_on_meta_allocates_nothing():
    with torch.device("meta"):
        model = VisionGPT2(tiny_config())
    assert all(p.is_meta for p in model.parameters())


def test_context_length_is_enforced():
    model = tiny_model(context_length=8)
    with pytest.raises(ValueError, match="context length"):
        model(torch.randn(1, 3, 32, 32), torch.zeros(1, 9, dtype=torch.long))


def test_timm_block_arguments_are_all_spelled_out_or_known_neutral():
    """ImageEncoder passes every argument timm's Block had in 1.0.13; those added since must
    still default to the plain ViT. A timm release that adds or changes one fails here, so the
    encoder is looked at again instead of silently changing."""
    import inspect

    from timm.layers import Attention
    from timm.models.vision_transformer import Block

    passed = {"dim", "num_heads", "mlp_ratio", "qkv_bias", "qk_norm", "proj_bias", "proj_drop", "attn_drop",
              "init_values", "drop_path", "act_layer", "norm_layer", "mlp_layer"}
    neutral = {"scale_attn_norm": False, "scale_mlp_norm": False, "attn_layer": Attention, "depth": 0}
    parameters = dict(inspect.signature(Block.__init__).parameters)
    for name in ("self", "device", "dtype"):
        parameters.pop(name, None)
    unknown = set(parameters) - passed - set(neutral)
    assert not unknown, f"timm's Block has new arguments: {unknown}"
    for name, default in neutral.items():
        if name in parameters:
            assert parameters[name].default == default, f"timm changed the default of {name}"
