"""Do faster number formats keep a *trained* model's captions? Agreement and speed against fp32.

A mode that changes the numbers is offered only where its captions agree with fp32's (random
weights say nothing: their next-token scores are flat, so any rounding flips tokens). This runs
a trained bundle (the demo by default, or one trained with `--train-full-size` first) on the CPU
over synthetic shapes it has not seen, in:

- fp32: what the Captioner runs (oneDNN-packed decoder);
- fp16-stored weights: every Linear and Conv weight rounded to fp16, computed in fp32 (what a
  bundle saved with --bundle-dtype float16 loads as: the demo's own case);
- int8 dynamic: torch's dynamic quantisation of the Linear layers (int8 weights and activations);
- bf16 autocast: what the Captioner runs where the CPU has native bf16 (emulated elsewhere).

and prints, per mode, seconds per batch, the share of tokens equal to fp32's at each position,
and the share of captions identical to fp32's.

    python benchmarks/precision_agreement.py [--bundle demo] [--images 64] [--batch 8]
    python benchmarks/precision_agreement.py --train-full-size --device-train cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: F401, I001  (before torch: sleeping OpenMP waits)
import numpy as np
import torch
from torch import nn

from benchmarks.generate import agreement, cpu_line
from core.bundles.resources import resolve_model
from core.captioning.captioner import Captioner, precision_context, set_precision
from core.captioning.generation import GenerationSettings, generate
from core.captioning.onednn import unpack_decoder


def train_full_size(work: Path, device: str, steps: int, batch: int = 32, cross_only: bool = False) -> Path:
    """ViT-B/16 + GPT-2 small trained from scratch on synthetic shapes (224 px) for `steps`
    steps, its outputs peaked like a trained model's; returns the exported bundle.
    `cross_only`: only the cross-attention layers train (no backward pass through the encoder
    or GPT-2: what a CPU can afford), like the recipe's first stage."""
    import math

    from training.config import CROSS_ATTENTION_PATTERNS, AugmentConfig, Stage, TrainConfig
    from training.gpu_check import FULL_SIZE
    from training.synthetic import generate_dataset
    from training.trainer import Trainer

    data = work / "shapes"
    images = math.ceil(steps / 2) * batch * 10 // 8 + 20  # two epochs; 80% of the images train
    generate_dataset(data, images, seed=0, image_size=FULL_SIZE.image_size)
    FULL_SIZE.save(work / "model.json")
    cfg = TrainConfig(train=str(data / "train.csv"), val=str(data / "val.csv"), init="scratch",
                      model_config=str(work / "model.json"), epochs=2, batch_size=batch, lr=3e-4,
                      precision="auto", device=device, workers=4 if device != "cpu" else 0,
                      augment=AugmentConfig(enabled=False), out=str(work / "run"), export_bundle=str(work / "bundle"),
                      stages=[Stage(0, "cross-attention", list(CROSS_ATTENTION_PATTERNS))] if cross_only else None)
    result = Trainer(cfg, progress=False).run()
    print(f"trained {steps} steps of {batch} on {device}{' (cross-attention only)' if cross_only else ''}: "
          f"train loss {result.history[0]['train_loss']:.3f} -> {result.history[-1]['train_loss']:.3f}, "
          f"val perplexity {result.history[-1]['val_ppl']:.3f}")
    return work / "bundle"


def test_images(bundle: Path, work: Path, n: int) -> list[Path]:
    from training.synthetic import generate_dataset

    size = Captioner.load(bundle, device="cpu").config.image_size
    generate_dataset(work / "unseen", n, seed=12345, image_size=size)  # another seed: images it has not seen
    with (work / "unseen" / "captions.csv").open(encoding="utf-8") as f:
        return [work / "unseen" / row["image"] for row in csv.DictReader(f)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="demo")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--train-full-size", action="store_true", help="train a full-size model first")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--device-train", default="cuda")
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--train-cross-only", action="store_true",
                        help="train only the cross-attention layers (affordable on a CPU)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundle = (train_full_size(work, args.device_train, args.train_steps, args.train_batch, args.train_cross_only)
                  if args.train_full_size
                  else resolve_model(args.bundle))
        paths = test_images(bundle, work, args.images)
        captioner = Captioner.load(bundle, device="cpu", precision="fp32")
        base = captioner.model  # packed for oneDNN: what fp32 runs
        arrays = [captioner._prepare(p) for p in paths]
        mean, std = captioner._mean, captioner._std
        batches = [((torch.from_numpy(np.stack(arrays[i:i + args.batch])) - mean) / std)
                   for i in range(0, len(arrays), args.batch)]
        settings = GenerationSettings(max_new_tokens=args.tokens)

        plain = Captioner.load(bundle, device="cpu", precision="fp32").model
        unpack_decoder(plain)
        fp16_stored = copy.deepcopy(plain)
        with torch.no_grad():
            for module in fp16_stored.modules():
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    module.weight.copy_(module.weight.half().float())
        set_precision(fp16_stored, "fp32", torch.device("cpu"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            int8 = quantize_dynamic(copy.deepcopy(plain), {nn.Linear}, dtype=torch.qint8)
        bf16 = copy.deepcopy(plain)
        set_precision(bf16, "bf16", torch.device("cpu"))

        def run(model, precision="fp32"):
            tokens, seconds = [], 0.0
            for x in batches:
                start = time.perf_counter()
                with precision_context(precision, torch.device("cpu")):
                    tokens += generate(model, x, settings)
                seconds += time.perf_counter() - start
            return tokens, seconds / len(batches)

        modes = {"fp32": (base, "fp32"), "fp16-stored weights, fp32 compute": (fp16_stored, "fp32"),
                 "int8 dynamic": (int8, "fp32"), "bf16 autocast": (bf16, "bf16")}
        for model, precision in modes.values():  # warm-up: one batch each
            with precision_context(precision, torch.device("cpu")):
                generate(model, batches[0], settings)
        results = {name: run(model, precision) for name, (model, precision) in modes.items()}
        reference = results["fp32"][0]
        print(cpu_line())
        print(f"bundle: {bundle.name if not args.train_full_size else 'full size, trained here'} "
              f"({captioner.parameters / 1e6:.1f}M parameters), {len(paths)} unseen synthetic images, "
              f"batch {args.batch}, greedy, up to {args.tokens} tokens, {torch.get_num_threads()} threads")
        print("\n| mode | s/batch | vs fp32 | token agreement with fp32 | captions identical to fp32's |")
        print("|---|---|---|---|---|")
        for name, (tokens, seconds) in results.items():
            same = sum(a == b for a, b in zip(tokens, reference)) / len(reference)
            print(f"| {name} | {seconds:.3f} | {results['fp32'][1] / seconds:.2f}x | "
                  f"{agreement(tokens, reference):.1%} | {same:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
