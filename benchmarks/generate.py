"""Caption generation speed: VisionCap's cached decoder vs HF and the original recompute loop.

Full-size ViT-B/16 + GPT-2 small with random weights ("final" mode, so HF's
VisionEncoderDecoderModel runs the very same weights), greedy, exactly --tokens new tokens,
--threads CPU threads. Modes are measured round-robin so that machine noise hits all alike;
compare the ratios, which are taken within one run.

    python benchmarks/generate.py                 # the README table
    python benchmarks/generate.py --startup       # also: process start to first caption
    python benchmarks/generate.py --tiny          # seconds-long smoke run (tests use it)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: F401, I001  (before torch: OpenMP threads that sleep when they wait, core/captioning/threads.py)
import torch
from torch import nn

from core.captioning.captioner import precision_context, set_precision
from core.captioning.device import cpu_has_fast_bf16, resolve_precision
from core.captioning.generation import CachedDecoder, GenerationSettings, generate
from core.bundles.hf_import import config_from_hf, convert_state
from core.captioning.model import VisionGPT2


def build_models(tiny: bool):
    import transformers

    torch.manual_seed(0)
    if tiny:
        vit = transformers.ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=256, image_size=32, patch_size=8)
        gpt = transformers.GPT2Config(vocab_size=500, n_positions=64, n_embd=64, n_layer=2, n_head=2,
                                      add_cross_attention=True, is_decoder=True, bos_token_id=0, eos_token_id=0)
    else:
        vit = transformers.ViTConfig()  # ViT-B/16, 224 px
        gpt = transformers.GPT2Config(add_cross_attention=True, is_decoder=True)  # GPT-2 small
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(vit, gpt)
    config.decoder_start_token_id = config.pad_token_id = config.eos_token_id = gpt.eos_token_id
    hf = transformers.VisionEncoderDecoderModel(config).eval()
    cfg = config_from_hf(config.to_dict(), None, "benchmark")
    with torch.device("meta"):
        ours = VisionGPT2(cfg)
    ours.load_state_dict(convert_state(hf.state_dict(), cfg, "benchmark"), assign=True)
    return hf, ours.eval()


def int8_copy(model: VisionGPT2) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its successor
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


def make_modes(hf, ours, tokens: int, bf16: bool, reference: bool):
    settings = GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens)

    def hf_generate(x):
        with torch.no_grad():
            out = hf.generate(pixel_values=x, max_new_tokens=tokens, min_new_tokens=tokens,
                              do_sample=False, num_beams=1)
        return [row[1:] for row in out.tolist()]

    fast32 = copy.deepcopy(ours)
    set_precision(fast32, "fp32", torch.device("cpu"))  # what Captioner does: oneDNN decoding

    def ours_fp32(x):
        return generate(fast32, x, settings)

    low = copy.deepcopy(ours)
    set_precision(low, "bf16", torch.device("cpu"))  # what Captioner does

    def ours_bf16(x):
        with precision_context("bf16", torch.device("cpu")):
            return generate(low, x, settings)

    def recompute(x):
        return generate(ours, x, settings, cached=False)

    modes = {"HF generate fp32": hf_generate, "VisionCap fp32": ours_fp32}
    if bf16:
        modes["VisionCap bf16 autocast"] = ours_bf16
    if reference:
        quantised = int8_copy(ours)
        modes["VisionCap int8 dynamic"] = lambda x: generate(quantised, x, settings)
        modes["recompute loop fp32 (original)"] = recompute
    steps = {"VisionCap fp32": (fast32, "fp32")}
    if bf16:
        steps["VisionCap bf16 autocast"] = (low, "bf16")
    return modes, steps


def step_ms(model, precision: str, images: torch.Tensor, steps: int = 10) -> float:
    """Median time of one cached decode step (every row alive) after two warm-up steps."""
    with torch.no_grad(), precision_context(precision, torch.device("cpu")):
        decoder = CachedDecoder(model, images, steps + 2)
        tokens = torch.full((images.size(0),), model.config.bos_token_id)
        times = []
        for i in range(steps + 2):
            start = time.perf_counter()
            decoder.step(tokens)
            if i >= 2:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def cpu_line() -> str:
    """The CPU's model and the vector instruction sets that matter here."""
    model, flags = "unknown CPU", set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16")
    found = [f for f in wanted if f in flags] or [f"torch capability {torch.backends.cpu.get_cpu_capability()}"]
    return f"{model}: {' '.join(found)}"


