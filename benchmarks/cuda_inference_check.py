"""CUDA inference: VisionCap against transformers' `generate` on the same weights, on a GPU.

Full-size ViT-B/16 + GPT-2 small with random weights in "final" mode (HF's
VisionEncoderDecoderModel runs the very same weights, as in benchmarks/generate.py), greedy,
exactly --tokens new tokens. For each batch size and precision (fp32; fp16 and bf16 as VisionCap's
Captioner runs them: weights stored in that dtype under autocast; HF's model cast to that dtype),
prints seconds per batch, captions/s, the ratio to HF in the same precision and to HF fp32, token
agreement with HF fp32, and peak GPU memory. Modes run round-robin; the best of --repeats counts.

    python benchmarks/cuda_inference_check.py [--batch-sizes 1 8 64 256] [--tokens 20]
    python benchmarks/cuda_inference_check.py --tiny --device cpu   # a smoke run without a GPU

Exit status 1 when VisionCap fp32 and HF fp32 disagree on more than 2% of tokens.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.generate import agreement, build_models
from core.captioning.captioner import precision_context, set_precision
from core.captioning.generation import GenerationSettings, generate

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def modes_for(hf, ours, device: torch.device, precisions: list[str], tokens: int) -> dict[str, Callable]:
    settings = GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens)
    modes: dict[str, Callable] = {}
    for precision in precisions:
        theirs = copy.deepcopy(hf).to(device=device, dtype=DTYPES[precision]).eval()

        def hf_generate(x, model=theirs, dtype=DTYPES[precision]):
            with torch.no_grad():
                out = model.generate(pixel_values=x.to(dtype), max_new_tokens=tokens, min_new_tokens=tokens,
                                     do_sample=False, num_beams=1)
            return [row[1:] for row in out.tolist()]

        mine = copy.deepcopy(ours)
        set_precision(mine, precision, device)  # what Captioner does

        def ours_generate(x, model=mine, precision=precision):
            with precision_context(precision, device):
                return generate(model, x, settings)

        modes[f"HF generate {precision}"] = hf_generate
        modes[f"VisionCap {precision}"] = ours_generate
    return modes


def timed(fn, x, device: torch.device) -> tuple[float, list[list[int]]]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    tokens = fn(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny random models: a smoke run")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    hf, ours = build_models(args.tiny)
    size = 32 if args.tiny else 224
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {args.tokens} tokens, greedy, best of {args.repeats}")
    modes = modes_for(hf, ours, device, args.precisions, args.tokens)
    ok = True
    for batch in args.batch_sizes:
        torch.manual_seed(batch)
        x = torch.randn(batch, 3, size, size, device=device)
        best: dict[str, float] = {}
        outputs: dict[str, list[list[int]]] = {}
        peaks: dict[str, float] = {}
        for _ in range(args.repeats + 1):  # the first round warms up
            for mode, fn in modes.items():
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                seconds, tokens = timed(fn, x, device)
                if mode in outputs:
                    best[mode] = min(best.get(mode, seconds), seconds)
                outputs[mode] = tokens
                if device.type == "cuda":
                    peaks[mode] = torch.cuda.max_memory_allocated(device) / 2**30
        reference = outputs.get("HF generate fp32")
        print(f"\n| batch {batch} | s/batch | captions/s | vs HF same precision | vs HF fp32 | "
              "token agreement vs HF fp32 | peak GPU memory |")
        print("|---|---|---|---|---|---|---|")
        for mode in modes:
            precision = mode.rsplit(" ", 1)[1]
            same = best[f"HF generate {precision}"] / best[mode]
            vs32 = best["HF generate fp32"] / best[mode] if "HF generate fp32" in best else float("nan")
            agree = agreement(outputs[mode], reference) if reference else float("nan")
            peak = f"{peaks[mode]:.2f} GiB" if mode in peaks else ""
            print(f"| {mode} | {best[mode]:.3f} | {batch / best[mode]:.1f} | {same:.2f}x | {vs32:.2f}x | "
                  f"{agree:.1%} | {peak} |")
            if mode == "VisionCap fp32" and reference is not None and agree < 0.98:
                ok = False
    print("\npassed" if ok else "\nFAILED: VisionCap fp32 and HF fp32 disagree on more than 2% of tokens")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
