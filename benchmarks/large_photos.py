"""Large photos: decode time and peak memory above the process's idle size, per reader.

    QT_QPA_PLATFORM=offscreen python benchmarks/large_photos.py [--keep FOLDER]

Writes a 200 MP and a 108 MP JPEG (phone sensor sizes), a 100 MP PNG and a 900 MP PNG bomb
(a few hundred bytes) into a temporary folder, then measures each case in a fresh Python
process, so one measurement's memory does not hide the next one's:
- `core`: what captioning does (`load_image(min_size=224)` then `image_to_array`);
- `thumbnail` and `preview`: the app's `decode_thumbnail` at 128 and 768 px;
- `pillow full`: a plain full-size Pillow decode, for comparison (what draft decoding saves).
Peak memory is the peak resident size minus the peak after the imports, in MB. Linux and
macOS (the resource module).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PHOTOS = {  # name: (width, height)
    "200mp.jpg": (16320, 12240),
    "108mp.jpg": (12000, 9000),
    "100mp.png": (10000, 10000),
}
READERS = ("core", "thumbnail", "preview", "pillow full")


def peak_mb() -> float:
    """Peak resident size of this process. Linux: VmHWM (getrusage's figure would include the
    parent's peak, which survives fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 2**10
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # bytes on macOS


def make_photos(folder: Path) -> None:
    """Smooth texture (a small noise picture upscaled) plus a scene: compresses like a photo."""
    from PIL import Image

    from tests.app.images import draw_scene
    from tests.photo_files import save_png_claiming

    for name, size in PHOTOS.items():
        path = folder / name
        if path.exists():
            continue
        small = Image.blend(draw_scene(7, (800, 600)), Image.effect_noise((800, 600), 60).convert("RGB"), 0.3)
        big = small.resize(size, Image.Resampling.BILINEAR)
        big.save(path, quality=90) if name.endswith(".jpg") else big.save(path, compress_level=1)
        del big
    save_png_claiming(folder / "bomb-900mp.png", 30000, 30000)


def measure(reader: str, path: str) -> None:
    """In a child process: print 'seconds peak_mb result'."""
    from core.errors import ImageError
    from core.images.reading import image_to_array, load_image

    if reader in ("thumbnail", "preview"):
        from visioncap_desktop.workers.thumbnail_loader import decode_thumbnail
    idle = peak_mb()
    start = time.perf_counter()
    try:
        if reader == "core":
            result = str(image_to_array(load_image(path, min_size=224), 224).shape)
        elif reader == "pillow full":
            from PIL import Image

            Image.MAX_IMAGE_PIXELS = None
            with Image.open(path) as image:
                image.load()
                result = f"{image.size[0]}x{image.size[1]}"
        else:
            image, _, error = decode_thumbnail(path, 128 if reader == "thumbnail" else 768)
            result = error or f"{image.width()}x{image.height()}"
    except ImageError as exc:
        result = f"refused: {exc.reason}"
    print(f"{time.perf_counter() - start:.2f} {peak_mb() - idle:.0f} {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write (and reuse) the photos here")
    parser.add_argument("--measure", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="visioncap-large-"))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    make_photos(folder)
    print(f"photos in {folder} ({time.perf_counter() - start:.0f} s to write)\n")
    print("| file | size on disk | reader | seconds | peak MB above idle | result |")
    print("| --- | ---: | --- | ---: | ---: | --- |")
    for name in (*PHOTOS, "bomb-900mp.png"):
        path = folder / name
        for reader in READERS:
            if name.startswith("bomb") and reader == "pillow full":
                continue  # 2.7 GB of zeros proves nothing
            out = subprocess.run([sys.executable, __file__, "--measure", reader, str(path)],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                print(f"| {name} | | {reader} | | | failed: {out.stderr.strip().splitlines()[-1]} |")
                continue
            seconds, peak, result = out.stdout.strip().split(" ", 2)
            size = path.stat().st_size / 2**20
            print(f"| {name} | {size:.1f} MB | {reader} | {seconds} | {peak} | {result} |", flush=True)


if __name__ == "__main__":
    main()
