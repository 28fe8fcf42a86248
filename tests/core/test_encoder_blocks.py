"""The encoder's own ViT parts against timm's: the same keys and the same numbers, bit for bit,
so captions do not change with the import that was dropped from the caption path."""

import subprocess
import sys

import pytest
import timm
import torch

from core.captioner import precision_context, set_precision
from core.model import VisionGPT2
from tests.tiny import tiny_config


def timm_blocks_and_ours(cross_attention="per_layer"):
    cfg = tiny_config(cross_attention=cross_attention)
    torch.manual_seed(0)
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=cfg.image_size, patch_size=cfg.patch_size, embed_dim=cfg.vit_width, depth=cfg.vit_depth,
        num_heads=cfg.vit_heads, mlp_ratio=cfg.vit_mlp_ratio, qkv_bias=True, num_classes=0,
    ).eval()
    with torch.no_grad():
        for p in vit.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    model = VisionGPT2(cfg).eval()
    state = {k: v for k, v in vit.state_dict().items() if not k.startswith(("norm.", "fc_norm", "head"))}
    if cross_attention == "final":
        state.update({f"norm.{k}": v for k, v in vit.norm.state_dict().items()})
    model.encoder.load_state_dict(state, strict=True)
    return vit, model


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_blocks_equal_timm_exactly(fused, precision):
    vit, model = timm_blocks_and_ours()
    set_precision(model, precision, torch.device("cpu"))
    for theirs, ours in zip(vit.blocks, model.encoder.blocks):  # timm's blocks with our stored dtypes
        theirs.load_state_dict({k: v.float() for k, v in ours.state_dict().items()})
        for module in theirs.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(ours.attn.qkv.weight.dtype)
        theirs.attn.fused_attn = ours.attn.fused_attn = fused
    x = torch.randn(3, model.config.num_patches + 1, model.config.vit_width)
    with torch.no_grad(), precision_context(precision, torch.device("cpu")):
        for theirs, ours in zip(vit.blocks, model.encoder.blocks):
            assert torch.equal(ours(x), theirs(x))


def test_patch_embed_and_final_norm_equal_timm():
    vit, model = timm_blocks_and_ours("final")
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.encoder.patch_embed(images), vit.patch_embed(images))
        assert torch.equal(model.encoder(images)[0], vit.forward_features(images))


def test_wrong_image_size_is_a_clear_error():
    _, model = timm_blocks_and_ours()
    with pytest.raises(ValueError, match="32x32 pixels, got 48x32"):
        model.encoder(torch.randn(1, 3, 48, 32))


def test_caption_path_imports_neither_timm_nor_torchvision():
    code = "import sys, core.captioner, core.cli; print(sorted({'timm', 'torchvision', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
