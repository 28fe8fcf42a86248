"""What a run reports while it runs.

    OUT/metrics.csv    one row per epoch (rewritten each epoch)
    OUT/metrics.png    loss and perplexity per epoch (redrawn each epoch)
    OUT/steps.csv      one row every `log_every` optimiser steps (appended; a resume drops the
                       rows past its checkpoint); the loss is over all processes' tokens
    OUT/evals.csv      one row per validation: each epoch's end and every `eval_every_steps`
                       (rewritten each time, from the run's record)
    OUT/tensorboard/   the same scalars for TensorBoard, when the `tensorboard` package is
                       installed (`pip install tensorboard`; `tensorboard --logdir OUT`)
    a tracker          the same scalars to W&B or MLflow when one is asked for (training.loggers)
"""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
import math
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from tqdm import tqdm

from core.atomic import atomic_write, atomic_write_text

logger = logging.getLogger(__name__)

COLUMNS = (
    "epoch", "stage", "train_loss", "train_ppl", "val_loss", "val_ppl", "lr",
    "seconds", "samples_per_s", "steps", "bad_images", "val_exact_match", "val_bleu4",
)
STEP_COLUMNS = ("step", "epoch", "loss", "lr", "samples_per_s", "elapsed_s")
EVAL_COLUMNS = ("step", "epoch", "val_loss", "val_ppl", "val_exact_match", "val_bleu4", "best")


def write_evals_csv(path: Path, evals: Sequence[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EVAL_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in evals:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in EVAL_COLUMNS})
    atomic_write_text(path, buffer.getvalue())


def write_metrics_csv(path: Path, history: Sequence[dict]) -> None:
    """The whole history, rewritten atomically each epoch (so a resumed run stays consistent)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})
    atomic_write_text(path, buffer.getvalue())


def plot_history(history: Sequence[dict]):
    """A matplotlib Figure: train/val loss and perplexity per epoch, side by side (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, ppl_axes = figure.subplots(1, 2)
    for split in ("train", "val"):
        loss_axes.plot(epochs, [row[f"{split}_loss"] for row in history], marker="o", label=split)
        ppl_axes.plot(epochs, [row[f"{split}_ppl"] for row in history], marker="o", label=split)
    loss_axes.set(xlabel="epoch", ylabel="loss (token NLL)", title="loss")
    ppl_axes.set(xlabel="epoch", ylabel="perplexity", title="perplexity")
    if all(row["val_ppl"] > 0 and math.isfinite(row["val_ppl"]) for row in history):
        ppl_axes.set_yscale("log")
    for axes in (loss_axes, ppl_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: no 0.5 ticks
        axes.legend()
        axes.grid(alpha=0.3)
    return figure


def write_plot(path: Path, history: Sequence[dict]) -> None:
    """`plot_history` as a PNG, replaced atomically; a note instead without matplotlib."""
    if importlib.util.find_spec("matplotlib") is None:
        logger.info("no %s: matplotlib is not installed (pip install visioncap[training])", path.name)
        return
    figure = plot_history(history)
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))


