"""Scoring a captioner: teacher-forced perplexity and caption metrics of generated captions.

    python -m training evaluate --model BUNDLE|demo --captions test.csv [--kind csv] [--json OUT]
    python -m training evaluate --model BUNDLE --captions dataset_coco.json --split test

Perplexity is token-weighted over every (image, reference) pair: exp(sum of token NLL / number
of tokens), not a mean of batch means. Generation makes one caption per image (greedy unless
--strategy says otherwise) and scores it against all of that image's captions (COCO's five).
--split picks the split papers report on where the data has splits (Karpathy's test or val,
Flickr8k's lists, a COCO root's file, imagefolder split folders; default val); asked of data
without splits, it is an error rather than a score on everything. --limit draws whole images,
each with all its references.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import SequentialSampler

from core.captioning.device import PRECISIONS
from core.captioning.generation import GenerationSettings, generate
from core.captioning.generation_settings import STRATEGIES
from core.captioning.model import VisionGPT2
from core.captioning.tokenizer import CaptionTokenizer
from training.annotations import KIND_CHOICES, CaptionRecord, counted
from training.batches import IGNORE_INDEX, Batch, CaptionDataset, make_loader, unique_images
from training.config import ATTENTION_BACKENDS
from training.runtime import Precision

logger = logging.getLogger(__name__)

METRIC_ORDER = ("bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider", "perplexity", "exact_match")


def batch_nll(
    model: torch.nn.Module, batch: Batch, precision: Precision, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Summed next-token NLL of a batch (a scalar); the forward pass under autocast, the loss
    in float32 outside it."""
    with precision.forward():
        logits = model(batch.images, batch.input_ids)  # (B, T, V)
    return F.cross_entropy(
        logits.flatten(0, 1).float(),
        batch.labels.flatten(),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
        label_smoothing=label_smoothing,
    )


@torch.no_grad()
def teacher_forced_nll(
    model: VisionGPT2, loader, precision: Precision, device: torch.device
) -> tuple[float, int, int]:
    """(sum of token NLL, number of tokens, number of bad images) over a loader's batches."""
    was_training = model.training
    model.eval()
    total, tokens, bad = 0.0, 0, 0
    for batch in loader:
        bad += len(batch.bad)
        if batch.size:
            batch = batch.to(device)
            total += batch_nll(model, batch, precision).item()
            tokens += batch.num_tokens
    model.train(was_training)
    return total, tokens, bad


def perplexity(nll_sum: float, tokens: int) -> float:
    return math.exp(nll_sum / tokens) if tokens else math.nan


@torch.no_grad()
def generate_captions(
    model: VisionGPT2,
    tokenizer: CaptionTokenizer,
    loader,
    settings: GenerationSettings,
    precision: Precision,
    device: torch.device,
) -> dict[str, str]:
    """Image path -> generated caption, for every readable image of a loader."""
    was_training = model.training
    model.eval()
    captions: dict[str, str] = {}
    for batch in loader:
        if not batch.size:
            continue
        with precision.forward():
            tokens = generate(model, batch.images.to(device), settings)
        captions.update(zip(batch.paths, tokenizer.decode_batch(tokens), strict=True))
    model.train(was_training)
    return captions


def score(
    model: VisionGPT2,
    tokenizer: CaptionTokenizer,
    records: Sequence[CaptionRecord],
    settings: GenerationSettings,
    precision: Precision,
    device: torch.device,
    *,
    batch_size: int = 32,
    workers: int = 0,
    meteor: bool = True,
    with_perplexity: bool = True,
) -> tuple[dict[str, float], dict[str, str], dict[str, list[str]]]:
    """(metrics, predictions by image, references by image) for `records`.

    Metrics: bleu1..4, rouge_l, cider, exact_match, meteor where available, perplexity
    (unless `with_perplexity` is False), and `images`, `captions`, `bad_images` counts.
    """
    from training.metrics import compute_metrics

    pin = device.type == "cuda"
    firsts, references = unique_images(records)
    images = CaptionDataset(firsts, tokenizer, model.config)
    predictions = generate_captions(
        model, tokenizer, make_loader(images, batch_size, SequentialSampler(images), workers, pin),
        settings, precision, device,
    )
    if not predictions:
        raise ValueError("no readable image to caption")
    results = compute_metrics(predictions, references, meteor=meteor)
    results["images"] = len(predictions)
    results["bad_images"] = len(firsts) - len(predictions)
    if with_perplexity:
        pairs = CaptionDataset(records, tokenizer, model.config)
        nll, tokens, _ = teacher_forced_nll(
            model, make_loader(pairs, batch_size, SequentialSampler(pairs), workers, pin), precision, device
        )
        results["perplexity"] = perplexity(nll, tokens)
    results["captions"] = sum(len(references[path]) for path in predictions)
    return results, predictions, references


