"""`python -m training train ...`: build a TrainConfig from flags (over an optional JSON file) and train.

    # the VisionGPT2 recipe from local backbone weights
    python -m training train --kind coco --train /data/coco --fraction 0.25 \\
        --vit-weights vit_b16.safetensors --gpt2-weights gpt2/ --out runs/coco
    # from scratch with a tokenizer trained on the captions
    python -m training train --train shapes/train.csv --val shapes/val.csv --from-scratch \\
        --model-config training/recipes/synthetic_tiny.json --stages all --out runs/shapes
    # continue an interrupted run exactly (from its last epoch or step checkpoint), or longer
    python -m training train --resume --out runs/shapes [--epochs 8]
    # a config file with a few values changed
    python -m training train --config runs/base.json --set lr=3e-4 --set augment.hflip=off --out runs/b
    # several processes (GPUs: NCCL; CPU: gloo)
    torchrun --nproc-per-node 2 -m training train ...

Flags override `--set` items, which override the --config file, which overrides TrainConfig's
defaults (a key given both by --set and by a flag is refused). With --resume, the values given
are compared with the run's: equal ones are no change (training.checkpoint says what may change).

SIGTERM, SIGINT (Ctrl-C) and SIGUSR1 save a checkpoint at the next step boundary and stop
(training.preemption); a second one stops at once. Exit status: 0 done (or stopped by
--stop-after-*), 2 a bad argument, dataset or checkpoint, 75 stopped by a signal with a
checkpoint to resume from, 128 + N stopped at once by signal N (130 for Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from training.annotations import KIND_CHOICES
from training.config import (
    ATTENTION_BACKENDS,
    BEST_METRICS,
    HFLIP_MODES,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TRACKERS,
    ConfigError,
    TrainConfig,
    parse_set,
    parse_stages,
    read_json_object,
)

S = argparse.SUPPRESS  # flags not given leave the config alone


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training train",
        description="Train a VisionGPT2 captioner; the best epoch becomes a bundle in OUT/bundle.",
        argument_default=S,
    )
    parser.add_argument("--config", type=Path, help="a TrainConfig JSON; --set and flags override it")
    parser.add_argument("--set", action="append", dest="set_values", metavar="KEY=VALUE",
                        help="override one config value, typed by its field (lr=3e-4, augment.hflip=off); repeatable")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")

    data = parser.add_argument_group("data")
    data.add_argument("--kind", choices=KIND_CHOICES, help="dataset layout (default auto: detected)")
    data.add_argument("--train", help="annotation file or dataset folder")
    data.add_argument("--images-dir", help="where the annotation's image names point")
    data.add_argument("--split", help="COCO split of --train under a COCO root (default train)")
    data.add_argument("--val", help="validation annotations (default: split off --train by image)")
    data.add_argument("--val-split", help="COCO split of --val (default val)")
    data.add_argument("--val-images-dir")
    data.add_argument("--val-fraction", type=float, help="of the images, without --val (default 0.05)")
    data.add_argument("--fraction", type=float, help="train on this fraction of the images")
    data.add_argument("--limit", type=int, help="train on at most this many captions")
    data.add_argument("--val-limit", type=int)
    data.add_argument("--no-augment", action="store_true", help="no training augmentations")
    data.add_argument("--hflip", choices=HFLIP_MODES, help="horizontal flip (auto: off if captions say left/right)")

    model = parser.add_argument_group("model")
    model.add_argument("--vit-weights", help="timm ViT safetensors file/folder, or a timm model name")
    model.add_argument("--gpt2-weights", help="GPT-2 folder (model.safetensors, tokenizer.json) or hub id")
    model.add_argument("--model-config", help="CaptionerConfig JSON")
    model.add_argument("--from-scratch", action="store_true", help="random weights of --model-config")
    model.add_argument("--init-bundle", help="fine-tune this bundle")
    model.add_argument("--tokenizer", help="tokenizer.json (default: GPT-2's, or trained on the captions)")
    model.add_argument("--tokenizer-vocab-size", type=int)
    model.add_argument("--pos-embed-init", choices=("random", "sincos"), help="from scratch: ViT position embeddings")
    model.add_argument("--pos-embed-scale", type=float, help="scale of the sincos position embeddings")

    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--stages", help='"backbones", "all", or "START:NAME:GLOB,GLOB;..."')
    optim.add_argument("--epochs", type=int)
    optim.add_argument("--batch-size", type=int, help="per optimiser step, over processes and accumulation")
    optim.add_argument("--grad-accum", type=int)
    optim.add_argument("--optimizer", choices=OPTIMIZERS, help="adam (default, the original) or adamw (decoupled decay)")
    optim.add_argument("--schedule", choices=SCHEDULES, help="onecycle (default, the original) or cosine with warm-up")
    optim.add_argument("--lr", type=float, help="peak learning rate")
    optim.add_argument("--warmup-steps", type=int, help="cosine: optimiser steps of linear warm-up")
    optim.add_argument("--min-lr-ratio", type=float, help="cosine: end at lr x this (default 0)")
    optim.add_argument("--div-factor", type=float)
    optim.add_argument("--final-div-factor", type=float)
    optim.add_argument("--pct-start", type=float)
    optim.add_argument("--weight-decay", type=float)
    optim.add_argument("--clip-grad", type=float, help="max gradient norm (0: off)")
    optim.add_argument("--label-smoothing", type=float)
    optim.add_argument("--ema-decay", type=float,
                       help="validate and export an average of the weights with this decay, e.g. 0.999 (0: off)")
    optim.add_argument("--precision", choices=PRECISIONS)
    optim.add_argument("--attention", choices=ATTENTION_BACKENDS,
                       help="attention kernel (math: faster on CPUs for small images)")

    run = parser.add_argument_group("run")
    run.add_argument("--out", help="run folder: checkpoints, metrics, bundle")
    run.add_argument("--resume", nargs="?", const="", help="continue from a checkpoint (default: --out's latest)")
    run.add_argument("--stop-after-epoch", type=int, help="stop once this many epochs are done")
    run.add_argument("--seed", type=int)
    run.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--workers", type=int, help="DataLoader worker processes")
    run.add_argument("--threads", type=int, help="torch CPU threads (0: default)")
    run.add_argument("--val-generate", type=int, help="caption this many val images per epoch")
    run.add_argument("--max-new-tokens", type=int)
    run.add_argument("--keep-checkpoints", type=int, help="checkpoint folders kept (default 2)")
    run.add_argument("--checkpoint-every-steps", type=int, help="also checkpoint every N steps in an epoch (0: off)")
    run.add_argument("--checkpoint-every-minutes", type=float,
                     help="also checkpoint when this long has passed since the last one (default 15; 0: off)")
    run.add_argument("--stop-after-step", type=int, help="stop after this optimiser step, with a checkpoint")
    run.add_argument("--patience", type=int, help="stop after N epochs without a better --best-metric (0: off)")
    run.add_argument("--eval-every-steps", type=int, help="also validate every N steps inside epochs (0: off)")
    run.add_argument("--best-metric", choices=BEST_METRICS,
                     help="what picks the best bundle (default val_loss; bleu4/exact match need --val-generate)")
    run.add_argument("--keep-best-checkpoint", action="store_true",
                     help="keep the best validation's checkpoint beside the newest --keep-checkpoints")
    run.add_argument("--tracker", choices=(*TRACKERS, "none"), help="also log to W&B or MLflow (when installed)")
    run.add_argument("--tracker-project", help="W&B project / MLflow experiment (default visioncap)")
    run.add_argument("--log-every", type=int, help="steps per row of steps.csv and TensorBoard (default 10)")
    run.add_argument("--no-tensorboard", action="store_true", help="no OUT/tensorboard even if installed")
    run.add_argument("--no-plot", action="store_true", help="no OUT/metrics.png")
    run.add_argument("--no-progress", action="store_true")

    export = parser.add_argument_group("export")
    export.add_argument("--export-bundle", help="also copy the best bundle here at the end")
    export.add_argument("--bundle-name")
    export.add_argument("--bundle-description")
    export.add_argument("--bundle-licence")
    export.add_argument("--bundle-dtype", choices=("float32", "float16", "bfloat16"),
                        help="weights file precision (loading restores float32)")
    return parser


def overrides_from(args: argparse.Namespace) -> dict:
    """The TrainConfig fields the given flags set."""
    given = dict(vars(args))
    for flag in ("config", "set_values", "print_config", "resume", "stop_after_epoch", "stop_after_step",
                 "no_progress"):
        given.pop(flag, None)
    if given.get("tracker") == "none":
        given["tracker"] = None
    if given.pop("no_tensorboard", False):
        given["tensorboard"] = False
    if given.pop("no_plot", False):
        given["plot"] = False
    if given.pop("from_scratch", False):
        given["init"] = "scratch"
    if "init_bundle" in given:
        given["init"] = "bundle"
    if "stages" in given:
        given["stages"] = [stage.to_dict() for stage in parse_stages(given["stages"])]
    augment = {}
    if given.pop("no_augment", False):
        augment["enabled"] = False
    if "hflip" in given:
        augment["hflip"] = given.pop("hflip")
    if augment:
        given["augment"] = augment
    return given


def _laid_over(base: dict, values: dict) -> dict:
    """`values` over `base`, a partial `augment` merged into the base's."""
    merged = {**base, **values}
    if "augment" in values and base.get("augment") is not None:
        merged["augment"] = {**base["augment"], **values["augment"]}
    return merged


