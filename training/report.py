"""Per-epoch metrics of a run: OUT/metrics.csv and a loss/perplexity plot, OUT/metrics.png."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

from core.atomic import atomic_write, atomic_write_text

COLUMNS = (
    "epoch", "stage", "train_loss", "train_ppl", "val_loss", "val_ppl", "lr",
    "seconds", "samples_per_s", "steps", "bad_images", "val_exact_match", "val_bleu4",
)


def write_metrics_csv(path: Path, history: Sequence[dict]) -> None:
    """The whole history, rewritten atomically each epoch (so a resumed run stays consistent)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})
    atomic_write_text(path, buffer.getvalue())


def write_plot(path: Path, history: Sequence[dict]) -> None:
    """Train/val loss and perplexity per epoch, side by side (matplotlib, Agg, imported here)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

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
        axes.legend()
        axes.grid(alpha=0.3)
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
