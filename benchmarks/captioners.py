"""Captions per second of each captioner family: VisionCap's path against a plain transformers
script on the same images and settings, and VisionGPT2 beside them, in one run.

Full-size models with random weights, built from the published hyperparameters (no download):
Florence-2 base (DaViT + BART base, 768 px), BLIP base (ViT-B/16 384 px + BERT base), GIT base
(CLIP ViT-B/16 224 px + 6 BERT layers), VisionGPT2 (ViT-B/16 + GPT-2 small). Every caption is
exactly --tokens tokens long (min = max new tokens, greedy), so that random weights ending early
do not flatter anyone. Both paths read the same JPEG files: VisionCap through load_captioner and
caption(), the plain script with PIL, the model's processor, generate and batch_decode. Paths are
measured in turns so that machine noise hits all alike; compare ratios within one run.

    python benchmarks/captioners.py                # the docs/performance.md table (minutes on a CPU)
    python benchmarks/captioners.py --tiny         # seconds-long smoke run (tests use it)
    python benchmarks/captioners.py --device cuda  # on a GPU (fp16, as "auto" chooses there)
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: F401, I001  (before torch: OpenMP threads that sleep when they wait)
import numpy as np
import torch
from PIL import Image

from core.bundles.bundle import save_bundle
from core.bundles.hf_import import import_hf
from core.captioning.device import device_name, resolve_device
from core.captioning.generation_settings import GenerationSettings
from core.captioning.hf_captioner import generate_kwargs
from core.captioning.loading import load_captioner
from core.captioning.tokenizer import CaptionTokenizer
from generate import build_models, cpu_line

FAMILIES = ("florence2", "blip", "git")
FLORENCE_TASK = "<CAPTION>"


def wordpiece_tokenizer(vocab_size: int):
    """A BERT-style tokenizer with `vocab_size` entries (BLIP's and GIT's layout), made up."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = list("abcdefghijklmnopqrstuvwxyz")
    words = [f"w{i}" for i in range(vocab_size - len(specials) - len(letters) * 2)]
    vocab = {t: i for i, t in enumerate(specials + letters + [f"##{c}" for c in letters] + words)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return transformers.BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]",
                                          pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")