class StepLog:
    """Per-step scalars to OUT/steps.csv, OUT/tensorboard if `tensorboard` is installed, and a
    tracker (training.loggers) if one is given.

    `resume_step`: the step of the checkpoint a run resumes from; rows logged after it by the
    interrupted run are dropped (the CSV rewritten, TensorBoard's events purged past it).
    """

    def __init__(self, out: Path, resume_step: int = 0, tensorboard: bool = True, tracker=None):
        self.tracker = tracker
        self.path = out / "steps.csv"
        kept = []
        if resume_step and self.path.is_file():
            with self.path.open(encoding="utf-8", newline="") as stream:
                kept = [row for row in csv.DictReader(stream) if int(row["step"]) <= resume_step]
        self._write(kept, "w")
        self.writer = None
        if tensorboard:
            if importlib.util.find_spec("tensorboard") is None:
                logger.info("TensorBoard logging off: the tensorboard package is not installed "
                            "(pip install tensorboard); steps.csv has the same numbers")
            else:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out / "tensorboard"), purge_step=resume_step + 1 if resume_step else None)

    def _write(self, rows: list[dict], mode: str) -> None:
        with self.path.open(mode, encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=STEP_COLUMNS, lineterminator="\n")
            if mode == "w":
                writer.writeheader()
            writer.writerows(rows)

    def _scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)
        if self.tracker is not None:
            self.tracker.log(values, step)

    def step(self, row: dict) -> None:
        """Append one row of STEP_COLUMNS; as train/loss, train/lr, train/samples_per_s."""
        self._write([{k: row[k] for k in STEP_COLUMNS}], "a")
        self._scalars({f"train/{key}": row[key] for key in ("loss", "lr", "samples_per_s")}, row["step"])

    def evaluation(self, row: dict) -> None:
        """A validation's metrics at its step: val/loss, val/ppl and, when captions were scored,
        val/exact_match and val/bleu4."""
        self._scalars({f"val/{key[4:]}": row[key] for key in EVAL_COLUMNS
                       if key.startswith("val_") and row.get(key) is not None}, row["step"])

    def epoch(self, row: dict) -> None:
        """An epoch's metrics at the step it ended on (epoch/val_loss, epoch/val_ppl, ...)."""
        self._scalars({f"epoch/{key}": value for key, value in row.items()
                       if isinstance(value, (int, float)) and key not in ("epoch", "steps")}, row["steps"])
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def clock(seconds: float) -> str:
    """H:MM:SS."""
    return str(timedelta(seconds=round(seconds)))


class RunClock:
    """The whole run's progress bar (its ETA covers every remaining epoch, validation pauses
    included, since its rate is the average since this session began), the step log, and the
    clock of timed step checkpoints."""

    def __init__(self, total_steps: int, step: int, checkpoint_minutes: float, log: StepLog | None,
                 progress: bool = True):
        self.log = log
        self.total_steps = total_steps
        self.first_step = step
        self.started = time.perf_counter()
        self.every_s = checkpoint_minutes * 60
        self.last_checkpoint = time.monotonic()
        self.bar = tqdm(total=total_steps, initial=step, unit="step", smoothing=0, dynamic_ncols=True,
                        disable=not progress)

    def mark(self, nll: float, tokens: int, samples: int) -> None:
        """Where an epoch's running sums stand: its start, or the last row logged."""
        self._last = (nll, tokens, samples, time.perf_counter())

    def log_step(self, step: int, epoch: int, nll: float, tokens: int, samples: int, lr: float,
                 line: bool) -> None:
        """A steps.csv / TensorBoard row over the steps since the last mark (`nll`, `tokens`
        and `samples` are the epoch's running sums over all processes, so the loss is the
        global token-weighted one); with `line` and no progress bar, also a log line with the
        run's ETA."""
        nll0, tokens0, samples0, then = self._last
        now = time.perf_counter()
        self.mark(nll, tokens, samples)
        if tokens <= tokens0 or self.log is None:
            return
        loss = (nll - nll0) / (tokens - tokens0)
        self.log.step({"step": step, "epoch": epoch, "loss": loss, "lr": lr,
                       "samples_per_s": round((samples - samples0) / max(now - then, 1e-9), 2),
                       "elapsed_s": round(self.elapsed(), 2)})
        self.bar.set_postfix_str(f"loss {loss:.3f}, lr {lr:.2e}")
        if line and self.bar.disable:
            logger.info("epoch %d: step %d/%d, loss %.4f, run ETA %s", epoch, step, self.total_steps, loss,
                        clock(self.eta(step)))

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def eta(self, step: int) -> float:
        """Seconds to the end of the run at this session's average pace."""
        done = step - self.first_step
        return self.elapsed() / done * (self.total_steps - step) if done > 0 else 0.0

    def checkpoint_due(self) -> bool:
        return self.every_s > 0 and time.monotonic() - self.last_checkpoint >= self.every_s

    def checkpointed(self) -> None:
        self.last_checkpoint = time.monotonic()

    def close(self) -> None:
        self.bar.close()
        if self.log is not None:
            self.log.close()