def whole_images(records: Sequence[CaptionRecord], chosen: Sequence[CaptionRecord]) -> list[CaptionRecord]:
    """Every record of `records` whose image is among `chosen`'s: an image cut short by a
    caption limit gets all its references back."""
    images = {record.image for record in chosen}
    return [record for record in records if record.image in images]


def format_results(results: dict[str, float]) -> str:
    lines = []
    for key in METRIC_ORDER:
        if key in results:
            value = results[key]
            lines.append(f"{key:>12}  {value:.2f}" if key == "perplexity" else f"{key:>12}  {value:.4f}")
    names = {"images": "image", "captions": "caption", "bad_images": "bad image"}
    counts = [counted(results[k], noun) for k, noun in names.items() if k in results]
    return "\n".join([*lines, "  " + ", ".join(counts)])


def _write_predictions(path: Path, predictions: dict[str, str], references: dict[str, list[str]]) -> None:
    from core.atomic import atomic_write

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["image", "prediction", "references"])
            for image, caption in predictions.items():
                writer.writerow([image, caption, " | ".join(references[image])])

    atomic_write(path, write)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training evaluate",
        description="Score a bundle: BLEU-1..4, METEOR (with Java), ROUGE-L, CIDEr-D, perplexity, exact match.",
    )
    parser.add_argument("--model", required=True, help='a bundle folder, or "demo" for the built-in model')
    parser.add_argument("--captions", required=True, help="annotation file or dataset folder")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="auto", help="dataset layout (auto: detect)")
    parser.add_argument("--images-dir", help="where the annotation's image names point")
    parser.add_argument("--split", help="test or val of data with splits: Karpathy JSON, Flickr8k's lists, "
                        "a COCO root, imagefolder split folders (default: val)")
    parser.add_argument("--limit", type=int, help="about this many captions: whole images (seeded), each with "
                        "all its references")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", choices=STRATEGIES, default="greedy")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--attention", choices=ATTENTION_BACKENDS, default="auto",
                        help="scaled_dot_product_attention backend (auto: PyTorch chooses)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--no-meteor", action="store_true", help="skip METEOR even if Java is present")
    parser.add_argument("--no-perplexity", action="store_true")
    parser.add_argument("--json", type=Path, help="write the metrics here as JSON")
    parser.add_argument("--predictions", type=Path, help="write image,prediction,references CSV here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from core.bundles.bundle import load_bundle
    from core.bundles.resources import resolve_model
    from core.errors import VisionCapError
    from training.annotations import DatasetError, read_captions, subset
    from training.runtime import Processes, process_device

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = process_device(args.device, Processes())
        precision = Precision.of(args.precision, device, args.attention)
        bundle = load_bundle(resolve_model(args.model), device=device)
        records, stats = read_captions(args.kind, args.captions, args.images_dir, split=args.split or "val")
    except (VisionCapError, DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.split is not None and stats.split is None:
        print(f"error: {stats.source}: a {stats.kind} file has no splits to pick {args.split!r} from; name the "
              "file of that split, or drop --split to score all of it", file=sys.stderr)
        return 2
    if args.limit is not None:
        records = whole_images(records, subset(records, limit=args.limit, seed=args.seed))
    if not records:
        print(f"error: {args.captions}: no captions to evaluate", file=sys.stderr)
        return 2
    settings = GenerationSettings(strategy=args.strategy, num_beams=args.beams, max_new_tokens=args.max_tokens)
    started = time.perf_counter()
    try:
        results, predictions, references = score(
            bundle.model, bundle.tokenizer, records, settings, precision, device,
            batch_size=args.batch_size, workers=args.workers, meteor=not args.no_meteor,
            with_perplexity=not args.no_perplexity,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results["seconds"] = round(time.perf_counter() - started, 2)
    results["split"] = stats.split
    split = f", {stats.split} split" if stats.split else ""
    print(f"{bundle.manifest.name} on {stats.source}{split} ({precision.name}, {args.strategy}):")
    print(format_results(results))
    if args.json:
        from core.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(results, indent=2) + "\n")
    if args.predictions:
        _write_predictions(args.predictions, predictions, references)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