def best_of(fn, repeats: int = 5) -> float:
    fn()
    return min(_timed(fn) for _ in range(repeats))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine_peaks() -> tuple[float, float]:
    """(GFLOP/s of a 2048^3 fp32 matmul, GB/s of reading 512 MB): this host's own limits, on
    the threads the benchmark uses."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    flops = 2 * 2048**3 / best_of(lambda: a @ b) / 1e9
    big = torch.randn(128 * 1024 * 1024)
    read = big.numel() * 4 / best_of(lambda: big.sum(), 3) / 1e9
    return flops, read


def encoder_flops(model: VisionGPT2, images: int) -> float:
    """Matmul FLOPs of cross_kv (ViT + every layer's cross-attention K/V) for `images`."""
    flops = 0
    rows_per_image = None
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            rows_per_image = (model.config.image_size // module.kernel_size[0]) ** 2 + 1
            flops += 2 * module.weight.numel() * (rows_per_image - 1)
    for module in list(model.encoder.modules()) + [b.cross_attn.kv_proj for b in model.decoder.h
                                                   if hasattr(b.cross_attn, "kv_proj")]:
        if isinstance(module, nn.Linear):
            flops += 2 * module.weight.numel() * rows_per_image
    return flops * images


def decoder_step_bytes(model: VisionGPT2) -> int:
    """Bytes of weights one decode step reads: every decoder block's per-step projections and
    the vocabulary head (the cross-attention K/V projection runs once per image, not per step)."""
    total = model.decoder.wte.weight.numel() * 4
    for block in model.decoder.h:
        for name, tensor in block.state_dict().items():
            if name.endswith("weight") and "kv_proj" not in name and tensor.dim() == 2:
                total += tensor.numel() * 4
    return total


def roofline(model, dense: VisionGPT2, images: torch.Tensor, step_seconds: float,
             peaks: tuple[float, float]) -> list[str]:
    """Where the encoder and a decode step of `model` stand against this host's measured
    limits (FLOPs and bytes counted on `dense`, the same model with plain nn.Linear layers)."""
    peak_flops, read = peaks
    with torch.no_grad():
        seconds = best_of(lambda: model.cross_kv(images), 2)
    flops = encoder_flops(dense, images.size(0)) / seconds / 1e9
    nbytes = decoder_step_bytes(dense)
    rate = nbytes / step_seconds / 1e9
    return [
        f"encoder + cross-attention K/V: {seconds:.2f} s, {flops:.0f} GFLOP/s "
        f"({flops / peak_flops:.0%} of the {peak_flops:.0f} GFLOP/s matmul peak measured here)",
        f"decode step: {step_seconds * 1e3:.1f} ms, weights read at {rate:.1f} GB/s "
        f"({rate / read:.0%} of the {read:.1f} GB/s read rate measured here; floor "
        f"{nbytes / read / 1e6:.1f} ms for {nbytes / 1e6:.0f} MB)",
    ]


def agreement(a: list[list[int]], b: list[list[int]]) -> float:
    same = total = 0
    for x, y in zip(a, b):
        total += max(len(x), len(y))
        same += sum(p == q for p, q in zip(x, y))
    return same / max(total, 1)


def run(args) -> None:
    torch.set_num_threads(args.threads)
    hf, ours = build_models(args.tiny)
    size = ours.config.image_size
    bf16 = cpu_has_fast_bf16() or args.force_bf16
    modes, steps = make_modes(hf, ours, args.tokens, bf16, not args.no_reference)
    peaks = machine_peaks()
    print(f"torch {torch.__version__}, {args.threads} threads, {args.tokens} new tokens, greedy, "
          f"{ours.num_parameters() / 1e6:.0f}M parameters, CPU bf16 {'yes' if bf16 else 'no'}")
    print(f"CPU: {cpu_line()}; measured here: fp32 matmul {peaks[0]:.0f} GFLOP/s, memory read {peaks[1]:.1f} GB/s")
    recompute_per_caption = None
    for batch in args.batch_sizes:
        torch.manual_seed(batch)
        images = torch.randn(batch, 3, size, size)
        times: dict[str, list[float]] = {name: [] for name in modes}
        outputs: dict[str, list[list[int]]] = {}
        for name, fn in modes.items():  # warm-up, and the tokens to compare
            outputs[name] = fn(images)
        for _ in range(args.repeats):
            for name, fn in modes.items():
                if name.startswith("recompute") and (batch > 1 or times[name]):
                    continue  # the slow reference: batch 1, once
                start = time.perf_counter()
                fn(images)
                times[name].append(time.perf_counter() - start)
        hf_rate = batch / statistics.median(times["HF generate fp32"])
        print(f"\nbatch {batch}")
        print("| mode | s/batch | captions/s | vs HF fp32 | token agreement vs fp32 |")
        print("|---|---|---|---|---|")
        default = f"VisionCap {resolve_precision('auto', torch.device('cpu'))}"
        for name in modes:
            if not times[name]:
                continue
            label = f"{name} (default here)" if name.startswith(default) else name
            seconds = statistics.median(times[name])
            rate = batch / seconds
            agree = agreement(outputs[name], outputs["VisionCap fp32"])
            print(f"| {label} | {seconds:.3f} | {rate:.2f} | {rate / hf_rate:.2f}x | {agree:.1%} |")
        for name, (model, precision) in steps.items():
            ms = step_ms(model, precision, images)
            print(f"{name}: {ms:.1f} ms a decode step at batch {batch}")
            if precision == "fp32":
                for line in roofline(model, ours, images, ms / 1000, peaks):
                    print(f"  {line}")
        recompute = times.get("recompute loop fp32 (original)")
        if recompute:
            recompute_per_caption = statistics.median(recompute) / batch
            print(f"recompute loop: {recompute_per_caption:.2f} s per caption at batch {batch}")
        for name in modes:
            if recompute_per_caption and (name == "VisionCap fp32" or name.startswith(default)):
                mine = statistics.median(times[name]) / batch
                print(f"{name} at batch {batch} vs the recompute loop at batch 1: "
                      f"{recompute_per_caption / mine:.1f}x per caption")


STARTUP_SCRIPT = """
import time, sys
t0 = time.perf_counter()
from PIL import Image
from core.captioning.captioner import Captioner
t1 = time.perf_counter()
captioner = Captioner.load(sys.argv[1], device="cpu")
t2 = time.perf_counter()
result = captioner.caption([Image.new("RGB", (640, 480), "red")])
t3 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f} {'transformers' in sys.modules}")
"""


def startup(args) -> None:
    """Wall time of a fresh process from start to its first caption, with a full-size bundle."""
    from tokenizers import Tokenizer, models

    from core.bundles.bundle import save_bundle
    from core.captioning.tokenizer import CaptionTokenizer

    _, ours = build_models(args.tiny)
    vocab = {f"t{i}": i for i in range(ours.config.vocab_size)}
    tokenizer = CaptionTokenizer(Tokenizer(models.WordLevel(vocab, unk_token="t0")))
    with tempfile.TemporaryDirectory() as tmp:
        save_bundle(tmp, ours, tokenizer, name="startup-benchmark")
        root = Path(__file__).resolve().parent.parent
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", STARTUP_SCRIPT, tmp], capture_output=True, text=True,
                             cwd=root, check=True)
        total = time.perf_counter() - start
    imports, load, first = out.stdout.split()[:3]
    print(f"\nprocess start to first caption: {total:.2f} s (imports {imports} s, bundle load {load} s, "
          f"first caption {first} s; transformers imported: {out.stdout.split()[3]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="tiny random models: a smoke run")
    parser.add_argument("--force-bf16", action="store_true", help="measure bf16 even without native support")
    parser.add_argument("--startup", action="store_true", help="also measure process start to first caption")
    parser.add_argument("--no-reference", action="store_true", help="skip the int8 and recompute-loop modes")
    args = parser.parse_args()
    run(args)
    if args.startup:
        startup(args)


if __name__ == "__main__":
    main()
