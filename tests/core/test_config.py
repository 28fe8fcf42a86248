import pytest

from core.captioning.config import CaptionerConfig
from tests.tiny import tiny_config


def test_json_round_trip_keeps_every_field():
    cfg = tiny_config(cross_attention="final", vit_depth=3, image_mean=(0.1, 0.2, 0.3), extra={"note": "x"})
    again = CaptionerConfig.from_json(cfg.to_json())
    assert again == cfg
    assert again.image_mean == (0.1, 0.2, 0.3)


def test_defaults_are_vit_b16_and_gpt2_small():
    cfg = CaptionerConfig()
    assert (cfg.image_size, cfg.patch_size, cfg.vit_width, cfg.vit_depth) == (224, 16, 768, 12)
    assert (cfg.vocab_size, cfg.gpt_width, cfg.gpt_depth, cfg.context_length) == (50257, 768, 12, 1024)
    assert cfg.cross_attention == "per_layer"
    assert cfg.image_mean == (0.5, 0.5, 0.5) and cfg.resize_interpolation == "bilinear"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cross_attention": "sideways"}, "cross_attention"),
        ({"vit_depth": 3}, "vit_depth == gpt_depth"),
        ({"image_size": 30}, "multiple of patch_size"),
        ({"eos_token_id": 999}, "eos_token_id"),
        ({"resize_interpolation": "cubic"}, "resize_interpolation"),
    ],
)
def test_invalid_configs_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**overrides)


def test_unknown_keys_are_rejected():
    data = tiny_config().to_dict() | {"mystery": 1}
    with pytest.raises(ValueError, match="mystery"):
        CaptionerConfig.from_dict(data)


def test_final_mode_allows_different_depths():
    cfg = tiny_config(cross_attention="final", vit_depth=3, gpt_depth=2)
    assert cfg.vit_depth != cfg.gpt_depth
