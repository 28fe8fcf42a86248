"""Headless commands: `visioncap caption ...`, `visioncap import-hf ...` and `visioncap models`.

Exit status: 0 every image captioned (or left alone for the caption it has); 1 some images failed (their rows say why,
the rest are written); 2 the command cannot be carried out as given (a bad option, a missing
input, an --out that is not a caption CSV or that another run is writing, a model that cannot
be loaded); 3 a runtime error stopped the run (a full disk, out of memory on the CPU, a bug),
rows already written are kept; 130 interrupted. Files a scanned folder held but that were left
out (a format VisionCap cannot read, an unreadable folder) are listed on stderr and make the
status 1 as well. Errors are one line, without a traceback.

Arguments and the output file are checked before torch is imported (several seconds), so a
mistake is reported at once.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.captioning.device import CAPTION_PRECISIONS, DEVICE_CHOICES, device_name
from core.captioning.generation_settings import STRATEGIES
from core.captioning.protocols import BatchCaptioner

if TYPE_CHECKING:
    from core.captioning.captioner import Captioner  # imports torch
    from core.captioning.hf_captioner import TransformersCaptioner

COMMANDS = ("caption", "import-hf", "models")
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_RUNTIME, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# GenerationSettings fields -> the options that set them, for error messages.
SETTING_OPTIONS = {
    "strategy": "--strategy",
    "max_new_tokens": "--max-tokens",
    "temperature": "--temperature",
    "top_k": "--top-k",
    "top_p": "--top-p",
    "num_beams": "--beams",
    "seed": "--seed",
    "no_repeat_ngram_size": "--no-repeat-ngram",
    "repetition_penalty": "--repetition-penalty",
}
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|mps|xpu(:\d+)?")  # core.captioning.device.DEVICE_CHOICES
WRITE_WAYS = ("xmp", "embed", "txt", "jsonl")  # core.metadata.caption_writes.WAYS, without importing exiv2 for --help


class UsageError(Exception):
    """A problem with the arguments, reported like argparse's own errors (exit 2)."""


