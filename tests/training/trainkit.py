"""Small synthetic datasets and tiny training configs for the training-loop tests."""

from __future__ import annotations

import csv
from pathlib import Path

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
