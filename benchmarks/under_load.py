"""Captions/s under background load: the thread policy against every fixed thread count.

For the demo model and a full-size ViT-B/16 + GPT-2 small (random weights, saved as a bundle
first), one long-lived worker process per mode captions the same large JPEGs through
`Captioner.caption_batches`, as the CLI and the app do:

- "policy": VisionCap's defaults (core/captioning/threads.py: sleeping OpenMP waits, adaptive count);
- "fixed k": the same with `--threads k`, for every k up to the number of CPUs;
- "torch defaults": torch imported before core (spinning OpenMP waits), one thread per CPU,
  which is what VisionCap did before the policy (one batch per run: under load it crawls).

Loads, started and stopped by this script: none, 1, N and 2N spinning processes (N = CPUs),
and a second PyTorch program (a small transformer's inference in a loop at torch's defaults).
Modes and loads are interleaved (each repeat goes through every load, each load through every
mode in a rotating order) so that the machine's own background load hits all alike; the table
shows medians. Workers keep their captioner between runs, so the policy carries what it
learned from one run to the next, as the app does over a session.

    python benchmarks/under_load.py                  # the README table (a few minutes per model)
    python benchmarks/under_load.py --models demo --repeats 1   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPENMP_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

SPINNER = "while True: pass"

OTHER_TORCH_PROGRAM = """
import torch
layer = torch.nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True).eval()
x = torch.randn(8, 64, 256)
with torch.no_grad():
    while True:
        layer(x)
"""


def plain_env() -> dict[str, str]:
    """The environment without any OpenMP settings (this script's own import of core sets some)."""
    env = {k: v for k, v in os.environ.items() if k not in OPENMP_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# ---------------------------------------------------------------- worker (one per mode)


def worker(mode: str, bundle: str, images: list[str], batch_size: int, tokens: int) -> None:
    """Reads "run" lines from stdin; for each, captions `images` and prints a JSON line."""
    if mode == "torch defaults":
        import torch  # before core: OpenMP keeps its spinning waits
    from core.captioning.captioner import Captioner
    from core.captioning.generation import GenerationSettings

    captioner = Captioner.load(bundle, device="cpu")
    if mode == "torch defaults":
        captioner.threads.set_fixed(torch.get_num_threads())
    elif mode.startswith("fixed"):
        captioner.threads.set_fixed(int(mode.split()[1]))
    settings = GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens)

    if mode == "torch defaults":
        images = images[:batch_size]  # under load it is so slow that one batch must do

    def run() -> dict:
        used = []
        start = time.perf_counter()
        for _ in captioner.caption_batches(images, settings, batch_size):
            used.append(captioner.threads.threads)  # the count the next batch will use
        return {"seconds": time.perf_counter() - start, "threads": used}

    run()  # warm-up
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        print(json.dumps(dict(run(), photos=len(images))), flush=True)


class Worker:
    def __init__(self, mode: str, bundle: Path, images: list[Path], batch_size: int, tokens: int):
        self.mode = mode
        args = [sys.executable, __file__, "--worker", mode, str(bundle), str(batch_size), str(tokens)]
        self.proc = subprocess.Popen(args + [str(p) for p in images], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=plain_env(), cwd=ROOT)

    def wait_ready(self) -> None:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.mode!r} died while loading")

    def run(self) -> dict:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------- loads


class Load:
    """`count` copies of a background program, started on enter and killed on exit."""

    def __init__(self, name: str, program: str, count: int):
        self.name, self.program, self.count = name, program, count
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Load:
        self.procs = [subprocess.Popen([sys.executable, "-c", self.program], env=plain_env())
                      for _ in range(self.count)]
        time.sleep(3.0 if self.program == OTHER_TORCH_PROGRAM else 0.5)  # torch's import
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()


def loads(cpus: int) -> list[Load]:
    return [
        Load("idle", SPINNER, 0),
        Load("1 busy process", SPINNER, 1),
        Load(f"{cpus} busy processes (N)", SPINNER, cpus),
        Load(f"{2 * cpus} busy processes (2N)", SPINNER, 2 * cpus),
        Load("a second PyTorch program", OTHER_TORCH_PROGRAM, 1),
    ]


# ---------------------------------------------------------------- set-up


