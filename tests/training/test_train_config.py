"""TrainConfig JSON round trip, stage specs, and flags over a config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.__main__ import main
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


def test_the_readme_states_the_defaults_and_the_precision_policy_the_code_has(monkeypatch):
    import torch

    from training.runtime import Precision

    readme = (Path(__file__).parents[2] / "docs" / "training.md").read_text(encoding="utf-8")
    section = readme[readme.index("# Training your own captioner"):readme.index("## Proof that it learns")]
    section = " ".join(section.split())  # phrases across line breaks
    cfg = TrainConfig(train="t.csv")
    assert cfg.clip_grad == 1.0 and "Gradient clipping at global norm 1.0 by default" in section
    assert cfg.kind == "auto" and "`--kind auto` (the default)" in section
    assert cfg.checkpoint_every_minutes == 15 and "`--checkpoint-every-minutes` (default 15" in section
    assert cfg.precision == "auto" and "bf16 autocast wherever the GPU supports bf16" in section
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert Precision.of("auto", cuda).name == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert Precision.of("auto", cuda).name == "fp16" and "otherwise fp16 autocast with a GradScaler" in section


# --- config files are checked, and --set overrides them ---


@pytest.mark.parametrize(("text", "expected"), [
    ('{"train": "a.csv", "lr": "fast"}', 'lr: expected a number, got the string "fast"'),
    ('{"train": "a.csv", "epochs": "3"}', 'epochs: expected an integer, got the string "3"'),
    ('{"train": "a.csv", "augment": {"hflip_p": true}}', "augment.hflip_p: expected a number, got true"),
    ('{"train": "a.csv", "stages": [{"start_epoch": 0, "name": "a"}]}', "stages[0]: missing trainable"),
    ('{"train": "a.csv", "bogus": 1}', "unknown training config keys: bogus"),
    ('{"train": "a.csv",\n "epochs": 3,\n}', "line 3, column 1: not valid JSON"),
    ('["train"]', "expected a JSON object of training settings"),
])
def test_a_bad_config_file_is_named_with_the_key_and_the_expected_type(tmp_path, capsys, text, expected):
    path = tmp_path / "train.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", str(path)])
    assert info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{path}: {expected}" in error  # one line: the file, the key, what was expected


def test_set_overrides_the_config_file_typed_by_its_fields(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(TrainConfig(train="a.csv", epochs=9, lr=5e-4, val="v.csv").to_json())
    args = build_parser().parse_args([
        "--config", str(path), "--set", "lr=3e-4", "--set", "epochs=4", "--set", "keep_best_checkpoint=yes",
        "--set", "augment.hflip=off", "--set", "augment.color_jitter=0.1,0.1,0.1,0", "--set", "val=none",
        "--set", "stages=0:heads:decoder.*;2:all:*", "--batch-size", "16",
    ])
    cfg = build_config(args)
    assert (cfg.lr, cfg.epochs, cfg.batch_size, cfg.val) == (3e-4, 4, 16, None)
    assert cfg.keep_best_checkpoint is True and cfg.augment.hflip == "off"
    assert cfg.augment.color_jitter == (0.1, 0.1, 0.1, 0.0)
    assert cfg.stages == parse_stages("0:heads:decoder.*;2:all:*")


@pytest.mark.parametrize(("argv", "expected"), [
    (["--set", "lr=fast"], "--set lr=fast: lr expects a number"),
    (["--set", "epochs=2.5"], "--set epochs=2.5: epochs expects an integer"),
    (["--set", "plot=maybe"], "--set plot=maybe: plot expects true or false"),
    (["--set", "lr"], "expected KEY=VALUE"),
    (["--set", "nope=1"], "unknown key 'nope'"),
    (["--set", "augment.nope=1"], "unknown key 'augment.nope'"),
    (["--set", "stages=decoder.*"], "is not START:NAME:GLOB"),
    (["--set", "lr=1e-3", "--lr", "2e-3"], "lr: given both by --set and by a flag"),
    (["--set", "augment.enabled=false", "--no-augment"], "augment.enabled: given both"),
])
def test_bad_set_items_are_named(capsys, argv, expected):
    with pytest.raises(SystemExit) as info:
        main(["train", "--train", "a.csv", *argv])
    assert info.value.code == 2
    assert expected in capsys.readouterr().err


def test_new_options_are_checked():
    for bad, word in [({"optimizer": "sgd"}, "optimizer"), ({"schedule": "step"}, "schedule"),
                      ({"warmup_steps": 10}, "cosine"), ({"best_metric": "val_bleu4"}, "val_generate"),
                      ({"ema_decay": 1.0}, "ema_decay"), ({"tracker": "comet"}, "tracker")]:
        with pytest.raises(ValueError, match=word):
            TrainConfig(train="t.csv", **bad)
    ok = TrainConfig(train="t.csv", optimizer="adamw", schedule="cosine", warmup_steps=10, ema_decay=0.999,
                     best_metric="val_bleu4", val_generate=8, tracker="wandb")
    assert TrainConfig.from_json(ok.to_json()) == ok
    assert TrainConfig(train="t.csv").optimizer == "adam"  # the original recipe stays the default
