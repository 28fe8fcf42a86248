"""Parity with the reference implementations, built from tiny configs (no downloads)."""

import pytest
import timm
import torch
import transformers

from core.bundles.weights import NEW_CROSS_ATTENTION_KEYS, captioner_from_backbones
from core.captioning.model import VisionGPT2
from core.errors import ImportFormatError
from tests.tiny import tiny_config

TOL = 1e-4


def timm_vit(cfg):
    torch.manual_seed(1)
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=cfg.image_size, patch_size=cfg.patch_size, embed_dim=cfg.vit_width, depth=cfg.vit_depth,
        num_heads=cfg.vit_heads, mlp_ratio=cfg.vit_mlp_ratio, qkv_bias=True, num_classes=10,
    ).eval()
    with torch.no_grad():  # timm zero-inits some biases; make every weight count
        for p in vit.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return vit


def hf_gpt2(cfg, cross=False):
    torch.manual_seed(2)
    config = transformers.GPT2Config(
        vocab_size=cfg.vocab_size, n_positions=cfg.context_length, n_embd=cfg.gpt_width,
        n_layer=cfg.gpt_depth, n_head=cfg.gpt_heads, add_cross_attention=cross,
        bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.mark.parametrize("mode", ["per_layer", "final"])
def test_encoder_matches_timm(mode):
    cfg = tiny_config(cross_attention=mode)
    vit = timm_vit(cfg)
    model = captioner_from_backbones(cfg, vit.state_dict(), hf_gpt2(cfg).state_dict()).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ours = model.encoder(images)
        if mode == "final":
            reference = [vit.forward_features(images)]
        else:
            x = vit._pos_embed(vit.patch_embed(images))
            reference = []
            for block in vit.blocks:
                x = block(x)
                reference.append(x)
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference):
        assert (a - b).abs().max() <= TOL


def test_decoder_with_cross_attention_zeroed_matches_gpt2():
    cfg = tiny_config()
    gpt2 = hf_gpt2(cfg)
    model = captioner_from_backbones(cfg, timm_vit(cfg).state_dict(), gpt2.state_dict()).eval()
    with torch.no_grad():
        for block in model.decoder.h:
            block.cross_attn.c_proj.weight.zero_()
            block.cross_attn.c_proj.bias.zero_()
        ids = torch.randint(0, cfg.vocab_size, (3, 11))
        ours = model(torch.randn(3, 3, 32, 32), ids)
        reference = gpt2(ids).logits
    assert (ours - reference).abs().max() <= TOL


def test_backbone_import_leaves_exactly_the_cross_attention_new():
    cfg = tiny_config()
    torch.manual_seed(5)
    fresh = VisionGPT2(cfg).state_dict()
    torch.manual_seed(5)
    vit, gpt2 = timm_vit(cfg), hf_gpt2(cfg)
    torch.manual_seed(5)
    model = captioner_from_backbones(cfg, vit.state_dict(), gpt2.state_dict())
    state = model.state_dict()
    # GPT-2's ln_2 is the pre-MLP norm (the original put it in the cross-attention slot)
    assert torch.equal(state["decoder.h.1.ln_2.weight"], gpt2.state_dict()["transformer.h.1.ln_2.weight"])
    # Conv1D weights transposed into nn.Linear
    assert torch.equal(state["decoder.h.0.mlp.c_fc.weight"], gpt2.state_dict()["transformer.h.0.mlp.c_fc.weight"].t())
    assert torch.equal(state["encoder.blocks.1.attn.qkv.weight"], vit.state_dict()["blocks.1.attn.qkv.weight"])
    for name in NEW_CROSS_ATTENTION_KEYS:
        assert torch.equal(state[f"decoder.h.0.{name}"], fresh[f"decoder.h.0.{name}"])


def test_backbone_import_rejects_a_wrong_shape_naming_the_key():
    cfg = tiny_config()
    gpt2 = hf_gpt2(tiny_config(gpt_width=48, gpt_heads=2))
    with pytest.raises(ImportFormatError, match=r"wte\.weight"):
        captioner_from_backbones(cfg, timm_vit(cfg).state_dict(), gpt2.state_dict())
