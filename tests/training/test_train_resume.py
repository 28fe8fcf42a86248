"""Training runs on a tiny model: exact resume, pickle-free checkpoints, outputs, bad images."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from core.bundle import load_bundle
from tests.training.trainkit import (
    final_weights,
    model_config_file,
    shapes_dataset,
    tiny_run,
    write_csv,
)
from training.checkpoint import load_checkpoint
from training.config import AugmentConfig, stage_preset
from training.trainer import resume_config, train

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


def test_a_stopped_and_resumed_run_ends_with_the_same_weights(shapes, tmp_path):
    stages = stage_preset("backbones")  # stage changes at epochs 1 and 2, across the restart
    whole = train(_resumable(shapes, tmp_path / "whole", stages=stages), progress=False)

    parted = _resumable(shapes, tmp_path / "parted", stages=stages)
    first = train(parted, stop_after_epoch=1, progress=False)
    assert len(first.history) == 1
    assert load_checkpoint(tmp_path / "parted").state["stage"]["name"] == "cross-attention"
    # resumed with more DataLoader workers: augmentations do not depend on who loads an item
    again = resume_config(tmp_path / "parted", {"workers": 2})
    second = train(again, resume=tmp_path / "parted", progress=False)

    assert [row["epoch"] for row in second.history] == [0, 1, 2]
    a, b = final_weights(tmp_path / "whole"), final_weights(tmp_path / "parted")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name  # bit-for-bit: max abs diff 0
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in second.history]
    assert load_checkpoint(tmp_path / "parted").state["step"] == load_checkpoint(tmp_path / "whole").state["step"]


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
    result = train(tiny_run(shapes, out, keep_checkpoints=1), progress=False)

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
    rows = list(csv.reader((shapes / "train.csv").open()))[1:]
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
