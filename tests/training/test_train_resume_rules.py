"""What a resume accepts: the values, not the flags. The original command run again with
--resume added goes on; a real change is refused with its old and new value; runtime settings
may change, --threads with a warning that the run is then not bit-exact."""

from __future__ import annotations

import json

import pytest

from tests.training.trainkit import model_config_file, shapes_dataset, tiny_run
from training.__main__ import main as training_main
from training.checkpoint import RESUME_FIELDS, load_checkpoint, resume_config
from training.trainer import train


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return shapes_dataset(tmp_path_factory.mktemp("shapes"), 40, seed=6)


def test_the_original_command_with_resume_added_is_accepted(shapes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model_config_file(tmp_path / "model.json")
    config = tmp_path / "base.json"
    config.write_text(json.dumps({"train": str(shapes / "train.csv"), "val": str(shapes / "val.csv"),
                                  "init": "scratch", "model_config": "model.json", "epochs": 2,
                                  "batch_size": 8, "precision": "fp32"}))
    command = ["train", "--config", "base.json", "--set", "augment.hflip=off", "--stages", "all",
               "--lr", "3e-3", "--weight-decay", "0", "--clip-grad", "1.0", "--workers", "0", "--threads", "1",
               "--no-progress", "--no-plot", "--no-tensorboard", "--out", "run"]
    assert training_main([*command, "--stop-after-epoch", "1"]) == 0
    assert training_main([*command, "--resume"]) == 0  # every value equals the stored one
    state = load_checkpoint(tmp_path / "run").state
    assert state["epochs_done"] == 2 and state["train_config"]["lr"] == 3e-3
    assert state["commands"][-1].endswith("--out run --resume")


def test_a_real_change_is_refused_with_its_old_and_new_value(shapes, tmp_path, capsys):
    out = tmp_path / "run"
    train(tiny_run(shapes, out), stop_after_epoch=1, progress=False)
    with pytest.raises(ValueError) as info:
        resume_config(out, {"lr": 1e-3, "batch_size": 4, "epochs": 3, "workers": 1})
    message = str(info.value)
    assert "cannot change batch_size 8 -> 4, lr 0.003 -> 0.001:" in message and "\n" not in message
    assert "workers" not in message.split(":")[0] and "epochs" not in message.split(":")[0]  # those may change
    assert "A resume may change" in message and "threads" in message
    # from the command line: exit status 2, the same line
    with pytest.raises(SystemExit) as exit_info:
        training_main(["train", "--resume", "--out", str(out), "--lr", "1e-3"])
    assert exit_info.value.code == 2
    assert "cannot change lr 0.003 -> 0.001" in capsys.readouterr().err
    # equal values are no change: the same lr spelled otherwise, the stages as resolved
    assert resume_config(out, {"lr": 0.003, "stages": [{"start_epoch": 0, "name": "all", "trainable": ["*"]}]}).lr == 3e-3


def test_threads_may_change_on_resume_with_a_warning_that_it_is_no_longer_bit_exact(shapes, tmp_path, caplog):
    out = tmp_path / "run"
    train(tiny_run(shapes, out), stop_after_epoch=1, progress=False)
    assert {"threads", "workers", "device", "epochs", "eval_every_steps", "tracker"} <= RESUME_FIELDS
    with caplog.at_level("WARNING"):
        train(resume_config(out, {"threads": 2}), resume=out, progress=False)
    assert "threads 1 -> 2 on resume: the run goes on correctly but is no longer bit-exact" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):  # and no warning where nothing changed
        train(resume_config(out, {"epochs": 3, "workers": 1}), resume=out, progress=False)
    assert "bit-exact" not in caplog.text


def test_stop_after_a_step_already_passed_trains_nothing(shapes, tmp_path, caplog):
    out = tmp_path / "run"
    train(tiny_run(shapes, out), stop_after_step=3, progress=False)
    with caplog.at_level("WARNING"):
        result = train(resume_config(out), resume=out, stop_after_step=2, progress=False)
    assert "already at step 3, at or past --stop-after-step 2: nothing to train" in caplog.text
    assert load_checkpoint(out).state["step"] == 3 and result.stopped == "--stop-after-step 2"
