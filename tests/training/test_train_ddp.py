"""DDP: two gloo processes under torchrun train the same weights as one process with the same
global batch (dropout 0, no augmentation, fp32). Tolerance: 1e-5 absolute per weight; the
processes sum the same gradients in a different order, so bit equality is not expected."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from tests.training.trainkit import final_weights, model_config_file, shapes_dataset

TOLERANCE = 1e-5


def _command(data, out, model_json) -> list[str]:
    return [
        "train", "--train", str(data / "train.csv"), "--val", str(data / "val.csv"),
        "--from-scratch", "--model-config", str(model_json), "--stages", "backbones",
        "--epochs", "2", "--batch-size", "8", "--lr", "3e-3", "--precision", "fp32",
        "--no-augment", "--workers", "0", "--threads", "1", "--device", "cpu",
        "--no-progress", "--out", str(out),
    ]


def test_two_gloo_processes_match_one_process(tmp_path):
    data = shapes_dataset(tmp_path / "shapes", 40, seed=4)
    model_json = model_config_file(
        tmp_path / "model.json", embd_dropout=0.0, attn_dropout=0.0, resid_dropout=0.0
    )
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    one = subprocess.run(
        [sys.executable, "-m", "training", *_command(data, tmp_path / "one", model_json)],
        cwd=root, env=env, capture_output=True, text=True, timeout=240,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "training", *_command(data, tmp_path / "two", model_json)],
        cwd=root, env=env, capture_output=True, text=True, timeout=240,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert "rank 0 of 2 joined the gloo process group" in two.stderr

    a, b = final_weights(tmp_path / "one"), final_weights(tmp_path / "two")
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst <= TOLERANCE, f"max abs difference {worst:.3g}"
    print(f"DDP vs one process: max abs weight difference {worst:.3g}")
    # only rank 0 writes: one set of outputs, laid out as a single process's
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    losses = [_column(tmp_path / run / "metrics.csv", "val_loss") for run in ("one", "two")]
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)  # val sums gathered from both ranks
    assert losses[0][-1] < losses[0][0]  # and it did train


def _column(path, name) -> list[float]:
    with path.open() as stream:
        return [float(row[name]) for row in csv.DictReader(stream)]
