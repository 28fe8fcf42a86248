"""Training runs on a tiny model: exact resume, pickle-free checkpoints, outputs, bad images."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.bundles.bundle import load_bundle
from tests.training.trainkit import (
    final_weights,
    model_config_file,
    read_csv_rows,
    shapes_dataset,
    tiny_run,
    write_csv,
)
from training.__main__ import main as training_main
from training.checkpoint import load_checkpoint, resume_config
from training.config import AugmentConfig, stage_preset
from training.trainer import train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return shapes_dataset(tmp_path_factory.mktemp("shapes"), 60, seed=3)


def _resumable(shapes, out, **overrides):
    """Dropout on, augmentations on, stages switching: everything that draws random numbers."""
    return tiny_run(
        shapes, out, epochs=3, augment=AugmentConfig(hflip="on", shift_scale_rotate_p=0.5),
        **overrides,
    )


def test_a_run_stopped_at_an_epoch_end_and_mid_epoch_ends_with_the_same_weights(shapes, tmp_path):
    stages = stage_preset("backbones")  # stage changes at epochs 1 and 2, across the restarts
    whole = train(_resumable(shapes, tmp_path / "whole", stages=stages, grad_accum=2), progress=False)
    per_epoch = whole.history[0]["steps"]

    parted = _resumable(shapes, tmp_path / "parted", stages=stages, grad_accum=2, log_every=1)
    first = train(parted, stop_after_epoch=1, progress=False)
    assert len(first.history) == 1
    assert load_checkpoint(tmp_path / "parted").state["stage"]["name"] == "cross-attention"
    # resumed with more DataLoader workers: augmentations do not depend on who loads an item
    train(resume_config(tmp_path / "parted", {"workers": 2}), resume=tmp_path / "parted",
          stop_after_step=per_epoch + 3, progress=False)  # inside epoch 1, after a stage change
    state = load_checkpoint(tmp_path / "parted").state
    assert state["epochs_done"] == 1 and state["epoch_progress"]["steps"] == 3
    assert state["data_order"]["position"] == 3 * 2 * 4  # steps x accumulation x micro-batch
    last = train(resume_config(tmp_path / "parted"), resume=tmp_path / "parted", progress=False)

    assert [row["epoch"] for row in last.history] == [0, 1, 2]
    a, b = final_weights(tmp_path / "whole"), final_weights(tmp_path / "parted")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name  # bit-for-bit: max abs diff 0
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in last.history]
    assert load_checkpoint(tmp_path / "parted").state["step"] == load_checkpoint(tmp_path / "whole").state["step"]
    with (tmp_path / "parted" / "steps.csv").open() as stream:
        logged = [int(row["step"]) for row in csv.DictReader(stream)]
    assert logged == list(range(1, 3 * per_epoch + 1))  # each step once, across both restarts


def test_resume_refuses_a_changed_recipe_and_a_fresh_run_an_used_folder(shapes, tmp_path):
    train(tiny_run(shapes, tmp_path / "run", epochs=2), stop_after_epoch=1, progress=False)
    with pytest.raises(ValueError, match="already holds a run"):
        train(tiny_run(shapes, tmp_path / "run", epochs=2), progress=False)
    with pytest.raises(ValueError, match="lr"):
        resume_config(tmp_path / "run", {"lr": 1.0})
    changed = tiny_run(shapes, tmp_path / "run", epochs=2, lr=1.0)
    with pytest.raises(ValueError, match="lr"):
        train(changed, resume=tmp_path / "run", progress=False)


def test_run_outputs_checkpoints_without_pickle_metrics_plot_and_bundle(shapes, tmp_path):
    out = tmp_path / "run"
    result = train(tiny_run(shapes, out, keep_checkpoints=1, plot=True), progress=False)

    folders = sorted((out / "checkpoints").glob("step-*"))
    assert [f.name for f in folders] == [f"step-{result.history[-1]['steps']:08d}"]  # older ones pruned
    assert sorted(p.name for p in folders[0].iterdir()) == ["state.json", "tensors.safetensors", "tokenizer.json"]
    for path in folders[0].iterdir():
        data = path.read_bytes()
        assert not data.startswith(b"\x80") and not data.startswith(b"PK"), f"{path.name} looks pickled/zipped"
    tensors = folders[0] / "tensors.safetensors"
    header_len = int.from_bytes(tensors.read_bytes()[:8], "little")
    header = json.loads(tensors.read_bytes()[8 : 8 + header_len])
    assert any(k.startswith("optim.") and k.endswith(".exp_avg") for k in header)
    state = json.loads((folders[0] / "state.json").read_text())
    assert {"python", "numpy", "torch", "cuda"} <= set(state["rng"][0])
    assert state["epochs_done"] == 2 and state["scheduler"]["total_steps"] == state["step"]

    with (out / "metrics.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    for key in ("train_loss", "train_ppl", "val_loss", "val_ppl", "lr", "seconds", "samples_per_s", "stage"):
        assert rows[0][key] != ""
    assert (out / "metrics.png").read_bytes().startswith(PNG_MAGIC)

    bundle = load_bundle(out / "bundle")
    assert bundle.manifest.provenance["epoch"] == result.best_epoch
    best = min(result.history, key=lambda r: r["val_ppl"])
    assert bundle.manifest.provenance["val_perplexity"] == pytest.approx(best["val_ppl"])


def test_unreadable_images_and_bad_rows_are_skipped_and_counted(shapes, tmp_path, caplog):
    rows = read_csv_rows(shapes / "train.csv")
    broken = tmp_path / "broken.png"
    broken.write_bytes(PNG_MAGIC + b"truncated")
    train_csv = write_csv(tmp_path / "train.csv", [(str(shapes / image), caption) for image, caption in rows]
                          + [(str(broken), "a small red circle"), (str(broken), "a large red circle")])
    with train_csv.open("a") as stream:
        stream.write("only-one-cell\n")  # a malformed row: the reader skips and counts it
    # micro-batches of one image: the bad ones are empty micro-batches next to good ones
    cfg = tiny_run(shapes, tmp_path / "run", epochs=1, train=str(train_csv), batch_size=2, grad_accum=2)
    with caplog.at_level("WARNING"):
        result = train(cfg, progress=False)
    assert result.history[0]["bad_images"] == 2
    assert result.history[0]["train_loss"] > 0
    assert "skipped unreadable image" in caplog.text and "broken.png" in caplog.text
    assert "wrong number of cells" in caplog.text


def test_gradient_accumulation_matches_one_big_batch(shapes, tmp_path):
    """Same optimiser-step batch of 8: one micro-batch, or two of 4 with the loss normalised
    by the step's token count. Dropout 0; tolerance 1e-5 (the sums are ordered differently)."""
    model_json = model_config_file(tmp_path / "m.json", embd_dropout=0.0, attn_dropout=0.0, resid_dropout=0.0)
    train(tiny_run(shapes, tmp_path / "one", model_config=str(model_json)), progress=False)
    train(tiny_run(shapes, tmp_path / "two", model_config=str(model_json), grad_accum=2), progress=False)
    a, b = final_weights(tmp_path / "one"), final_weights(tmp_path / "two")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5