class CommandError(Exception):
    """A failure reported as one line with its exit code."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


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
    from core.bundles.resources import PUBLIC_COCO_CAPTIONER

    parser = argparse.ArgumentParser(prog="visioncap", description="Caption photos with a VisionGPT2 model.")
    sub = parser.add_subparsers(dest="command", required=True)

    cap = sub.add_parser("caption", help="caption image files and folders, write CSV")
    cap.set_defaults(parser=cap)
    cap.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    cap.add_argument("--model", required=True,
                     help='a model name (visioncap models lists them), a model folder, or "demo" for the built-in model')
    cap.add_argument("--style", help="the caption style, for models that have them (Florence-2: caption, detailed, "
                                     "more-detailed)")
    cap.add_argument("--prompt", help="text the caption continues, for models that take one (BLIP, GIT), "
                                      "e.g. 'a photograph of'; it is not part of the caption")
    cap.add_argument("--no-verify", action="store_true", help="skip the SHA-256 check of the model's files")
    cap.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
    cap.add_argument("--strategy", choices=STRATEGIES, default="greedy")
    cap.add_argument("--temperature", type=float, default=1.0)
    cap.add_argument("--top-k", type=int, default=0)
    cap.add_argument("--top-p", type=float, default=1.0)
    cap.add_argument("--beams", type=int, default=4)
    cap.add_argument("--max-tokens", type=int, default=30)
    cap.add_argument("--no-repeat-ngram", type=int, default=0)
    cap.add_argument("--repetition-penalty", type=float, default=1.0)
    cap.add_argument("--batch-size", type=int, default=8)
    cap.add_argument("--device", default="auto",
                     help="auto (the GPU PyTorch reports, else the CPU), cpu, cuda or cuda:N (NVIDIA, or AMD "
                          "with ROCm), mps (Apple silicon), xpu or xpu:N (Intel); see docs/devices.md")
    cap.add_argument("--precision", choices=CAPTION_PRECISIONS, default="auto",
                     help="auto: the device's fastest that keeps fp32's captions; int8: quantised Linear layers "
                          "on the CPU (faster; see docs/performance.md)")
    cap.add_argument("--threads", type=int, help="CPU threads for the model (default: adapts to the load)")
    cap.add_argument("--seed", type=int, help="makes sampling reproducible")
    cap.add_argument("--recursive", action="store_true", help="include subfolders")
    cap.add_argument(
        "--resume", action="store_true", help="keep the captioned rows already in --out, caption the rest and retry failures"
    )
    cap.add_argument("--shard", type=parse_shard, metavar="I/N", help="caption only slice I (from 0) of N")
    cap.add_argument("--write", action="append", default=[], choices=WRITE_WAYS, metavar="WAY",
                     help="also write the captions where other tools read them: xmp (sidecar), embed "
                          "(into the photo), txt, jsonl (metadata.jsonl); repeatable")
    cap.add_argument("--sidecar-name", choices=("photo.jpg.xmp", "photo.xmp"), default="photo.jpg.xmp",
                     help="how XMP sidecars are named")
    cap.add_argument("--keep-mtime", action="store_true", help="--write embed keeps each photo's modification time")
    cap.add_argument("--existing", choices=("keep", "replace"), default="keep",
                     help="a photo with a caption a person or another program wrote (beside or inside it): "
                          "keep it (default: not captioned, its caption goes to the CSV with its source) "
                          "or replace it")

    imp = sub.add_parser("import-hf", help="import a HF checkpoint: ViT + GPT-2, Florence-2, BLIP or GIT")
    imp.set_defaults(parser=imp)
    imp.add_argument("src", help=f"a model name (visioncap models), a local checkpoint folder, or a hub id such "
                                 f"as {PUBLIC_COCO_CAPTIONER}")
    imp.add_argument("--out", type=Path,
                     help="model folder to write (default for a model name: the models folder, where --model NAME finds it)")
    imp.add_argument("--name", help="model name (default: the source's last path part)")

    models = sub.add_parser("models", help="list the models VisionCap offers by name, and which are installed")
    models.set_defaults(parser=models)
    return parser


def _settings(args):
    """The decoding settings, validated; errors name the command-line options. No torch."""
    from core.captioning.generation_settings import GenerationSettings

    try:
        return GenerationSettings(
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
    except ValueError as exc:
        field, _, rest = str(exc).partition(" ")
        raise UsageError(f"{SETTING_OPTIONS.get(field, field)} {rest}") from None


def _check_caption_args(args):
    """Everything about the arguments that can be checked without torch; returns the settings."""
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not DEVICE_PATTERN.fullmatch(args.device):
        raise UsageError(f"--device must be {DEVICE_CHOICES}, got {args.device!r}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    _check_style_and_prompt(args)
    return _settings(args)


def _check_style_and_prompt(args) -> None:
    """For a model named from the catalogue, --style and --prompt are checked before anything
    loads (a folder's model is checked when it loads)."""
    from core.captioning.catalogue import model_info

    info = model_info(args.model) if not Path(args.model).exists() else None
    if info is None:
        return
    try:
        info.style(args.style)
    except ValueError as exc:
        raise UsageError(f"--style: {exc}") from None
    if args.prompt and not info.prompt_prefix:
        raise UsageError(f"--prompt: {info.title} takes no prompt"
                         + (f"; it has styles instead: {', '.join(s.name for s in info.styles)}" if info.styles else ""))


def _collect(args, scan) -> list[tuple[str, str, str]]:
    """(path as given, identity, name within its folder argument) for each image, each image
    once, in a stable order; what the scan left out goes to `scan` (a ScanReport)."""
    from core.cli.output import identity
    from core.images.reading import collect_images

    try:
        items = collect_images(args.paths, recursive=args.recursive, report=scan)
    except FileNotFoundError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    unique: dict[str, tuple[str, str]] = {}
    for path, name in items:
        unique.setdefault(identity(path), (str(path), name))
    found = [(path, key, name) for key, (path, name) in unique.items()]
    return shard_slice(found, *args.shard) if args.shard else found


def _load_captioner(args: argparse.Namespace) -> Captioner | TransformersCaptioner:
    from core.captioning.loading import load_captioner
    from core.errors import VisionCapError

    try:
        return load_captioner(
            args.model, device=args.device, precision=args.precision, style=args.style, prompt=args.prompt,
            verify_hashes=not args.no_verify,
        )
    except (VisionCapError, ValueError, OSError) as exc:  # the bundle or the device asked for
        raise CommandError(f"cannot load the model: {exc}", EXIT_USAGE) from exc
    except Exception as exc:  # a driver or PyTorch failure
        raise CommandError(f"cannot load the model: {_one_line(exc)}", EXIT_RUNTIME) from exc


def run_caption(args) -> int:
    from core.cli.output import check_target, locked, rows_to_keep
    from core.cli.writes import read_existing
    from core.images.scan import ScanReport

    settings = _check_caption_args(args)
    scan = ScanReport()
    if args.out is not None:
        check_target(args.out)
    with locked(args.out) if args.out is not None else contextlib.nullcontext():
        items = _collect(args, scan)
        kept, done = rows_to_keep(args.out, [key for _, key, _ in items]) if args.resume else ([], set())
        todo = [item for item in items if item[1] not in done]
        left_alone, todo, states, problems = read_existing(todo, args.existing == "keep", bool(args.write))
        for problem in problems:
            print(f"visioncap: warning: {problem}", file=sys.stderr)
        captioner = _load_captioner(args)
        captioner.threads.set_fixed(args.threads)
        writer = _writer(args, items, states)
        try:
            if writer is not None and kept:
                writer.write(kept)  # captions an earlier run kept by --resume are written too
            failures, _ = _caption(captioner, todo, kept + left_alone, settings, args, writer,
                                   {"model": captioner.name, "style": captioner.style})
        finally:
            if writer is not None:
                writer.flush()
    failures += sum(1 for row in kept if row["error"])
    total = len(kept) + len(left_alone) + len(todo)
    print(
        f"captioned {total - failures - len(left_alone)} of {total} images on {device_name(captioner.device)} "
        f"in {captioner.precision}"
        + (f"; {failures} failed" if failures else "")
        + (f"; {len(kept)} kept from {args.out}" if kept else "")
        + (f"; {len(left_alone)} left alone: they have a caption a person or another program wrote "
           "(their captions are in the CSV; --existing replace captions them too)" if left_alone else ""),
        file=sys.stderr,
    )
    if writer is not None:
        hint = " (--existing replace replaces them)" if args.existing == "keep" else ""
        print(writer.report.summary(hint), file=sys.stderr)
        failures += writer.failures
    for line in scan.lines():
        print(line, file=sys.stderr)
    return EXIT_SOME_FAILED if failures or scan.skipped else EXIT_OK


def _writer(args, items, states):
    if not args.write:
        return None
    from core.cli.writes import RunWriter
    from core.metadata.caption_writes import WriteOptions

    options = WriteOptions(tuple(dict.fromkeys(args.write)), args.sidecar_name, args.keep_mtime, args.existing)
    return RunWriter(options, {key: name for _, key, name in items}, states)


def _caption(
    captioner: BatchCaptioner, todo, first_rows, settings, args, writer, written_by: dict[str, str]
) -> tuple[int, list[dict[str, str]]]:
    """Caption `todo`, streaming rows to the output after `first_rows` (kept by --resume, left
    alone for their existing captions) and writing each batch out with `writer`; returns the
    failures and the new rows. `written_by`: the model and style columns of a caption."""
    from tqdm import tqdm

    from core.captioning.oom_fallback import OutOfMemoryFallback
    from core.cli.output import CsvOutput, OutputWriteError
    from core.cli.writes import MODEL_SOURCE

    output = CsvOutput(args.out, first_rows)
    progress = tqdm(total=len(todo), unit="img", file=sys.stderr, disable=None, desc="captioning")
    fallback = OutOfMemoryFallback(captioner, notify=lambda message: progress.write(f"visioncap: {message}", sys.stderr))
    failures = position = 0
    written: list[dict[str, str]] = []
    try:
        for batch in fallback.caption_batches([path for path, _, _ in todo], settings, args.batch_size):
            rows = []
            for result in batch:
                path, key, _ = todo[position]
                rows.append({"path": path, "absolute_path": key, "caption": result.caption, "error": result.error,
                             "source": MODEL_SOURCE if result.ok else "", "notes": "",
                             **(written_by if result.ok else {})})
                position += 1
                failures += not result.ok
            if writer is not None:
                writer.write(rows)
            output.write(rows)
            written.extend(rows)
            progress.update(len(batch))
    except OutputWriteError:
        raise
    except Exception as exc:  # out of memory on the CPU, a bug: one line naming the image reached
        kept_note = f"; the {position} rows before it are kept in {output.name}" if args.out else ""
        raise CommandError(
            f"captioning stopped at image {position + 1} of {len(todo)}: {_one_line(exc)}{kept_note}", EXIT_RUNTIME
        ) from exc
    finally:
        progress.close()
        output.close()
    return failures, written


def run_import(args) -> int:
    from core.bundles.hf_import import import_hf, install_model
    from core.captioning.catalogue import model_info

    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    info = model_info(args.src) if not Path(args.src).exists() else None
    if info is not None and args.out is None:
        out = install_model(info.name, progress=say)
    elif args.out is None:
        raise UsageError("--out is needed unless SRC is a model name (visioncap models lists them)")
    elif info is not None:
        out = import_hf(info.source, args.out, progress=say, name=args.name or info.name, licence=info.licence)
    else:
        out = import_hf(args.src, args.out, progress=say, name=args.name)
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def run_models(args) -> int:
    """One line per catalogue model: name, title, download size, licence, installed or not, styles."""
    from core.bundles.transformers_folder import MANIFEST_FILE
    from core.captioning.catalogue import CATALOGUE, installed_dir

    rows = [("name", "model", "download", "licence", "installed", "styles / prompt", "good for")]
    for m in CATALOGUE:
        ways = ", ".join(s.name for s in m.styles) or ("--prompt" if m.prompt_prefix else "-")
        installed = "yes" if (installed_dir(m.name) / MANIFEST_FILE).is_file() else "no"
        rows.append((m.name, m.title, f"{m.download_bytes / 1e9:.2f} GB", m.licence, installed, ways, m.summary))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    print(f"\ninstall one with: visioncap import-hf NAME (into {installed_dir('NAME').parent})")
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _report(exc: BaseException) -> int:
    """Print one line for `exc`; return its exit code."""
    from core.cli.output import OutputWriteError
    from core.errors import VisionCapError

    if isinstance(exc, CommandError):
        message, code = str(exc), exc.code
    elif isinstance(exc, OutputWriteError):
        message, code = str(exc), EXIT_RUNTIME
    elif isinstance(exc, VisionCapError):
        message, code = str(exc), EXIT_USAGE
    else:
        message, code = _one_line(exc), EXIT_RUNTIME
    print(f"visioncap: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        runs = {"caption": run_caption, "import-hf": run_import, "models": run_models}
        return runs[args.command](args)
    except UsageError as exc:
        args.parser.error(str(exc))  # exits 2 with the usage line
    except KeyboardInterrupt:
        print("visioncap: interrupted; finished rows are saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line, never a traceback: see _report
        return _report(exc)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
