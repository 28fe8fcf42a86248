"""CUDA inference check: the paths CI cannot run (no GPU there).

Builds a full-size random VisionGPT2 (ViT-B/16 + GPT-2 small), captions a batch on the CPU in
fp32 and on CUDA in fp32, fp16 and bf16 autocast, and prints captions/s, peak GPU memory and
token agreement with the CPU. Exits 1 if CUDA is missing or CUDA fp32 disagrees with the CPU on
more than 2% of tokens.

    python benchmarks/cuda_inference_check.py [--batch 32] [--tokens 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.captioning.config import CaptionerConfig
from core.captioning.generation import GenerationSettings, generate
from core.captioning.model import VisionGPT2


def agreement(a: list[list[int]], b: list[list[int]]) -> float:
    total = sum(max(len(x), len(y)) for x, y in zip(a, b))
    same = sum(p == q for x, y in zip(a, b) for p, q in zip(x, y))
    return same / max(total, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    torch.manual_seed(0)
    model = VisionGPT2(CaptionerConfig()).eval()
    images = torch.randn(args.batch, 3, 224, 224)
    settings = GenerationSettings(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    cpu_tokens = generate(model, images[:4], settings)
    model.cuda()
    gpu_images = images.cuda()
    print(f"{torch.cuda.get_device_name()}, batch {args.batch}, {args.tokens} tokens")
    print("| mode | captions/s | peak memory | agreement with CPU fp32 (first 4) |")
    print("|---|---|---|---|")
    ok = True
    for name, dtype in (("fp32", None), ("fp16 autocast", torch.float16), ("bf16 autocast", torch.bfloat16)):
        context = torch.autocast("cuda", dtype=dtype) if dtype else torch.autocast("cuda", enabled=False)
        with context:
            generate(model, gpu_images, settings)  # warm-up
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            tokens = generate(model, gpu_images, settings)
            torch.cuda.synchronize()
            seconds = time.perf_counter() - start
        agree = agreement(tokens[:4], cpu_tokens)
        ok &= dtype is not None or agree >= 0.98
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"| {name} | {args.batch / seconds:.1f} | {peak:.2f} GiB | {agree:.1%} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
