"""Stopping on a signal: real signals sent to a training subprocess save a checkpoint at the
next step boundary, print the resume command and exit 75; the resume is bit-exact; a second
signal stops at once. The child waits at a chosen step until the signal has arrived (it writes
a marker file for the test to wait on), so no machine is too fast or too slow for the test."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import torch

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
from training.preemption import (
    EXIT_PREEMPTED,
    STOP_SIGNALS,
    Interrupted,
    SignalStop,
    resume_command,
)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return shapes_dataset(tmp_path_factory.mktemp("shapes"), 60, seed=3)


def flags(shapes: Path, model_json: Path) -> list[str]:
    return ["--train", str(shapes / "train.csv"), "--val", str(shapes / "val.csv"), "--from-scratch",
            "--model-config", str(model_json), "--epochs", "2", "--batch-size", "8", "--lr", "3e-3",
            "--precision", "fp32", "--workers", "0", "--threads", "1", "--no-progress", "--no-plot",
            "--no-tensorboard", "--log-every", "1"]


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
def test_sigterm_saves_a_checkpoint_says_how_to_resume_and_the_resume_is_bit_exact(shapes, tmp_path):
    model_json = model_config_file(tmp_path / "model.json")
    whole = tmp_path / "whole"
    assert training_main(["train", *flags(shapes, model_json), "--out", str(whole)]) == 0

    out = tmp_path / "run"
    with paused_run(tmp_path, ["train", *flags(shapes, model_json), "--out", str(out)], pause_at=3) as (
            process, marker, log):
        wait_for_file(marker, process, log)
        process.send_signal(signal.SIGTERM)
        code = wait_for_exit(process)
    text = log.read_text()
    assert code == EXIT_PREEMPTED == 75, text[-3000:]
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-00000003"  # the next step boundary
    state = load_checkpoint(out).state
    assert state["epoch_progress"]["steps"] == 3 and state["epochs_done"] == 0
    assert "SIGTERM: saving a checkpoint at the next step boundary" in text
    assert f"checkpoint {out / 'checkpoints' / 'step-00000003'}" in text
    assert f"resume with: {resume_command(out)}" in text
    assert resume_command(out) == f"python -m training train --resume --out {out}"

    assert training_main(["train", "--resume", "--out", str(out), "--no-progress"]) == 0
    a, b = final_weights(whole), final_weights(out)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name  # bit for bit
    with (out / "steps.csv").open() as stream:
        steps = [line.split(",")[0] for line in stream.read().splitlines()[1:]]
    assert steps == [str(s) for s in range(1, len(steps) + 1)]  # each step logged once


@pytest.mark.parametrize("name", ["SIGINT", "SIGUSR1"])
def test_ctrl_c_and_sigusr1_stop_at_the_next_step_boundary_too(shapes, tmp_path, name):
    if not hasattr(signal, name) or sys.platform == "win32":
        pytest.skip(f"no {name} here")
    model_json = model_config_file(tmp_path / "model.json")
    out = tmp_path / "run"
    with paused_run(tmp_path, ["train", *flags(shapes, model_json), "--out", str(out)], pause_at=2) as (
            process, marker, log):
        wait_for_file(marker, process, log)
        process.send_signal(getattr(signal, name))
        assert wait_for_exit(process) == EXIT_PREEMPTED, log.read_text()[-3000:]
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-00000002"
    assert "resume with: python -m training train --resume --out" in log.read_text()


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
def test_a_second_signal_stops_at_once_and_names_the_newest_checkpoint(shapes, tmp_path):
    model_json = model_config_file(tmp_path / "model.json")
    out = tmp_path / "run"
    argv = ["train", *flags(shapes, model_json), "--out", str(out), "--checkpoint-every-steps", "2"]
    with paused_run(tmp_path, argv, pause_at=3, env={"WAIT_AGAIN": "1", "REPEAT_WINDOW_S": "0"}) as (
            process, marker, log):
        wait_for_file(marker, process, log)
        process.send_signal(signal.SIGTERM)
        wait_for_file(marker.with_suffix(".again"), process, log)  # the first one arrived
        process.send_signal(signal.SIGTERM)
        wait_for_exit(process)
    text = log.read_text()
    assert process.returncode == 128 + signal.SIGTERM == 143, text[-3000:]
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-00000002"  # none at step 3
    assert f"SIGTERM: stopped at once; the newest checkpoint is {out / 'checkpoints' / 'step-00000002'}" in text
    assert f"resume with: {resume_command(out)}" in text


def test_an_interruption_before_any_checkpoint_offers_no_resume(tmp_path, caplog):
    from training.train import say_interrupted

    with caplog.at_level("ERROR"):
        say_interrupted(KeyboardInterrupt(), tmp_path / "run", 1)
    assert "before any checkpoint of this run was written: nothing to resume" in caplog.text
    assert "--resume" not in caplog.text


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on this platform")
def test_signal_stop_defers_only_the_first_signal_inside_the_loop_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGUSR1)
    now = [0.0]
    with SignalStop(announce=False, clock=lambda: now[0]) as stop:
        assert signal.getsignal(signal.SIGUSR1) == stop._handle
        with pytest.raises(Interrupted) as info:  # outside the loop: nothing to save, stop at once
            signal.raise_signal(signal.SIGUSR1)
        assert info.value.exit_code == 128 + signal.SIGUSR1
        with stop.deferred():
            signal.raise_signal(signal.SIGUSR1)
            assert stop.requested == signal.SIGUSR1 and stop.name == "SIGUSR1"
            now[0] = stop.repeat_window_s / 2  # the same request arriving twice (torchrun, SLURM)
            signal.raise_signal(signal.SIGUSR1)
            now[0] = stop.repeat_window_s
            with pytest.raises(Interrupted):
                signal.raise_signal(signal.SIGUSR1)
    assert signal.getsignal(signal.SIGUSR1) == before
    assert {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1} <= set(STOP_SIGNALS)


def test_resume_command_under_torchrun(monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert resume_command("/runs/x y", 4) == "torchrun --nproc-per-node 4 -m training train --resume --out '/runs/x y'"
    assert resume_command("/runs/x", 8).startswith("torchrun <this job's --nnodes/--rdzv options>")


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to find the DataLoader workers")
def test_a_signal_sent_to_every_process_of_the_job_still_saves_the_checkpoint(shapes, tmp_path):
    """SLURM signals every process of a job step, a terminal's Ctrl-C the whole process group:
    the DataLoader workers get the signal too, and must leave it to the main process."""
    model_json = model_config_file(tmp_path / "model.json")
    argv = flags(shapes, model_json)
    argv[argv.index("--workers") + 1] = "2"
    out = tmp_path / "run"
    with paused_run(tmp_path, ["train", *argv, "--out", str(out)], pause_at=3) as (process, marker, log):
        wait_for_file(marker, process, log)
        workers = _children(process.pid)
        assert workers, "the DataLoader workers should be running"
        for pid in [*workers, process.pid]:
            os.kill(pid, signal.SIGTERM)
        code = wait_for_exit(process)
    text = log.read_text()
    assert code == EXIT_PREEMPTED, text[-3000:]
    assert "killed by signal" not in text
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-00000003"