def bpe_tokenizer(vocab_size: int):
    """A byte-level BPE with `vocab_size` entries and Florence-2's image token, made up."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    words = [f"\u0120w{i}" for i in range(vocab_size - len(specials) - len(alphabet))]
    vocab = {t: i for i, t in enumerate(specials + alphabet + words)}
    tok = Tokenizer(models.BPE(vocab, []))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return transformers.BartTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                          unk_token="<unk>", mask_token="<mask>",
                                          extra_special_tokens={"image_token": "<image>"})


def build(family: str, tiny: bool):
    """(model, processor) with random weights: the published hyperparameters, or tiny ones."""
    import transformers

    torch.manual_seed(0)
    if family == "florence2":
        tokenizer = bpe_tokenizer(400 if tiny else 51289)
        if tiny:
            vision = transformers.Florence2VisionConfig(depths=[1, 1, 1, 1], embed_dim=[8, 16, 16, 32],
                                                        num_heads=[1, 1, 2, 2], num_groups=[1, 1, 2, 2],
                                                        window_size=2, projection_dim=32, max_position_embeddings=8,
                                                        max_temporal_embeddings=4)
            text = dict(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128)
            size, tokens = 64, 5
        else:  # Florence-2 base: DaViT (1, 1, 9, 1) at 768 px, BART base (6 + 6 layers, 768 wide)
            vision = transformers.Florence2VisionConfig(projection_dim=768)
            text = dict(d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
                        decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072,
                        max_position_embeddings=1024)
            size, tokens = 768, 577
        text_config = transformers.BartConfig(vocab_size=len(tokenizer), bos_token_id=0, pad_token_id=1, eos_token_id=2,
                                              decoder_start_token_id=2, forced_eos_token_id=2, **text)
        config = transformers.Florence2Config(vision_config=vision, text_config=text_config,
                                              image_token_id=tokenizer.image_token_id)
        model = transformers.Florence2ForConditionalGeneration(config)
        image_processor = transformers.CLIPImageProcessor(size={"height": size, "width": size},
                                                          crop_size={"height": size, "width": size},
                                                          do_center_crop=False, image_seq_length=tokens)
        processor = transformers.Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    elif family == "blip":
        tokenizer = wordpiece_tokenizer(200 if tiny else 30524)
        width, size = (32, 32) if tiny else (768, 384)
        vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                      patch_size=8) if tiny else dict(image_size=384)
        text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2) if tiny else {}
        text_config = transformers.BlipTextConfig(vocab_size=len(tokenizer), encoder_hidden_size=width, bos_token_id=2,
                                                  sep_token_id=3, pad_token_id=0, eos_token_id=3, **text)
        config = transformers.BlipConfig(vision_config=vision, text_config=text_config.to_dict())
        model = transformers.BlipForConditionalGeneration(config)
        processor = transformers.BlipProcessor(
            image_processor=transformers.BlipImageProcessor(size={"height": size, "width": size}), tokenizer=tokenizer)
    else:
        tokenizer = wordpiece_tokenizer(200 if tiny else 30522)
        if tiny:
            vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                          image_size=32, patch_size=8)
            text = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
        else:  # GIT base: CLIP ViT-B/16 at 224 px, 6 BERT-base layers
            vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                          image_size=224, patch_size=16)
            text = dict(num_hidden_layers=6)
        config = transformers.GitConfig(vision_config=vision, vocab_size=len(tokenizer), bos_token_id=2, eos_token_id=3,
                                        pad_token_id=0, **text)
        model = transformers.GitForCausalLM(config)
        size = vision["image_size"]
        processor = transformers.GitProcessor(
            image_processor=transformers.CLIPImageProcessor(size={"shortest_edge": size},
                                                            crop_size={"height": size, "width": size}),
            tokenizer=tokenizer)
    return model.eval(), processor


def visiongpt2_bundle(folder: Path, tiny: bool) -> tuple[Path, int]:
    """A VisionGPT2 bundle with random weights and a made-up word-level tokenizer."""
    from tokenizers import Tokenizer, models

    _, model = build_models(tiny)  # ViT-B/16 + GPT-2 small in "final" mode, as benchmarks/generate.py
    vocab = {f"w{i} ": i for i in range(model.config.vocab_size)}
    tokenizer = CaptionTokenizer(Tokenizer(models.WordLevel(vocab, unk_token="w0 ")))
    parameters = sum(p.numel() for p in model.parameters())  # before oneDNN packing hides some from parameters()
    return save_bundle(folder, model, tokenizer, name="visiongpt2-random", licence="MIT"), parameters


def plain_script(model, processor, family: str, paths: list[Path], kwargs: dict, batch_size: int,
                 device: torch.device, dtype: torch.dtype) -> list[str]:
    """What a user of transformers writes: PIL, the processor, generate, batch_decode."""
    texts = []
    for start in range(0, len(paths), batch_size):
        images = [Image.open(p).convert("RGB") for p in paths[start : start + batch_size]]
        if family == "florence2":
            inputs = processor(images=images, text=[FLORENCE_TASK] * len(images), return_tensors="pt")
        else:
            inputs = processor(images=images, return_tensors="pt")
        inputs = {k: v.to(device, dtype) if v.is_floating_point() else v.to(device) for k, v in inputs.items()}
        with torch.inference_mode():
            out = model.generate(**inputs, **kwargs)
        texts += processor.batch_decode(out, skip_special_tokens=True)
    return texts


def make_photos(folder: Path, count: int) -> list[Path]:
    """JPEGs of phone-photo size (2 MP), each different."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8)
        path = folder / f"photo{i}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def run(args) -> None:
    warnings.filterwarnings("ignore")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    device = resolve_device(args.device)
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    settings = GenerationSettings(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    rows = []
    with tempfile.TemporaryDirectory(prefix="visioncap-bench-") as tmp:
        root = Path(tmp)
        paths = make_photos(root, args.images)
        contenders = []
        for family in args.families:
            model, processor = build(family, args.tiny)
            checkpoint = root / f"{family}-checkpoint"
            model.save_pretrained(checkpoint, safe_serialization=True)
            processor.save_pretrained(checkpoint)
            import_hf(checkpoint, root / family, name=f"{family}-random")
            captioner = load_captioner(root / family, device=device)
            captioner.threads.set_fixed(threads)
            dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(captioner.precision, torch.float32)
            model.to(device, dtype)
            kwargs = generate_kwargs(settings)
            contenders.append((family, captioner.parameters, captioner.precision, "VisionCap",
                               lambda c=captioner: c.caption(paths, settings, args.batch_size)))
            contenders.append((family, captioner.parameters, captioner.precision, "transformers script",
                               lambda m=model, p=processor, f=family, k=kwargs, d=dtype:
                               plain_script(m, p, f, paths, k, args.batch_size, device, d)))
        bundle, parameters = visiongpt2_bundle(root / "visiongpt2", args.tiny)
        ours = load_captioner(bundle, device=device)
        ours.threads.set_fixed(threads)
        contenders.append(("visiongpt2", parameters, ours.precision, "VisionCap",
                           lambda: ours.caption(paths, settings, args.batch_size)))
        times: dict[int, list[float]] = {i: [] for i in range(len(contenders))}
        for _ in range(args.repeats + 1):  # the first round warms up and is dropped
            for i, (*_, fn) in enumerate(contenders):
                start = time.perf_counter()
                fn()
                times[i].append(time.perf_counter() - start)
        for i, (family, parameters, precision, path, _) in enumerate(contenders):
            seconds = statistics.median(times[i][1:])
            rows.append((family, parameters, precision, path, len(paths) / seconds))
    print(f"{device_name(device)}; {cpu_line()}; {threads} threads; torch {torch.__version__}, "
          f"transformers {transformers.__version__}")
    print(f"{args.images} JPEGs of 1600x1200, batch {args.batch_size}, greedy, exactly {args.tokens} new tokens, "
          f"median of {args.repeats}{' (tiny models)' if args.tiny else ''}\n")
    print("| model | parameters | precision | path | captions/s | vs transformers |")
    print("|---|---|---|---|---|---|")
    plain = {family: rate for family, _, _, path, rate in rows if path == "transformers script"}
    for family, parameters, precision, path, rate in rows:
        ratio = f"{rate / plain[family]:.2f}x" if family in plain else "-"
        print(f"| {family} | {parameters / 1e6:.{0 if parameters >= 1e7 else 2}f}M | {precision} | {path} | {rate:.2f} | {ratio} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny models: a smoke run of seconds")
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=20, help="new tokens per caption")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        run(args)


if __name__ == "__main__":
    main()
