"""TrainConfig JSON round trip, stage specs, and flags over a config file."""

from __future__ import annotations

import pytest

from training.config import AugmentConfig, Stage, TrainConfig, parse_stages, stage_preset
from training.train import build_config, build_parser


def test_train_config_round_trips_through_json():
    cfg = TrainConfig(
        train="t.csv", stages=parse_stages("0:heads:decoder.*;3:all:*"), augment=AugmentConfig(hflip="off"),
        epochs=7, lr=2e-3, precision="bf16",
    )
    again = TrainConfig.from_json(cfg.to_json())
    assert again == cfg
    assert again.stages == [Stage(0, "heads", ["decoder.*"]), Stage(3, "all", ["*"])]


def test_defaults_are_the_visiongpt2_recipe():
    cfg = TrainConfig(train="t.csv")
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.div_factor) == (5, 32, 1e-4, 25.0)
    assert [s.name for s in cfg.resolved_stages()] == ["cross-attention", "gpt2", "all"]
    assert [s.start_epoch for s in cfg.resolved_stages()] == [0, 1, 2]
    scratch = TrainConfig(train="t.csv", init="scratch", model_config="m.json")
    assert scratch.resolved_stages() == stage_preset("all")


@pytest.mark.parametrize("bad", [
    {"precision": "fp8"},
    {"init": "scratch"},  # without model_config
    {"stages": [Stage(1, "late", ["*"])]},
    {"stages": [Stage(0, "a", ["*"]), Stage(0, "b", ["*"])]},
    {"batch_size": 0},
])
def test_invalid_configs_name_the_problem(bad):
    with pytest.raises(ValueError):
        TrainConfig(train="t.csv", **bad)


def test_unknown_keys_and_bad_stage_specs_are_refused():
    with pytest.raises(ValueError, match="bogus"):
        TrainConfig.from_dict({"train": "t.csv", "bogus": 1})
    with pytest.raises(ValueError, match="START:NAME:GLOB"):
        parse_stages("decoder.*")


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(TrainConfig(train="a.csv", epochs=9, lr=5e-4).to_json())
    args = build_parser().parse_args([
        "--config", str(path), "--epochs", "3", "--from-scratch", "--model-config", "m.json",
        "--stages", "all", "--no-augment", "--hflip", "off",
    ])
    cfg = build_config(args)
    assert (cfg.train, cfg.epochs, cfg.lr) == ("a.csv", 3, 5e-4)
    assert cfg.init == "scratch" and cfg.stages == stage_preset("all")
    assert not cfg.augment.enabled and cfg.augment.hflip == "off"
