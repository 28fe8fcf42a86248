"""A real CUDA out-of-memory, and the fallback the CLI and the app promise
(core/captioning/oom_fallback.py): the batch is halved and the images not yet captioned are
retried; when even one image does not fit, captioning goes on on the CPU. Nothing is captioned
twice or skipped.

A full-size VisionGPT2 bundle (random weights, a tiny tokenizer) is captioned through
`Captioner` + `OutOfMemoryFallback`, as `visioncap caption` does, with the process's share of
the GPU capped (`torch.cuda.set_per_process_memory_fraction`), so the caching allocator raises
its own `torch.OutOfMemoryError`:

1. capped at --limit-gib with a batch of --batch images: the batch halves until it fits;
2. capped at what the loaded weights take plus a few MiB: even one image does not fit, and the
   model moves to the CPU.

    python benchmarks/cuda_oom_check.py [--images 1024] [--batch 1024] [--limit-gib 3]

Exit status 0 when both fall back as promised, 1 otherwise, 2 without a CUDA device.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from PIL import Image

from core.bundles.bundle import save_bundle
from core.captioning.captioner import Captioner
from core.captioning.config import CaptionerConfig
from core.captioning.generation import GenerationSettings
from core.captioning.model import VisionGPT2
from core.captioning.oom_fallback import OutOfMemoryFallback
from core.captioning.tokenizer import CaptionTokenizer
from tests.tiny import train_tokenizer


def make_bundle(folder: Path) -> Path:
    torch.manual_seed(0)
    config = CaptionerConfig(vocab_size=320, bos_token_id=0, eos_token_id=0, pad_token_id=0)  # ViT-B/16 + GPT-2 small
    model = VisionGPT2(config).eval()
    return save_bundle(folder, model, CaptionTokenizer(train_tokenizer()), name="full-size-random",
                       licence="MIT", provenance={"source": "benchmarks/cuda_oom_check.py"})


def run(captioner: Captioner, images: list, batch: int, settings: GenerationSettings) -> tuple[list, list[str], float]:
    notes: list[str] = []
    fallback = OutOfMemoryFallback(captioner, notify=notes.append)
    start = time.perf_counter()
    results = [r for batch_results in fallback.caption_batches(images, settings, batch) for r in batch_results]
    return results, notes, time.perf_counter() - start


def reference_errors(results: list) -> str:
    reasons = sorted({r.error for r in results if not r.ok})
    return "; ".join(reasons) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--limit-gib", type=float, default=3.0)
    parser.add_argument("--tokens", type=int, default=12)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 2
    total = torch.cuda.get_device_properties(0).total_memory
    rng = np.random.default_rng(0)
    settings = GenerationSettings(max_new_tokens=args.tokens)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        images = []  # files, as the CLI and the app caption them
        for i in range(args.images):
            path = Path(tmp) / f"photo{i:04d}.jpg"
            Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(path, quality=90)
            images.append(path)
        bundle = make_bundle(Path(tmp) / "bundle")
        captioner = Captioner.load(bundle, device="cuda")
        print(f"{torch.cuda.get_device_name()}, {total / 2**30:.0f} GiB, precision {captioner.precision}, "
              f"{args.images} images of 224x224, {args.tokens} tokens")
        reference, _, seconds = run(captioner, images, 64, settings)
        print(f"uncapped, batch 64: {len(reference)} captions in {seconds:.1f} s")

        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(args.limit_gib * 2**30 / total)
        results, notes, seconds = run(captioner, images, args.batch, settings)
        same = sum(a.caption == b.caption for a, b in zip(results, reference))
        in_order = [r.source for r in results] == [r.source for r in reference]
        print(f"\n1. capped at {args.limit_gib} GiB, batch {args.batch}: {len(results)} results in {seconds:.1f} s, "
              f"in order: {in_order}, errors: {sum(not r.ok for r in results)} "
              f"(uncapped: {sum(not r.ok for r in reference)}: {reference_errors(reference)}), "
              f"same caption as uncapped: {same}/{len(results)}; still on {captioner.device}")
        for note in notes:
            print(f"   notice: {note}")
        # an empty caption is an error result (random weights end some at once): the same images as uncapped
        failed_alike = [r.ok for r in results] == [r.ok for r in reference]
        ok &= len(results) == args.images and in_order and failed_alike and bool(notes)
        ok &= str(captioner.device).startswith("cuda")

        torch.cuda.empty_cache()
        weights = torch.cuda.memory_allocated()
        torch.cuda.set_per_process_memory_fraction((weights + 8 * 2**20) / total)
        few = images[:16]
        results, notes, seconds = run(captioner, few, 8, settings)
        in_order = [r.source for r in results] == [r.source for r in reference[:16]]
        print(f"\n2. capped at the weights ({weights / 2**20:.0f} MiB) + 8 MiB, batch 8: {len(results)} results in "
              f"{seconds:.1f} s, in order: {in_order}, errors: {sum(not r.ok for r in results)}; "
              f"now on {captioner.device}")
        for note in notes:
            print(f"   notice: {note}")
        ok &= len(results) == len(few) and in_order
        ok &= str(captioner.device) == "cpu" and any("CPU" in n for n in notes)
        torch.cuda.set_per_process_memory_fraction(1.0)
    print("\npassed" if ok else "\nFAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
