"""DDP: two gloo processes under torchrun train the same weights as one process with the same
global batch (dropout 0, no augmentation, fp32), and log the same global loss. Tolerance: 1e-5
absolute per weight; the processes sum the same gradients in a different order, so bit equality
is not expected. A signal to one process stops both at the same step with one checkpoint, which
one process resumes with the epoch's sums of both."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys

import pytest

from tests.training.trainkit import (
    final_weights,
    model_config_file,
    paused_run,
    shapes_dataset,
    wait_for_exit,
    wait_for_file,
)
from training.__main__ import main as training_main
from training.checkpoint import load_checkpoint

TOLERANCE = 1e-5


def _command(data, out, model_json) -> list[str]:
    return [
        "train", "--train", str(data / "train.csv"), "--val", str(data / "val.csv"),
        "--from-scratch", "--model-config", str(model_json), "--stages", "backbones",
        "--epochs", "2", "--batch-size", "8", "--lr", "3e-3", "--precision", "fp32",
        "--no-augment", "--workers", "0", "--threads", "1", "--device", "cpu",
        "--no-progress", "--log-every", "1", "--out", str(out),
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
    # each step's logged loss is over both processes' tokens, as one process's over the same batch
    steps = [_column(tmp_path / run / "steps.csv", "loss") for run in ("one", "two")]
    assert len(steps[0]) == 8 and steps[0] == pytest.approx(steps[1], abs=1e-5)
    train_losses = [_column(tmp_path / run / "metrics.csv", "train_loss") for run in ("one", "two")]
    assert train_losses[0] == pytest.approx(train_losses[1], abs=1e-5)


def _column(path, name) -> list[float]:
    with path.open() as stream:
        return [float(row[name]) for row in csv.DictReader(stream)]


# Under torchrun: one square weight gets other strides after DDP is built (the same values), so
# that each process's backward raises PyTorch's "Grad strides do not match" warning.
RESTRIDED = """
import training.trainer as trainer_module
wrap = trainer_module.Trainer._wrap
def wrap_and_restride(self):
    net = wrap(self)
    for p in self.model.parameters():
        if p.requires_grad and p.dim() == 2 and p.shape[0] == p.shape[1]:
            p.data = p.data.t().contiguous().t()
            break
    return net
trainer_module.Trainer._wrap = wrap_and_restride
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")
@pytest.mark.parametrize("target", ["rank 1", "torchrun"])
def test_a_signal_stops_both_processes_at_one_step_and_one_process_resumes_with_both_sums(tmp_path, caplog, target):
    """To rank 1 only (SIGUSR1): the processes agree at the next step. To torchrun (SIGTERM, as
    SLURM and Kubernetes send it): torchrun passes it on to every worker."""
    data = shapes_dataset(tmp_path / "shapes", 60, seed=3)  # 6 steps an epoch at batch 8
    model_json = model_config_file(tmp_path / "model.json")
    out = tmp_path / "run"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    with paused_run(tmp_path, _command(data, out, model_json), pause_at=3, env={"PAUSE_RANK": "1"},
                    launch=RESTRIDED, runner=torchrun) as (process, marker, log):
        wait_for_file(marker, process, log)
        if target == "rank 1":
            os.kill(int(marker.read_text()), signal.SIGUSR1)
        else:
            process.send_signal(signal.SIGTERM)
        wait_for_exit(process)
    text = log.read_text()
    assert process.returncode != 0, text[-3000:]  # torchrun reports its workers' 75 as a failure
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-00000003", text[-3000:]
    state = load_checkpoint(out).state
    ranks = state["epoch_progress"]["ranks"]
    assert len(ranks) == 2 and all(r["samples"] == 3 * 4 for r in ranks)
    assert "resume with: torchrun --nproc-per-node 2 -m training train --resume --out" in text
    assert text.count("Grad strides do not match") == 1  # rank 0's; the other rank's is not repeated
    if target == "torchrun":
        assert "stopped by SIGTERM at step 3" in text
        return
    assert "stopped by a stop signal to another process at step 3" in text

    with caplog.at_level("INFO"):
        assert training_main(["train", "--resume", "--out", str(out), "--stop-after-step", "4", "--no-progress"]) == 0
    assert "sums come from 2 process(es), this run has 1: rank 0 carries their totals" in caplog.text
    after = load_checkpoint(out).state["epoch_progress"]["ranks"]
    assert len(after) == 1
    assert after[0]["samples"] == sum(r["samples"] for r in ranks) + 8  # both processes' and step 4's
    assert after[0]["tokens"] > sum(r["tokens"] for r in ranks) and after[0]["nll"] > sum(r["nll"] for r in ranks)
