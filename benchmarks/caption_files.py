"""Captions beside and inside photos: fingerprinting, reading and writing them at scale.

    python benchmarks/caption_files.py [--files 10000] [--photos 1000] [--size 1600x1200]

In a temporary folder (removed afterwards):
- fingerprints FILES files of 4 MiB each, laid out like photos (random bytes at both ends, a
  hole in the middle, so the disk holds 128 KiB of each), against a whole-file hash of the same;
- writes PHOTOS new XMP sidecars, then updates them all (the merge path);
- generates PHOTOS JPEGs of SIZE and embeds a caption in each (every write checked against the
  original, part by part), embeds a different one (replacing VisionCap's own), then reads every
  embedded caption back the way the folder scan does (`find_captions`).
Prints one table of wall times. The files are in the page cache when read (just written), so
fingerprint times are the CPU and system-call cost, not a cold disk's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.fingerprint import CHUNK, fingerprint
from core.metadata.caption_io import find_captions
from core.metadata.caption_writes import WriteItem, WriteOptions, write_captions
from core.metadata.sidecars import write_sidecar
from tests.app.images import draw_scene

FILE_SIZE = 4 * 1024 * 1024


def timed(label: str, count: int, run) -> tuple[str, int, float]:
    start = time.perf_counter()
    run()
    return label, count, time.perf_counter() - start


def make_photo_like_files(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:05d}.JPG"
        with open(path, "wb") as f:
            f.write(os.urandom(CHUNK))
            f.seek(FILE_SIZE - CHUNK)
            f.write(os.urandom(CHUNK))
        paths.append(path)
    return paths


def whole_file_hash(path: Path) -> str:
    digest = hashlib.blake2b()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=1_000)
    parser.add_argument("--size", default="1600x1200")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    results = []
    root = Path(tempfile.mkdtemp(prefix="visioncap-bench-"))
    try:
        (root / "files").mkdir()
        files = make_photo_like_files(root / "files", args.files)
        results.append(timed("fingerprint (4 MiB files, reads 128 KiB each)", len(files),
                             lambda: [fingerprint(p) for p in files]))
        sample = files[: max(1, len(files) // 10)]
        results.append(timed("whole-file blake2b of the same files (for comparison)", len(sample),
                             lambda: [whole_file_hash(p) for p in sample]))
        shutil.rmtree(root / "files")

        photos_dir = root / "photos"
        photos_dir.mkdir()
        base = draw_scene(7, (width, height))
        photos = []
        for i in range(args.photos):
            path = photos_dir / f"IMG_{i:05d}.jpg"
            base.save(path, quality=90)
            photos.append(path)
        mean_kb = sum(p.stat().st_size for p in photos) / len(photos) / 1024
        captions = [f"photo {i}: a red circle above a blue square, \"quoted\" ü" for i in range(len(photos))]
        results.append(timed("write new XMP sidecars", len(photos),
                             lambda: [write_sidecar(p, c) for p, c in zip(photos, captions)]))
        results.append(timed("update existing XMP sidecars (merge)", len(photos),
                             lambda: [write_sidecar(p, c + " again") for p, c in zip(photos, captions)]))
        items = [WriteItem(p, p.name, c) for p, c in zip(photos, captions)]
        again = [WriteItem(p, p.name, c + " again") for p, c in zip(photos, captions)]
        results.append(timed(f"embed into JPEGs ({width}x{height}, {mean_kb:.0f} KB), checked", len(photos),
                             lambda: write_captions(items, WriteOptions(ways=("embed",)))))
        results.append(timed("embed again into the same JPEGs (replacing VisionCap's own)", len(photos),
                             lambda: write_captions(again, WriteOptions(ways=("embed",)))))
        results.append(timed("find_captions (sidecar + embedded) per photo", len(photos),
                             lambda: [find_captions(p, p.name) for p in photos]))
        results.append(timed("write .txt files", len(photos), lambda: write_captions(items, WriteOptions(ways=("txt",)))))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"\n{'what':<62} {'files':>7} {'total s':>9} {'ms each':>8}")
    for label, count, seconds in results:
        print(f"{label:<62} {count:>7,} {seconds:>9.2f} {seconds / max(count, 1) * 1e3:>8.2f}")


if __name__ == "__main__":
    main()
