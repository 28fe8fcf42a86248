"""Small synthetic datasets, tiny training configs, and training subprocesses that wait for a
signal, for the training-loop tests."""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.tiny import tiny_config
from training.config import AugmentConfig, TrainConfig
from training.synthetic import generate_dataset


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["image", "caption"])
        writer.writerows(rows)
    return path


def read_csv_rows(path: Path) -> list[list[str]]:
    """The rows of an (image, caption) CSV, without its header."""
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))[1:]


def shapes_dataset(folder: Path, n: int, seed: int = 0, **kwargs) -> Path:
    """The synthetic shapes set at 32 px (train.csv, val.csv, test.csv in `folder`)."""
    generate_dataset(folder, n, seed, image_size=32, **kwargs)
    return folder


def colour_first_dataset(folder: Path, n: int, seed: int = 0) -> Path:
    """One shape per image, captioned "{colour} {kind}": the first word depends on the image."""
    samples = generate_dataset(folder, n, seed, image_size=32, max_shapes=1, val_fraction=0.1, test_fraction=0.0)
    rows = [(s.image.as_posix(), f"{s.shapes[0].colour} {s.shapes[0].kind}") for s in samples]
    write_csv(folder / "train.csv", rows[: n * 9 // 10])
    write_csv(folder / "val.csv", rows[n * 9 // 10 :])
    return folder


def model_config_file(path: Path, **overrides) -> Path:
    """A tiny CaptionerConfig JSON for --from-scratch runs (vocabulary set by the tokenizer)."""
    tiny_config(**overrides).save(path)
    return path


def tiny_run(data: Path, out: Path, **overrides) -> TrainConfig:
    """From scratch, fp32, no augmentation, no workers, no plot or TensorBoard: fast and
    exactly reproducible."""
    values = dict(
        train=str(data / "train.csv"),
        val=str(data / "val.csv"),
        init="scratch",
        model_config=str(model_config_file(out.parent / f"{out.name}-model.json")),
        stages=None,
        epochs=2,
        batch_size=8,
        lr=3e-3,
        precision="fp32",
        workers=0,
        threads=1,  # two spinning OpenMP threads on a busy 2-core machine are much slower
        augment=AugmentConfig(enabled=False),
        out=str(out),
        plot=False,  # a second per epoch on a busy machine; the tests of live logging turn it on
        tensorboard=False,
    )
    values.update(overrides)
    return TrainConfig(**values)


def final_weights(out: Path) -> dict:
    """The model tensors of a run's newest checkpoint."""
    folder = out / "checkpoints" / (out / "checkpoints" / "latest").read_text().strip()
    return {k: v for k, v in load_file(str(folder / "tensors.safetensors")).items() if k.startswith("model.")}


# --- training subprocesses that wait for a signal ---

ROOT = Path(__file__).parents[2]  # the repository
DEADLINE_S = 300  # only a guard against a hung child; no test measures time

# A child script: `python -m training ARGS` (or what `launch` says) with RunClock.log_step patched:
# after step PAUSE_AT (on rank PAUSE_RANK) it writes MARKER and waits until its SignalStop has
# a signal; with WAIT_AGAIN it then writes MARKER.again and waits for good (for a second one,
# which counts as one after REPEAT_WINDOW_S seconds).
CHILD = """
import os, sys, time
from pathlib import Path
import training.preemption as preemption
import training.report as report
from training.__main__ import main

pause_at, marker = int(os.environ["PAUSE_AT"]), Path(os.environ["MARKER"])
here = os.environ.get("RANK", "0") == os.environ.get("PAUSE_RANK", "0")
stops = []
enter = preemption.SignalStop.__enter__
def enter_and_keep(self):
    stops.append(self)
    return enter(self)
preemption.SignalStop.__enter__ = enter_and_keep
preemption.SignalStop.repeat_window_s = float(os.environ.get("REPEAT_WINDOW_S", "2"))
log_step = report.RunClock.log_step
def log_and_wait(self, step, *args, **kwargs):
    log_step(self, step, *args, **kwargs)
    if step == pause_at and here:
        marker.with_suffix(".tmp").write_text(str(os.getpid()))
        marker.with_suffix(".tmp").replace(marker)  # whole, or not there
        while stops[0].requested is None:
            time.sleep(0.01)
        if os.environ.get("WAIT_AGAIN"):
            marker.with_suffix(".again").write_text("")
            while True:
                time.sleep(0.01)
report.RunClock.log_step = log_and_wait
{launch}
"""
SINGLE = "sys.exit(main(sys.argv[1:]))"


def wait_for_file(path: Path, process: subprocess.Popen, log: Path) -> None:
    """Until the child writes `path` (a failure if it ends first)."""
    deadline = time.monotonic() + DEADLINE_S
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the child ended ({process.returncode}) before {path.name}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"no {path.name} after {DEADLINE_S} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


@contextlib.contextmanager
def paused_run(tmp_path: Path, argv: list[str], pause_at: int, env: dict | None = None, launch: str = SINGLE,
               runner: list[str] | None = None) -> Iterator[tuple[subprocess.Popen, Path, Path]]:
    """(the child, its marker file, its log); `runner` (default: this Python) runs the script.
    A child still running when the test ends (a failed assertion) is killed."""
    marker, log = tmp_path / "paused", tmp_path / "child.log"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(launch=launch))
    environment = {**os.environ, "PAUSE_AT": str(pause_at), "MARKER": str(marker), "OMP_NUM_THREADS": "1",
                   "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT), **(env or {})}
    with log.open("w") as stream:
        process = subprocess.Popen([*(runner or [sys.executable]), str(script), *argv], cwd=ROOT,
                                   env=environment, stdout=stream, stderr=subprocess.STDOUT)
    try:
        yield process, marker, log
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def wait_for_exit(process: subprocess.Popen) -> int:
    try:
        return process.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
