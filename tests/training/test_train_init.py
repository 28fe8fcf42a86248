"""Where a run starts: local backbone files, random weights (with sincos positions), a bundle."""

from __future__ import annotations

import torch
from safetensors.torch import save_file

from core.bundles.weights import GPT2_CONV1D, NEW_CROSS_ATTENTION_KEYS
from tests.tiny import make_tiny_bundle, tiny_config, tiny_model, train_tokenizer
from training.config import TrainConfig
from training.model_init import from_backbones, from_bundle, from_scratch, sincos_position_embedding


def _gpt2_state(model) -> dict[str, torch.Tensor]:
    """The decoder's weights under GPT-2's own names and layout (Conv1D weights transposed)."""
    state = {}
    for key, value in model.state_dict().items():
        if not key.startswith("decoder.") or any(key.endswith(n) for n in NEW_CROSS_ATTENTION_KEYS):
            continue
        name = key[len("decoder."):]
        state[name] = value.t().contiguous() if name.split(".", 2)[-1] in GPT2_CONV1D else value.clone()
    return state


def test_backbones_load_from_local_safetensors(tmp_path):
    source = tiny_model(seed=3, spread=0.2)
    vit = {k[len("encoder."):]: v.clone() for k, v in source.state_dict().items() if k.startswith("encoder.")}
    save_file(vit, str(tmp_path / "vit.safetensors"))
    (tmp_path / "gpt2").mkdir()
    save_file(_gpt2_state(source), str(tmp_path / "gpt2" / "model.safetensors"))
    train_tokenizer().save(str(tmp_path / "gpt2" / "tokenizer.json"))
    tiny_config().save(tmp_path / "model.json")

    cfg = TrainConfig(train="t.csv", vit_weights=str(tmp_path / "vit.safetensors"),
                      gpt2_weights=str(tmp_path / "gpt2"), model_config=str(tmp_path / "model.json"))
    model, tokenizer, provenance = from_backbones(cfg)
    assert provenance["init"] == "backbones" and tokenizer.vocab_size <= model.config.vocab_size
    mine, theirs = model.state_dict(), source.state_dict()
    for key in theirs:
        if any(key.endswith(n) for n in NEW_CROSS_ATTENTION_KEYS):
            continue
        assert torch.equal(mine[key], theirs[key]), key  # the encoder starts pretrained too


def test_from_scratch_follows_the_trained_tokenizer_and_can_start_with_sincos_positions(tmp_path):
    tiny_config(vocab_size=999, bos_token_id=5, eos_token_id=5, pad_token_id=5).save(tmp_path / "m.json")
    cfg = TrainConfig(train="t.csv", init="scratch", model_config=str(tmp_path / "m.json"),
                      pos_embed_init="sincos", pos_embed_scale=0.5)
    model, tokenizer, provenance = from_scratch(cfg, ["a red circle", "a blue square above a red circle"] * 5)
    assert model.config.vocab_size == tokenizer.vocab_size < 999
    assert model.config.bos_token_id == model.config.eos_token_id == tokenizer.token_id("<|endoftext|>") == 0
    grid = 32 // 8
    expected = 0.5 * sincos_position_embedding(grid, 32)
    assert torch.equal(model.encoder.pos_embed[0, 1:], expected)
    assert provenance["pos_embed_init"] == "sincos"


def test_sincos_positions_are_distinct_and_separate_rows_from_columns():
    table = sincos_position_embedding(4, 16)  # (16 patches, 16 channels)
    assert table.shape == (16, 16)
    assert len({tuple(row.tolist()) for row in table}) == 16
    # patch (r, c) is row-major index r * 4 + c: the first half of the channels follows the row
    assert torch.equal(table[1, :8], table[0, :8]) and not torch.equal(table[4, :8], table[0, :8])
    assert torch.equal(table[4, 8:], table[0, 8:]) and not torch.equal(table[1, 8:], table[0, 8:])


def test_a_bundle_is_fine_tuned_with_all_its_parts(tmp_path):
    path = make_tiny_bundle(tmp_path / "b")
    model, tokenizer, provenance = from_bundle(TrainConfig(train="t.csv", init="bundle", init_bundle=str(path)))
    assert model.training and all(p.requires_grad and p.is_leaf for p in model.parameters())
    assert provenance["init_bundle_name"] == "tiny-test" and tokenizer.vocab_size <= model.config.vocab_size
