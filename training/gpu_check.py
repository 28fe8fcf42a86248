"""A quick check of mixed-precision training on a CUDA GPU, through the trainer's own code path.

    python -m training.gpu_check [--steps 300] [--precisions fp16 bf16] [--keep DIR]
    python -m training.gpu_check --full-size [--steps 300]    # ViT-B/16 + GPT-2 small, staged

For each precision: a config trains a few hundred steps on a synthetic shapes set with
`training.trainer.Trainer` (fp16: autocast + GradScaler; bf16: autocast), then asserts that
every epoch's loss is finite and that the loss fell, and prints samples/s and peak GPU memory.
By default a small from-scratch config in one stage (the loss must halve); with --full-size the
full-size architecture (random weights, 224 px) through the three stages of the original
recipe, one epoch each (cross-attention alone, then GPT-2 too, then everything: the loss must
fall), with each epoch's samples/s, the GradScaler's skipped steps and the projected time of one
COCO 2017 epoch. Exit status: 0 passed, 1 a check failed, 2 no CUDA device (nothing run).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

from core.captioning.config import CaptionerConfig
from training.config import AugmentConfig, TrainConfig, stage_preset
from training.synthetic import generate_dataset
from training.trainer import Trainer

MODEL = CaptionerConfig(
    image_size=64, patch_size=8, vit_width=192, vit_depth=4, vit_heads=3,
    vocab_size=512, context_length=48, gpt_width=192, gpt_depth=4, gpt_heads=3,
    bos_token_id=0, eos_token_id=0, pad_token_id=0,
)
# ViT-B/16 at 224 px + GPT-2 small; the vocabulary is the synthetic set's tokenizer's
FULL_SIZE = CaptionerConfig(vocab_size=512, bos_token_id=0, eos_token_id=0, pad_token_id=0)
COCO_TRAIN_CAPTIONS = 591_753  # COCO 2017 train: 118,287 images, about 5 captions each
SCALER_START = 2.0**16  # torch.amp.GradScaler's initial scale


def check(precision: str, data: Path, work: Path, steps: int, batch_size: int,
          full_size: bool = False) -> tuple[bool, str]:
    """Train `steps` steps in `precision`; (passed, the lines of results)."""
    model_json = work / "model.json"
    (FULL_SIZE if full_size else MODEL).save(model_json)
    train_images = sum(1 for _ in (data / "train.csv").open()) - 1
    steps_per_epoch = math.ceil(train_images / batch_size)
    cfg = TrainConfig(
        train=str(data / "train.csv"), val=str(data / "val.csv"), init="scratch", model_config=str(model_json),
        epochs=3 if full_size else max(2, math.ceil(steps / steps_per_epoch)), batch_size=batch_size,
        lr=3e-4 if full_size else 2e-3, precision=precision, device="cuda", workers=4,
        augment=AugmentConfig(enabled=False), out=str(work / precision),
        stages=stage_preset("backbones") if full_size else None,
    )
    torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(cfg, progress=False)
    assert trainer.precision.name == precision
    started = time.perf_counter()
    result = trainer.run()
    seconds = time.perf_counter() - started
    losses = [row["train_loss"] for row in result.history]
    finite = all(math.isfinite(loss) for loss in losses + [row["val_loss"] for row in result.history])
    falling = losses[-1] < (0.95 if full_size else 0.5) * losses[0]
    samples_per_s = sum(row["samples_per_s"] for row in result.history) / len(result.history)
    scaler = ""
    if trainer.scaler.is_enabled():
        scale = trainer.scaler.get_scale()
        skipped = max(0, round(math.log2(SCALER_START / scale))) if scale > 0 else -1
        scaler = f", final loss scale {scale:.0f} ({skipped} step(s) skipped for inf/NaN gradients)"
    line = (
        f"{precision}: {trainer.step} steps in {seconds:.1f} s, train loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
        f"val ppl {result.history[-1]['val_ppl']:.3f}, {samples_per_s:.0f} samples/s, "
        f"peak memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB{scaler}"
    )
    if full_size:
        for row, stage in zip(result.history, cfg.resolved_stages()):
            line += (f"\n  epoch {row['epoch']} ({stage.name}): train loss {row['train_loss']:.3f}, "
                     f"{row['samples_per_s']:.0f} samples/s")
        slowest = min(row["samples_per_s"] for row in result.history)
        line += (f"\n  one COCO 2017 epoch ({COCO_TRAIN_CAPTIONS:,} captions) at the slowest stage's rate: "
                 f"{COCO_TRAIN_CAPTIONS / slowest / 60:.0f} min")
    if not finite:
        line += "  FAILED: a loss is not finite"
    elif not falling:
        line += "  FAILED: the loss did not fall" + ("" if full_size else " by half")
    return finite and falling, line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--precisions", nargs="+", choices=("fp16", "bf16", "fp32"), default=["fp16", "bf16"])
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    parser.add_argument("--full-size", action="store_true",
                        help="ViT-B/16 + GPT-2 small at 224 px through the three stages, one epoch each")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device (or a CPU-only PyTorch build); it checks GPU training, "
              "so nothing was run", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    print(f"gpu_check on {torch.cuda.get_device_name()} (torch {torch.__version__})")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        data = work / "shapes"
        images = args.images
        if args.full_size:  # three epochs of --steps / 3 steps each, plus the validation split
            images = max(images, math.ceil(args.steps / 3) * args.batch_size * 20 // 19 + 20)
        generate_dataset(data, images, seed=0, image_size=(FULL_SIZE if args.full_size else MODEL).image_size)
        passed = True
        for precision in args.precisions:
            if precision == "bf16" and not torch.cuda.is_bf16_supported():
                print("bf16: not supported by this GPU, skipped")
                continue
            ok, line = check(precision, data, work, args.steps, args.batch_size, args.full_size)
            print(line)
            passed &= ok
    print("passed" if passed else "FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
