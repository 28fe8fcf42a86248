"""What a run leaves behind while and after it trains: the written splits and the best bundle
scored on them, steps.csv and TensorBoard, the plot after every epoch, early stopping, the ETA."""

from __future__ import annotations

import csv
import importlib.util
import json

import pytest

from tests.training.trainkit import shapes_dataset, tiny_run
from training.__main__ import main as training_main
from training.checkpoint import load_checkpoint
from training.report import plot_history
from training.trainer import Trainer, train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return shapes_dataset(tmp_path_factory.mktemp("shapes"), 40, seed=5)


def _rows(path):
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_a_trainer_writes_nothing_until_it_runs(shapes, tmp_path):
    out = tmp_path / "run"
    trainer = Trainer(tiny_run(shapes, out, epochs=1), progress=False)
    try:
        assert not out.exists()
        trainer.run(stop_after_step=0)  # writes the setup, then has nothing to train
    finally:
        trainer.close()
    assert {p.name for p in out.iterdir()} >= {"tokenizer.json", "train_config.json", "splits"}


def test_the_split_is_written_and_the_best_bundle_is_scored_on_it(shapes, tmp_path, capsys):
    out = tmp_path / "run"
    result = train(tiny_run(shapes, out, val=None, val_fraction=0.25, max_new_tokens=8), progress=False)
    train_rows, val_rows = _rows(out / "splits" / "train.csv"), _rows(out / "splits" / "val.csv")
    data = load_checkpoint(out).state["data"]
    assert (len(train_rows), len(val_rows)) == (data["train"]["records"], data["val"]["records"])
    assert not {r["image"] for r in train_rows} & {r["image"] for r in val_rows}  # split by image
    assert all(r["image"].startswith(str(shapes)) for r in val_rows)  # absolute paths

    saved = json.loads((out / "val_metrics.json").read_text())
    assert saved == pytest.approx(result.val_metrics)
    assert saved["epoch"] == result.best_epoch and saved["captions"] == len(val_rows)
    assert {"bleu4", "cider", "rouge_l", "perplexity", "exact_match"} <= set(saved)
    # the same numbers from the evaluate command on the written split
    assert training_main(["evaluate", "--model", str(out / "bundle"), "--captions", str(out / "splits" / "val.csv"),
                          "--json", str(tmp_path / "again.json"), "--no-meteor", "--precision", "fp32",
                          "--max-tokens", "8"]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    for key in ("bleu4", "cider", "perplexity", "images", "captions"):
        assert again[key] == pytest.approx(saved[key], rel=1e-6), key


def test_steps_go_to_csv_and_tensorboard_and_the_plot_is_drawn_each_epoch(shapes, tmp_path, caplog):
    if importlib.util.find_spec("tensorboard") is None:
        pytest.skip("tensorboard is not installed (pip install visioncap[dev])")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    cfg = tiny_run(shapes, out, epochs=2, log_every=1, plot=True, tensorboard=True)
    with caplog.at_level("INFO"):
        train(cfg, stop_after_epoch=1, progress=False)  # an interrupted run has its plot already
    assert (out / "metrics.png").read_bytes().startswith(PNG_MAGIC)
    assert "run ETA" in caplog.text
    steps = _rows(out / "steps.csv")
    per_epoch = load_checkpoint(out).state["step"]
    assert [int(r["step"]) for r in steps] == list(range(1, per_epoch + 1))
    assert all(float(r["loss"]) > 0 and float(r["lr"]) > 0 for r in steps)

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, per_epoch + 1))
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx([float(r["loss"]) for r in steps])
    assert [e.step for e in events.Scalars("epoch/val_ppl")] == [per_epoch]


def test_without_tensorboard_a_one_line_note(shapes, tmp_path, caplog, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with caplog.at_level("INFO"):
        train(tiny_run(shapes, tmp_path / "run", epochs=1, tensorboard=True), progress=False)
    notes = [r.getMessage() for r in caplog.records if "TensorBoard" in r.getMessage()]
    assert len(notes) == 1 and "pip install tensorboard" in notes[0] and "\n" not in notes[0]
    assert not (tmp_path / "run" / "tensorboard").exists() and (tmp_path / "run" / "steps.csv").is_file()


def test_plot_ticks_are_whole_epochs():
    history = [dict(epoch=e, train_loss=3.0 - e, val_loss=3.1 - e, train_ppl=20.0 / (e + 1), val_ppl=22.0 / (e + 1))
               for e in range(3)]
    for axes in plot_history(history).axes:
        ticks = [t for t in axes.get_xticks() if -0.5 <= t <= 2.5]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_early_stopping_after_patience_epochs_without_a_better_val_perplexity(shapes, tmp_path, caplog):
    # lr 0: the weights never change, so no epoch beats epoch 0's val perplexity
    with caplog.at_level("INFO"):
        result = train(tiny_run(shapes, tmp_path / "run", epochs=6, lr=0.0, patience=2), progress=False)
    assert [row["epoch"] for row in result.history] == [0, 1, 2]
    assert result.best_epoch == 0 and "stopping early after epoch 2" in caplog.text
    assert (tmp_path / "run" / "val_metrics.json").is_file()  # an early stop is a finished run
