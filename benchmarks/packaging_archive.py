"""Linux archive formats compared on a real build: size, pack and unpack time.

    python benchmarks/packaging_archive.py dist/VisionCap [--formats gz zst:3 zst:6 zst:10]

Packs the one-folder build with packaging/build_linux.py's make_linux_archive (tar.gz at level 6, the
old format, and tar.zst at each zstd level given), then unpacks each archive with GNU tar as a user
would (`tar -xf`, which runs zstd or gzip), all in one run so the ratios compare like with like.
Prints a table. Wall-clock times: on a shared machine compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_build_modules():
    """packaging/build_linux.py and build_sizes.py (packaging/ is no package: its folder goes on
    sys.path, as when build.py runs)."""
    sys.path.append(str(ROOT / "packaging"))
    import build_linux
    import build_sizes

    return build_linux, build_sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a one-folder build, e.g. dist/VisionCap")
    parser.add_argument("--formats", nargs="+", default=["gz", "zst:3", "zst:6", "zst:10"],
                        help="gz, or zst:LEVEL (default: gz zst:3 zst:6 zst:10)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    linux, sizes = load_build_modules()
    folder_bytes = sizes.folder_size(args.folder)
    rows = []
    with tempfile.TemporaryDirectory(prefix="visioncap-archive-", dir=args.work) as tmp:
        for choice in args.formats:
            archive_format, _, level = choice.partition(":")
            if level:
                linux.ZSTD_LEVEL = int(level)
            started = time.monotonic()
            archive = linux.make_linux_archive(args.folder, Path(tmp), "bench", archive_format)
            pack_s = time.monotonic() - started
            unpacked = Path(tmp) / "unpacked"
            unpacked.mkdir()
            started = time.monotonic()
            subprocess.run(["tar", "-xf", str(archive), "-C", str(unpacked)], check=True)
            unpack_s = time.monotonic() - started
            rows.append((choice, archive.stat().st_size, pack_s, unpack_s))
            shutil.rmtree(unpacked)
            archive.unlink()
            print(f"{choice}: done", file=sys.stderr, flush=True)
    gz = next((row for row in rows if row[0] == "gz"), rows[0])
    print(f"{args.folder}: {sizes.human(folder_bytes)}")
    print("| format | archive | vs gz | pack | vs gz | unpack (tar -xf) | vs gz |")
    print("|---|---|---|---|---|---|---|")
    for choice, size, pack_s, unpack_s in rows:
        print(f"| {choice} | {sizes.human(size)} | {size / gz[1]:.2f}x | {pack_s:.0f} s | {pack_s / gz[2]:.2f}x "
              f"| {unpack_s:.0f} s | {unpack_s / gz[3]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