def make_images(folder: Path, count: int) -> list[Path]:
    """Large smooth JPEGs (2400x1800), different enough that none decodes from a cache."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    yy, xx = np.mgrid[0:1800, 0:2400]
    for i in range(count):
        a, b, c = rng.uniform(0.002, 0.02, 3)
        pixels = np.stack([np.sin(xx * a + i), np.cos(yy * b), np.sin((xx + yy) * c)], axis=-1)
        path = folder / f"photo{i:02d}.jpg"
        Image.fromarray(((pixels + 1) * 127.5).astype("uint8")).save(path, quality=90)
        paths.append(path)
    return paths


def full_size_bundle(folder: Path) -> Path:
    """ViT-B/16 + GPT-2 small with random weights, saved in bf16 (loading is faster)."""
    import torch
    from tokenizers import Tokenizer, models

    from core.bundles.bundle import save_bundle
    from core.captioning.config import CaptionerConfig
    from core.captioning.model import VisionGPT2
    from core.captioning.tokenizer import CaptionTokenizer

    torch.manual_seed(0)
    model = VisionGPT2(CaptionerConfig()).eval()
    vocab = {f"t{i}": i for i in range(model.config.vocab_size)}
    tokenizer = CaptionTokenizer(Tokenizer(models.WordLevel(vocab, unk_token="t0")))
    return save_bundle(folder / "full", model, tokenizer, name="under-load-benchmark", dtype="bfloat16")


# ---------------------------------------------------------------- measurement


def measure(name: str, bundle: Path, images: list[Path], args, cpus: int) -> None:
    modes = ["policy"] + [f"fixed {k}" for k in range(1, cpus + 1)] + ["torch defaults"]
    workers = [Worker(mode, bundle, images, args.batch_size, args.tokens) for mode in modes]
    for w in workers:
        w.wait_ready()
    rates: dict[tuple[str, str], list[float]] = {}
    used: dict[str, list[int]] = {}
    try:
        for repeat in range(args.repeats):
            for load in loads(cpus):
                with load:
                    shift = repeat % len(workers)
                    for w in workers[shift:] + workers[:shift]:
                        result = w.run()
                        rate = result["photos"] / result["seconds"]
                        rates.setdefault((load.name, w.mode), []).append(rate)
                        if w.mode == "policy":
                            used.setdefault(load.name, []).extend(result["threads"])
                        print(f"  {name} | {load.name} | {w.mode}: {rate:.2f} captions/s", file=sys.stderr, flush=True)
    finally:
        for w in workers:
            w.close()
    print(f"\n{name}: captions/s, median of {args.repeats} ({len(images)} photos of 2400x1800, "
          f"batch {args.batch_size}, {args.tokens} tokens each; {cpus} CPUs)\n")
    print("| load | " + " | ".join(modes) + " | policy vs best fixed | policy's threads (share of batches) |")
    print("|---|" + "---|" * (len(modes) + 2))
    for load in loads(cpus):
        medians = {m: statistics.median(rates[(load.name, m)]) for m in modes}
        best = max(medians[m] for m in modes if m.startswith("fixed"))
        counts = used[load.name]
        shares = ", ".join(f"{n}: {counts.count(n) / len(counts):.0%}" for n in sorted(set(counts)))
        print(f"| {load.name} | " + " | ".join(f"{medians[m]:.2f}" for m in modes)
              + f" | {medians['policy'] / best:.0%} | {shares} |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        mode, bundle, batch_size, tokens, *images = sys.argv[2:]
        worker(mode, bundle, images, int(batch_size), int(tokens))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=("demo", "full"), default=["demo", "full"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photos", type=int, default=16, help="photos per run (demo; full-size uses half)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=12)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from core.bundles.resources import resolve_model
    from core.captioning.threads import usable_cpus

    cpus = usable_cpus()
    print(f"{cpus} CPUs; load average before the run: {os.getloadavg()[0] if hasattr(os, 'getloadavg') else 'n/a'}")
    with tempfile.TemporaryDirectory() as tmp:
        images = make_images(Path(tmp), args.photos)
        if "demo" in args.models:
            measure("demo model", resolve_model("demo"), images, args, cpus)
        if "full" in args.models:
            measure("full-size ViT-B/16 + GPT-2", full_size_bundle(Path(tmp)), images[: args.photos // 2], args, cpus)


if __name__ == "__main__":
    main()
