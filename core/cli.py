"""Headless commands: `visioncap caption ...` and `visioncap import-hf ...`.

Exit status: 0 every image captioned; 1 some images failed (the rest are written);
2 a usage or model error, reported in one line without a traceback; 130 interrupted.
Heavy imports (torch) happen inside the commands so `visioncap --help` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = ("caption", "import-hf")
CSV_COLUMNS = ("path", "caption", "error")


class UsageError(Exception):
    """A problem with the arguments, reported like argparse's own errors (exit 2)."""


def parse_shard(text: str) -> tuple[int, int]:
    """"I/N" -> (I, N): the I-th (counting from 0) of N contiguous slices of the sorted list."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like I/N, e.g. 0/4, got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= I < N")
    return index, count


def shard_slice(items: list, index: int, count: int) -> list:
    """Contiguous, deterministic, and together the whole list: concatenating the shards'
    CSVs in shard order gives the same rows as one run."""
    n = len(items)
    return items[index * n // count : (index + 1) * n // count]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visioncap", description="Caption photos with a VisionGPT2 model.")
    sub = parser.add_subparsers(dest="command", required=True)

    cap = sub.add_parser("caption", help="caption image files and folders, write CSV")
    cap.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    cap.add_argument("--model", required=True, help='a bundle folder, or "demo" for the built-in model')
    cap.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
    cap.add_argument("--strategy", choices=("greedy", "sample", "beam"), default="greedy")
    cap.add_argument("--temperature", type=float, default=1.0)
    cap.add_argument("--top-k", type=int, default=0)
    cap.add_argument("--top-p", type=float, default=1.0)
    cap.add_argument("--beams", type=int, default=4)
    cap.add_argument("--max-tokens", type=int, default=30)
    cap.add_argument("--no-repeat-ngram", type=int, default=0)
    cap.add_argument("--repetition-penalty", type=float, default=1.0)
    cap.add_argument("--batch-size", type=int, default=8)
    cap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    cap.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    cap.add_argument("--threads", type=int, help="CPU threads for the model (default: adapts to the load)")
    cap.add_argument("--seed", type=int, help="makes sampling reproducible")
    cap.add_argument("--recursive", action="store_true", help="include subfolders")
    cap.add_argument("--resume", action="store_true", help="keep the rows already in --out, caption the rest")
    cap.add_argument("--shard", type=parse_shard, metavar="I/N", help="caption only slice I (from 0) of N")

    imp = sub.add_parser("import-hf", help="import a HF VisionEncoderDecoder (ViT + GPT-2) checkpoint")
    imp.add_argument("src", help="a local checkpoint folder, or a hub id such as nlpconnect/vit-gpt2-image-captioning")
    imp.add_argument("--out", type=Path, required=True, help="bundle folder to write")
    imp.add_argument("--name", help="bundle name (default: the source's last path part)")
    return parser


def _settings(args):
    from core.generation import GenerationSettings

    settings = GenerationSettings(
        strategy=args.strategy,
        max_new_tokens=args.max_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        num_beams=args.beams,
        seed=args.seed,
        no_repeat_ngram_size=args.no_repeat_ngram,
        repetition_penalty=args.repetition_penalty,
    )
    settings.validate()
    return settings


def _already_done(out: Path) -> list[dict[str, str]]:
    """Rows of an earlier run, rewritten cleanly (a line cut off by a crash is dropped)."""
    from core.csvio import read_csv_rows, write_csv_atomic

    if not out.is_file():
        return []
    columns, rows = read_csv_rows(out)
    if columns and columns != list(CSV_COLUMNS):
        raise UsageError(f"{out}: cannot resume, its columns are {columns}, expected {list(CSV_COLUMNS)}")
    write_csv_atomic(out, CSV_COLUMNS, rows, bom=False, guard_formulas=False)
    return rows


def run_caption(args) -> int:
    from tqdm import tqdm

    from core.captioner import Captioner
    from core.csvio import CsvRowWriter
    from core.images import collect_images
    from core.resources import resolve_model

    if args.resume and args.out is None:
        raise UsageError("--resume needs --out")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    settings = _settings(args)
    items = collect_images(args.paths, recursive=args.recursive)
    if args.shard:
        items = shard_slice(items, *args.shard)
    done_rows = _already_done(args.out) if args.resume else []
    done = {row["path"] for row in done_rows}
    todo = [(path, name) for path, name in items if name not in done]

    captioner = Captioner.load(resolve_model(args.model), device=args.device, precision=args.precision)
    captioner.threads.set_fixed(args.threads)
    failures = sum(1 for row in done_rows if row.get("error"))
    stream = (
        open(args.out, "a" if args.resume else "w", encoding="utf-8", newline="")  # noqa: SIM115
        if args.out
        else sys.stdout
    )
    try:
        writer = CsvRowWriter(stream, CSV_COLUMNS)
        if not done_rows:
            writer.write_header()
        names = [name for _, name in todo]
        progress = tqdm(total=len(todo), unit="img", file=sys.stderr, disable=None, desc="captioning")
        position = 0
        for batch in captioner.caption_batches([path for path, _ in todo], settings, args.batch_size):
            rows = []
            for result in batch:
                rows.append({"path": names[position], "caption": result.caption, "error": result.error})
                position += 1
                failures += not result.ok
            writer.write_rows(rows)
            progress.update(len(batch))
        progress.close()
    finally:
        if stream is not sys.stdout:
            stream.close()
    total = len(done_rows) + len(todo)
    print(
        f"captioned {total - failures} of {total} images on {captioner.device} ({captioner.precision})"
        + (f"; {failures} failed" if failures else "")
        + (f"; {len(done_rows)} kept from {args.out}" if done_rows else ""),
        file=sys.stderr,
    )
    return 1 if failures else 0


def run_import(args) -> int:
    from core.hf_import import import_hf

    out = import_hf(args.src, args.out, progress=lambda message: print(message, file=sys.stderr), name=args.name)
    print(f"wrote bundle {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from core.errors import VisionCapError

    try:
        return run_caption(args) if args.command == "caption" else run_import(args)
    except UsageError as exc:
        parser.error(str(exc))  # exits 2 with the usage line
    except (VisionCapError, OSError, ValueError) as exc:
        print(f"visioncap: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("visioncap: interrupted; finished rows are saved", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