def requested_values(args: argparse.Namespace) -> dict:
    """The values this command gives: the --config file's keys, then --set items, then flags."""
    values: dict = {}
    config = getattr(args, "config", None)
    if config:
        raw = read_json_object(Path(config).read_text(encoding="utf-8"), str(config))
        checked = TrainConfig.from_dict(raw, str(config)).to_dict()
        values = {key: checked[key] for key in raw}
    sets, flags = parse_set(getattr(args, "set_values", None) or []), overrides_from(args)
    both = sorted(set(sets) & set(flags) - {"augment"})
    both += [f"augment.{k}" for k in sorted(set(sets.get("augment", {})) & set(flags.get("augment", {})))]
    if both:
        raise ConfigError(f"{', '.join(both)}: given both by --set and by a flag; give each once")
    return _laid_over(_laid_over(values, sets), flags)


def build_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig.from_dict(_laid_over(TrainConfig().to_dict(), requested_values(args)))


@contextlib.contextmanager
def run_logging(out: Path, rank: int) -> Iterator[None]:
    """The run's log while it lasts: stderr and, on rank 0, OUT/train.log. The handlers are the
    run's own, added to the root logger and removed and closed when the run ends, so a second run
    in the same process (a test, a notebook) logs into its own file, never into an earlier run's.
    Under torchrun the other ranks log only warnings and errors, and show no Python warnings:
    they run the same code as rank 0, so PyTorch's warnings would only repeat rank 0's."""
    prefix = f"[rank {rank}] " if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(out / "train.log", encoding="utf-8"))
    formatter = logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO if rank == 0 else logging.WARNING)  # other ranks only report trouble
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    try:
        with warnings.catch_warnings():
            if rank != 0:
                warnings.simplefilter("ignore")
            yield
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def say_interrupted(exc: KeyboardInterrupt, out: Path, world_size: int) -> None:
    """After a stop at once: which checkpoint a resume would start from, if any."""
    from training.checkpoint import CheckpointError, find_checkpoint
    from training.preemption import resume_command

    name = exc.args[0] if exc.args else "SIGINT"
    log = logging.getLogger("training")
    try:
        folder = find_checkpoint(out)
    except CheckpointError:
        log.error("%s: stopped at once, before any checkpoint of this run was written: nothing to resume "
                  "(start it again)", name)
        return
    log.error("%s: stopped at once; the newest checkpoint is %s", name, folder)
    log.error("resume with: %s", resume_command(out, world_size))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from core.errors import VisionCapError
    from training.annotations import DatasetError
    from training.checkpoint import CheckpointError, resume_config
    from training.model_init import InitError
    from training.preemption import EXIT_PREEMPTED, Interrupted, SignalStop
    from training.trainer import train

    resume = getattr(args, "resume", None)
    try:
        if resume is not None:
            requested = requested_values(args)
            if not resume and "out" not in requested:
                parser.error("--resume without a path needs --out")
            resume = resume or requested["out"]
            cfg = resume_config(resume, requested)
        else:
            cfg = build_config(args)
        if not cfg.train and not getattr(args, "print_config", False):
            parser.error("--train is required (or a --config that names it)")
    except (ValueError, TypeError, CheckpointError, OSError) as exc:
        parser.error(str(exc))
    if getattr(args, "print_config", False):
        print(cfg.to_json(), end="")
        return 0

    command = shlex.join(["python", "-m", "training", "train", *(sys.argv[1:] if argv is None else argv)])
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    with run_logging(Path(cfg.out), rank), SignalStop(announce=rank == 0) as signals:
        try:
            result = train(cfg, resume=resume, stop_after_epoch=getattr(args, "stop_after_epoch", None),
                           stop_after_step=getattr(args, "stop_after_step", None),
                           progress=not getattr(args, "no_progress", False), command=command, signals=signals)
        except (ValueError, VisionCapError, DatasetError, InitError, CheckpointError) as exc:
            logging.getLogger("training").error("%s", exc)
            return 2
        except KeyboardInterrupt as exc:  # a second signal, or one before training began
            if rank == 0:
                say_interrupted(exc, Path(cfg.out).absolute(), world_size)
            return exc.exit_code if isinstance(exc, Interrupted) else 130
    if result.preempted:
        return EXIT_PREEMPTED
    if result.best_epoch is not None and rank == 0:
        print(f"best epoch {result.best_epoch}: val perplexity {result.best_val_ppl:.3f}; bundle in {result.bundle}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
