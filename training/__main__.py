"""`python -m training COMMAND ...`: train, check-data, evaluate, synthetic (see each command's --help)."""

from __future__ import annotations

import sys

USAGE = """usage: python -m training {train,check-data,evaluate,synthetic} ...

  train       train a captioner (from backbones, from scratch, or a bundle); see train --help
  check-data  report a dataset's images, captions, missing/unreadable files and the split
  evaluate    score a bundle on captioned images: BLEU, METEOR, ROUGE-L, CIDEr, perplexity
  synthetic   write the synthetic shapes captioning dataset
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        from training.train import main as run
    elif command == "check-data":
        from training.check_data import main as run
    elif command == "evaluate":
        from training.evaluate import main as run
    elif command == "synthetic":
        from training.synthetic import main as run
    else:
        print(f"unknown command {command!r}\n{USAGE}", end="", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    raise SystemExit(main())
