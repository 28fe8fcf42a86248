"""Finding image files and turning any image into the model's input tensor.

Reading is strict: a truncated file, a non-image or a decompression bomb raises `ImageError`
with a short reason instead of producing a half-grey picture.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def is_image_file(path: str | Path) -> bool:
    """True for the supported extensions, in any letter case."""
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def scan_images(folder: str | Path, recursive: bool = False) -> Iterator[tuple[str, str]]:
    """Yield (path, name relative to `folder` with forward slashes) for each image file, as
    found (no sorting, so a caller can show progress on huge folders). Plain strings: building
    a Path per file would double the cost of scanning 100,000 files. Hidden entries and
    unreadable subfolders are skipped; an unreadable `folder` raises OSError."""
    root = os.fspath(folder)
    stack = [(root, "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = os.scandir(current)
        except OSError:
            if current == root:
                raise
            continue
        with entries:
            subdirs = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if recursive:
                            subdirs.append((entry.path, f"{prefix}{entry.name}/"))
                    elif entry.is_file() and is_image_file(entry.name):
                        yield entry.path, prefix + entry.name
                except OSError:
                    continue
            stack.extend(sorted(subdirs, reverse=True))


def iter_image_files(folder: str | Path, recursive: bool = False) -> Iterator[Path]:
    """`scan_images` as Paths."""
    return (Path(path) for path, _ in scan_images(folder, recursive))


def collect_images(paths: Iterable[str | Path], recursive: bool = False) -> list[tuple[Path, str]]:
    """Expand files and folders into (path, display name) pairs in a stable order.

    The display name is relative to the folder argument (forward slashes), or the file as given.
    Raises FileNotFoundError naming a path that does not exist.
    """
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend((Path(p), name) for p, name in sorted(scan_images(path, recursive), key=lambda e: e[1]))
        elif path.is_file():
            found.append((path, str(raw)))
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
    return found


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float greyscale to 8-bit by range, not by clipping (which whitens them)."""
    array = np.asarray(image)
    if image.mode.startswith("I;16") or (image.mode == "I" and array.max(initial=0) > 255):
        array = array.astype(np.float64) / 257.0
    elif image.mode == "F":
        lo, hi = float(array.min(initial=0.0)), float(array.max(initial=0.0))
        array = (array - lo) / (hi - lo or 1.0) * 255.0
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), mode="L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB. Transparency is composited on white, as viewers show it."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _to_8bit(image).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def load_image(source: str | Path | Image.Image, min_size: int | None = None) -> Image.Image:
    """Open, decode fully, apply EXIF orientation and convert to RGB.

    `min_size` lets JPEG decode at a reduced scale (DCT scaling) while staying at least that
    large: a 24-megapixel photo decodes several times faster for a 224 px model.
    Raises ImageError with a reason: not found, not an image, truncated, too many pixels.
    """
    name = str(source) if not isinstance(source, Image.Image) else "<image>"
    if isinstance(source, Image.Image):
        image = source
    else:
        with contextlib.suppress(OSError):
            if Path(source).stat().st_size == 0:
                raise ImageError(name, "empty file (0 bytes)")
        try:
            with warnings.catch_warnings():
                # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; we refuse both.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(source) as opened:
                    if min_size and opened.format == "JPEG":
                        opened.draft("RGB", (min_size, min_size))
                    opened.load()  # decode now, inside the guards; pixels outlive the file
                    image = opened
        except FileNotFoundError as exc:
            raise ImageError(name, "file not found") from exc
        except IsADirectoryError as exc:
            raise ImageError(name, "is a folder, not an image") from exc
        except PermissionError as exc:
            raise ImageError(name, "permission denied") from exc
        except UnidentifiedImageError as exc:
            raise ImageError(name, "not an image or an unsupported format") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(name, f"too many pixels (limit {Image.MAX_IMAGE_PIXELS:,})") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            text = str(exc)
            reason = "truncated image" if "truncated" in text else f"unreadable image ({text})"
            raise ImageError(name, reason) from exc
    with contextlib.suppress(Exception):  # a malformed EXIF block is no reason to lose the picture
        image = ImageOps.exif_transpose(image) or image
    return to_rgb(image)


def image_to_array(image: Image.Image, size: int, interpolation: str = "bilinear") -> np.ndarray:
    """RGB image -> float32 array (3, size, size) in [0, 1], squashed to a square like the
    original VisionGPT2 and HF's ViTImageProcessor (no crop)."""
    resized = image.resize((size, size), _RESAMPLE[interpolation])
    return np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / 255.0