# --- a resume trains on its own data only, from any folder, and can run longer ---


def _copy_of(shapes, folder):
    """train.csv with absolute image paths, in a folder of its own (so the test may edit it)."""
    folder.mkdir()
    rows = read_csv_rows(shapes / "train.csv")
    write_csv(folder / "train.csv", [(str(shapes / image), caption) for image, caption in rows])
    return folder / "train.csv"


def test_resume_refuses_changed_data_in_one_line(shapes, tmp_path):
    train_csv = _copy_of(shapes, tmp_path / "data")
    cfg = tiny_run(shapes, tmp_path / "run", train=str(train_csv), val=None, val_fraction=0.2)
    train(cfg, stop_after_epoch=1, progress=False)
    state = load_checkpoint(tmp_path / "run").state
    rows = len(train_csv.read_text().splitlines()) - 1
    assert state["data"]["train"]["records"] + state["data"]["val"]["records"] == rows

    image = read_csv_rows(train_csv)[0][0]
    with train_csv.open("a") as stream:  # two more rows, as in the report that led here
        stream.write(f"{image},a new caption\n{image},another new caption\n")
    with pytest.raises(ValueError, match="the data changed since this run started") as info:
        train(resume_config(tmp_path / "run"), resume=tmp_path / "run", progress=False)
    message = str(info.value)
    assert "\n" not in message and "captions of" in message and "--init-bundle" in message

    rows = read_csv_rows(train_csv)[:-2]  # the rows back, but one image renamed
    rows[0][0] = rows[0][0].replace(".png", "-moved.png")
    (shapes / "images" / Path(rows[0][0]).name.replace("-moved", "")).rename(rows[0][0])
    try:
        write_csv(train_csv, [tuple(r) for r in rows])
        with pytest.raises(ValueError, match="the data changed"):
            train(resume_config(tmp_path / "run"), resume=tmp_path / "run", progress=False)
    finally:
        Path(rows[0][0]).rename(rows[0][0].replace("-moved", ""))


