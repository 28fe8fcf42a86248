"""Turning any image file into the model's input: RGB, upright, and no larger than needed.

Reading is strict: a truncated file, a non-image or a decompression bomb raises `ImageError`
with a short reason instead of producing a half-grey picture. Finding files is `core.images.scan`,
the format plug-ins (HEIC, AVIF, camera RAW) are `core.images.plugins`; their public names are
importable from here too.

Size limits, per format rather than Pillow's one process-wide number: a JPEG of any size is
decoded at reduced scale (DCT scaling, `Image.draft`), so its memory does not grow with the
size it claims; every other format decodes at full size and is refused above `PIXEL_BUDGET`
pixels, checked on the size the file claims before anything is decoded. Pillow's own guard
stays as the backstop, raised (once, when this module is imported) only as far as the largest
picture a JPEG can declare.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageError
from core.images import plugins as decoders
from core.images.plugins import IMAGE_EXTENSIONS
from core.images.scan import (
    ScanReport,
    Skipped,
    collect_images,
    is_image_file,
    iter_image_files,
    scan_images,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "PIXEL_BUDGET",
    "ScanReport",
    "SharedDecodes",
    "Skipped",
    "collect_images",
    "image_to_array",
    "is_image_file",
    "iter_image_files",
    "load_image",
    "load_image_sized",
    "pixel_problem",
    "scan_images",
    "to_rgb",
]

PIXEL_BUDGET = 250_000_000  # full-size decodes: about 750 MB as 8-bit RGB
REDUCE_ABOVE = 50_000_000  # a full-size decode this large is shrunk at once (see load_image_sized)
JPEG_MAX_PIXELS = 65535 * 65535  # JPEG stores each side in 16 bits
_DRAFT_FORMATS = ("JPEG", "MPO")  # MPO: a JPEG with extra frames, as many phones write
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F")  # what Image.reduce takes

if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < JPEG_MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = JPEG_MAX_PIXELS

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


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


class SharedDecodes:
    """JPEGs decoded lately at reduced scale, handed from one reader of a photo to another.

    The app decodes each photo twice: for its gallery thumbnail and for the model. Both ask
    for a small picture, and for a photo of a few megapixels or more both get the same 1/8
    scale decode, which is most of the work (the entropy decoding of the whole file: ~30 ms
    for 12 MP). A reader that decodes a JPEG leaves the result here; the other one, asking
    for the same file (path, size, modification time) at the same decoded size, takes it
    instead of decoding again. The pixels are the very ones it would have decoded, so the
    captions do not change. Each decode is handed on once (taken out when used) and the
    oldest go first beyond `max_bytes`. Thread-safe.
    """

    def __init__(self, max_bytes: int = 32 << 20):
        self.max_bytes = max_bytes
        self.hits = 0
        self._entries: OrderedDict[tuple, tuple[Image.Image, tuple[int, int]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _size_of(image: Image.Image) -> int:
        return image.width * image.height * len(image.getbands())

    def take(self, key: tuple) -> tuple[Image.Image, tuple[int, int]] | None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._bytes -= self._size_of(entry[0])
                self.hits += 1
            return entry

    def put(self, key: tuple, image: Image.Image, full: tuple[int, int]) -> None:
        size = self._size_of(image)
        if size > self.max_bytes // 4:
            return  # one picture must not push out everything else
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (image, full)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (old, _) = self._entries.popitem(last=False)
                self._bytes -= self._size_of(old)

    def __len__(self) -> int:
        return len(self._entries)


def load_image(
    source: str | Path | Image.Image,
    min_size: int | None = None,
    max_pixels: int | None = None,
    shared: SharedDecodes | None = None,
) -> Image.Image:
    """Open, decode, turn upright (EXIF orientation) and convert to RGB.

    `min_size` lets a large picture decode smaller while staying at least that large on its
    short side: a 24-megapixel JPEG decodes several times faster for a 224 px model.
    `max_pixels` (default `PIXEL_BUDGET`) is the limit for formats that decode at full size.
    `shared`: take a JPEG decode another reader left there, and leave this one (`SharedDecodes`).
    Raises ImageError with a reason: not found, not an image, truncated, too many pixels.
    """
    return load_image_sized(source, min_size, max_pixels, shared)[0]


def load_image_sized(
    source: str | Path | Image.Image,
    min_size: int | None = None,
    max_pixels: int | None = None,
    shared: SharedDecodes | None = None,
) -> tuple[Image.Image, tuple[int, int]]:
    """`load_image`, and the picture's full size as displayed (upright), which a reduced-scale
    decode or a camera's embedded preview does not show."""
    if isinstance(source, Image.Image):
        image, full, upright = source, source.size, False
    else:
        image, full, upright = _decode(str(source), min_size, max_pixels or PIXEL_BUDGET, shared)
    if not upright:
        size = image.size
        with contextlib.suppress(Exception):  # a malformed EXIF block is no reason to lose the picture
            image = ImageOps.exif_transpose(image) or image
        if image.size != size:
            full = full[::-1]
    return to_rgb(image), full


