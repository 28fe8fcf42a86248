"""Training samples/s on this CPU in fp32, bf16 and fp16: why training refuses fp16 on a CPU
without fp16 hardware and warns about bf16 without native bf16 (docs/training-runs.md).

    python benchmarks/train_precision.py [--threads 2] [--batch 32] [--steps 6]

Optimiser steps of the trainer's own pieces (batch_nll under the Precision's autocast, Adam, a
GradScaler for fp16) on random 64 px images and 16-token captions with the demo recipe's model
(training/recipes/synthetic_tiny.json, the math attention kernel), after two warm-up steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()

    import torch

    from core.captioning.config import CaptionerConfig
    from core.captioning.device import cpu_name
    from core.captioning.model import VisionGPT2
    from training.batches import Batch
    from training.evaluate import batch_nll
    from training.runtime import Precision

    torch.set_num_threads(args.threads)
    values = json.loads((ROOT / "training" / "recipes" / "synthetic_tiny.json").read_text())
    values.pop("extra", None)
    config = CaptionerConfig(**values)
    torch.manual_seed(0)
    ids = torch.randint(1, config.vocab_size, (args.batch, 16))
    batch = Batch(torch.randn(args.batch, 3, config.image_size, config.image_size), ids, ids.clone(), [])
    print(f"{cpu_name()}, {args.threads} threads, batch {args.batch}, torch {torch.__version__}")
    for name in ("fp32", "bf16", "fp16"):
        model = VisionGPT2(config).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        precision = Precision(name, "cpu", "math")
        scaler = precision.grad_scaler()
        for step in range(2 + args.steps):  # two warm-up steps
            if step == 2:
                started = time.perf_counter()
            loss = batch_nll(model, batch, precision) / batch.num_tokens
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
        print(f"{name}: {args.steps * args.batch / (time.perf_counter() - started):.1f} samples/s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