def test_a_relative_run_resumes_from_another_folder_and_records_every_command(shapes, tmp_path, monkeypatch):
    model_config_file(tmp_path / "model.json")
    monkeypatch.chdir(tmp_path)
    first = ["train", "--train", str(Path(os.path.relpath(shapes, tmp_path)) / "train.csv"), "--val-fraction",
             "0.2", "--from-scratch", "--model-config", "model.json", "--epochs", "2", "--batch-size", "8",
             "--precision", "fp32", "--no-augment", "--workers", "0", "--threads", "1", "--no-progress",
             "--no-plot", "--no-tensorboard", "--out", "run"]
    assert training_main([*first, "--stop-after-epoch", "1"]) == 0
    saved = load_checkpoint(tmp_path / "run").state["train_config"]
    assert Path(saved["train"]).is_absolute() and Path(saved["model_config"]).is_absolute()
    assert Path(saved["out"]) == tmp_path / "run"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert training_main(["train", "--resume", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    provenance = load_bundle(tmp_path / "run" / "bundle").manifest.provenance
    assert provenance["command"].endswith("--stop-after-epoch 1")
    # the bundle records no path of this machine: the run folder is "." (training.provenance)
    assert provenance["resume_commands"] == ["python -m training train --resume --out . --no-progress"]


def test_more_epochs_on_resume_rebuild_the_schedule_and_say_so(shapes, tmp_path, caplog):
    out = tmp_path / "run"
    done = train(tiny_run(shapes, out, epochs=2), progress=False)
    steps = done.history[-1]["steps"]
    with caplog.at_level("WARNING"):
        longer = train(resume_config(out, {"epochs": 4}), resume=out, progress=False)
    assert "epochs 2 -> 4: the OneCycle schedule is rebuilt" in caplog.text
    assert [row["epoch"] for row in longer.history] == [0, 1, 2, 3]
    state = load_checkpoint(out).state
    assert state["scheduler"]["total_steps"] == 2 * steps == state["step"]
    assert state["train_config"]["epochs"] == 4
    with pytest.raises(ValueError, match="already begun epoch 3"):
        train(resume_config(out, {"epochs": 3}), resume=out, progress=False)


# --- step checkpoints: a run stopped or killed part-way through an epoch resumes exactly ---


def test_step_checkpoints_by_count_and_by_time_keep_the_last_few(shapes, tmp_path):
    out = tmp_path / "steps"
    result = train(tiny_run(shapes, out, epochs=1, checkpoint_every_steps=2, keep_checkpoints=3), progress=False)
    steps = result.history[0]["steps"]
    names = sorted(p.name for p in (out / "checkpoints").glob("step-*"))
    assert names == [f"step-{s:08d}" for s in (steps - 1 - (steps - 1) % 2 - 2, steps - 1 - (steps - 1) % 2, steps)]

    timed = tmp_path / "timed"
    train(tiny_run(shapes, timed, epochs=1, checkpoint_every_minutes=1e-9, keep_checkpoints=100), progress=False)
    assert len(list((timed / "checkpoints").glob("step-*"))) == steps  # every step, as due


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_resumes_from_its_last_step_checkpoint_bit_exactly(shapes, tmp_path):
    model_json = model_config_file(tmp_path / "model.json")
    flags = ["--train", str(shapes / "train.csv"), "--val", str(shapes / "val.csv"), "--from-scratch",
             "--model-config", str(model_json), "--epochs", "2", "--batch-size", "8", "--lr", "3e-3",
             "--precision", "fp32", "--workers", "0", "--threads", "1", "--no-progress", "--no-plot",
             "--no-tensorboard"]
    assert training_main(["train", *flags, "--out", str(tmp_path / "whole")]) == 0

    killed = tmp_path / "killed"
    # the run kills itself (no clean-up, as kill -9) when about to save step 4's checkpoint: step
    # 4 is trained and lost, the resume redoes it from step 3's. A kill at a chosen point, so that
    # no machine is too fast or too busy for it.
    child = (
        "import os, signal, sys\n"
        "import training.checkpoint as ckpt\n"
        "from training.__main__ import main\n"
        "save = ckpt.save_checkpoint\n"
        "def save_or_die(folder, state, *args, **kwargs):\n"
        "    if state['step'] >= 4:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return save(folder, state, *args, **kwargs)\n"
        "ckpt.save_checkpoint = save_or_die\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", child, "train", *flags, "--out", str(killed), "--checkpoint-every-steps", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr[-3000:]
    assert (killed / "checkpoints" / "latest").read_text().strip() == "step-00000003"
    state = load_checkpoint(killed).state
    assert state["epoch_progress"] is not None or state["epochs_done"] < 2

    assert training_main(["train", "--resume", "--out", str(killed), "--no-progress"]) == 0
    a, b = final_weights(tmp_path / "whole"), final_weights(killed)
    for name in a:
        assert torch.equal(a[name], b[name]), name