def _decode(
    name: str, min_size: int | None, max_pixels: int, shared: SharedDecodes | None = None
) -> tuple[Image.Image, tuple[int, int], bool]:
    """-> (decoded picture, its full stored size, whether it is upright already)."""
    stat = None
    try:
        stat = os.stat(name)
        if stat.st_size == 0:
            raise ImageError(name, "empty file (0 bytes)")
    except FileNotFoundError as exc:
        raise ImageError(name, "file not found") from exc
    except OSError:
        pass  # opening it says what is wrong
    extension = decoders.extension(name)
    if extension in decoders.PLUGIN_EXTENSIONS:
        problem = decoders.format_problem(extension)
        if problem is not None:
            raise ImageError(name, problem)
        if extension in decoders.RAW_EXTENSIONS:
            image, full = decoders.read_raw(name, min_size)
            return image, full, True
    try:
        try:
            opened = Image.open(name)
        except UnidentifiedImageError:
            if not decoders.register_for_content(name):
                raise
            opened = Image.open(name)
        with opened:
            full = opened.size
            _limit_decode(name, opened, min_size, max_pixels)
            # what fixes the decoded pixels: the file, and the size its decoder was set to
            key = None
            if shared is not None and stat is not None and opened.format in _DRAFT_FORMATS:
                key = (os.path.abspath(name), stat.st_mtime_ns, stat.st_size, opened.mode, opened.size)
                handed = shared.take(key)
                if handed is not None:
                    return handed[0].copy(), handed[1], False
            opened.load()  # decode now, inside the guards; pixels outlive the file
            image = opened
            if shared is not None and key is not None:
                shared.put(key, image.copy(), full)  # a copy: this reader may change its own
    except FileNotFoundError as exc:
        raise ImageError(name, "file not found") from exc
    except IsADirectoryError as exc:
        raise ImageError(name, "is a folder, not an image") from exc
    except PermissionError as exc:
        raise ImageError(name, "permission denied") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(name, "not an image or an unsupported format") from exc
    except Image.DecompressionBombError as exc:
        limit = Image.MAX_IMAGE_PIXELS
        assert limit is not None  # Pillow checks no size without a limit
        raise ImageError(name, f"too many pixels (over Pillow's limit of {2 * limit:,})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        reason = "truncated image" if "truncated" in text else f"unreadable image ({text})"
        raise ImageError(name, reason) from exc
    if min_size and image.width * image.height > REDUCE_ABOVE and image.mode in _REDUCIBLE_MODES:
        factor = min(image.size) // min_size
        if factor >= 2:  # later copies (orientation, RGB) then cost a fraction of the memory
            image = image.reduce(factor)
    return image, full, False


def _limit_decode(name: str, opened: Image.Image, min_size: int | None, max_pixels: int) -> None:
    """Set a JPEG to decode as small as `min_size` allows and at least small enough for
    `max_pixels`; refuse any other format larger than `max_pixels`."""
    width, height = opened.size
    if opened.format in _DRAFT_FORMATS:
        scale = next((s for s in (1, 2, 4, 8) if (width // s) * (height // s) <= max_pixels), 8)
        target = (width // scale, height // scale)
        if min_size:
            target = (min(min_size, target[0]), min(min_size, target[1]))
        if target != opened.size:
            opened.draft("RGB", target)
        return
    problem = pixel_problem(opened.format, width, height, max_pixels)
    if problem is not None:
        raise ImageError(name, problem)


def pixel_problem(image_format: str | None, width: int, height: int, max_pixels: int | None = None) -> str | None:
    """Why `load_image` would refuse a picture of this format and stored size, or None: a format
    that decodes at full size (every one but JPEG) over `max_pixels` (default `PIXEL_BUDGET`).
    Takes what `Image.open` reads from the header, so a caller can check without decoding."""
    max_pixels = max_pixels or PIXEL_BUDGET
    if image_format in _DRAFT_FORMATS or width * height <= max_pixels:
        return None
    return (f"too many pixels: {width:,} x {height:,} ({width * height / 1e6:,.0f} MP) in a "
            f"{image_format} file, which decodes at full size; the limit is {max_pixels / 1e6:,.0f} MP")


def image_to_array(image: Image.Image, size: int, interpolation: str = "bilinear") -> np.ndarray:
    """RGB image -> float32 array (3, size, size) in [0, 1], squashed to a square like the
    original VisionGPT2 and HF's ViTImageProcessor (no crop)."""
    resized = image.resize((size, size), _RESAMPLE[interpolation])
    return np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / 255.0
