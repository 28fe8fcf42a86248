"""The image formats VisionCap reads, and the plug-ins that read the ones Pillow cannot.

Pillow reads JPEG, PNG, WebP, BMP, GIF and TIFF itself (and AVIF where it was built with it).
HEIC/HEIF goes through pillow-heif, camera RAW through rawpy (LibRaw). Both are imported the
first time a file needs them, never at start-up; a plug-in that fails to load turns its files
into skipped files with the reason (`format_problem`), not into silence.
"""

from __future__ import annotations

import functools
import io
import os

from PIL import Image

from core.errors import ImageError

PILLOW_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
)
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
AVIF_EXTENSIONS = frozenset({".avif"})
RAW_EXTENSIONS = frozenset(
    {
        ".3fr", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".iiq", ".k25", ".kdc",
        ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2", ".rwl",
        ".sr2", ".srf", ".srw", ".x3f",
    }
)
# Files with these extensions are pictures too, so a scan says why it leaves them out.
UNSUPPORTED_FORMATS = {
    ".psd": "Photoshop document",
    ".psb": "Photoshop document",
    ".xcf": "GIMP image",
    ".kra": "Krita image",
    ".svg": "SVG drawing",
    ".svgz": "SVG drawing",
    ".ai": "Illustrator drawing",
    ".eps": "EPS drawing",
    ".jxl": "JPEG XL image",
    ".jp2": "JPEG 2000 image",
    ".j2k": "JPEG 2000 image",
    ".jpx": "JPEG 2000 image",
    ".exr": "OpenEXR image",
    ".hdr": "Radiance HDR image",
}
PLUGIN_EXTENSIONS = HEIF_EXTENSIONS | AVIF_EXTENSIONS | RAW_EXTENSIONS
IMAGE_EXTENSIONS = PILLOW_EXTENSIONS | PLUGIN_EXTENSIONS
KNOWN_EXTENSIONS = IMAGE_EXTENSIONS | UNSUPPORTED_FORMATS.keys()

# LibRaw's `flip` (from the camera's orientation tag) -> the turn that shows the picture upright
_FLIP_TRANSPOSE = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.ROTATE_90,  # counter-clockwise, as Pillow counts
    6: Image.Transpose.ROTATE_270,
}


@functools.cache
def heif_problem() -> str | None:
    """None once pillow-heif's opener is registered with Pillow, else why it is not."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except Exception as exc:  # ImportError, or OSError from a missing native library
        return f"HEIC/HEIF needs pillow-heif, which failed to load ({exc})"
    return None


@functools.cache
def avif_problem() -> str | None:
    """None if Pillow reads AVIF (its own plugin first, pillow-heif's as fallback), else why not."""
    from PIL import features

    if features.check("avif"):
        return None
    missing = "AVIF needs a Pillow built with AVIF support (or pillow-heif before 1.0)"
    try:
        import pillow_heif

        register_avif_opener = getattr(pillow_heif, "register_avif_opener", None)  # only before 1.0
        if register_avif_opener is None:
            return missing
        register_avif_opener()
    except (ImportError, AttributeError, OSError):
        return missing
    return None


@functools.cache
def raw_problem() -> str | None:
    try:
        import rawpy  # noqa: F401
    except Exception as exc:
        return f"camera RAW needs rawpy, which failed to load ({exc})"
    return None


def format_problem(extension: str) -> str | None:
    """Why files with this (lower-case) extension cannot be read here, or None if they can."""
    if extension in HEIF_EXTENSIONS:
        return heif_problem()
    if extension in AVIF_EXTENSIONS:
        return avif_problem()
    if extension in RAW_EXTENSIONS:
        return raw_problem()
    if extension in UNSUPPORTED_FORMATS:
        return f"{UNSUPPORTED_FORMATS[extension]} ({extension}): not a format VisionCap reads"
    return None


def register_for_content(path: str) -> bool:
    """Register the HEIF/AVIF openers if `path` is an ISO media file (a HEIC saved as .jpg, say)
    that Pillow did not recognise. True if it is one and an opener is now registered."""
    try:
        with open(path, "rb") as file:
            header = file.read(12)
    except OSError:
        return False
    if header[4:8] != b"ftyp":
        return False
    brand = header[8:12]
    problem = avif_problem() if brand in (b"avif", b"avis") else heif_problem()
    return problem is None


def read_raw(path: str, min_size: int | None) -> tuple[Image.Image, tuple[int, int]]:
    """A camera RAW file -> (RGB picture turned upright, full size as displayed).

    The embedded preview JPEG when its short side is at least `min_size` (what photo browsers
    show, and fast), else a half-size demosaic; without `min_size` the preview must be as
    large as that half-size demosaic would be.
    """
    import rawpy

    try:
        with rawpy.imread(path) as raw:
            sizes = raw.sizes
            turned = sizes.flip in (5, 6)
            full = (sizes.height, sizes.width) if turned else (sizes.width, sizes.height)
            needed = min_size or min(full) // 2
            preview = _preview(raw, needed)
            if preview is not None:
                transpose = _FLIP_TRANSPOSE.get(sizes.flip)
                return (preview.transpose(transpose) if transpose is not None else preview), full
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)  # turned by LibRaw
    except rawpy.LibRawFileUnsupportedError as exc:
        raise ImageError(path, "not a camera RAW file LibRaw can read") from exc
    except rawpy.LibRawIOError as exc:
        raise ImageError(path, "truncated or unreadable camera RAW file") from exc
    except rawpy.LibRawError as exc:
        raise ImageError(path, f"unreadable camera RAW file ({exc})") from exc
    return Image.fromarray(rgb), full


def _preview(raw, needed: int) -> Image.Image | None:
    """The embedded preview decoded (JPEG at reduced scale), if there is one of `needed` size."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        image = Image.fromarray(thumb.data)
    else:
        try:
            image = Image.open(io.BytesIO(thumb.data))
            if min(image.size) < needed:
                return None
            if image.format == "JPEG":
                image.draft("RGB", (needed, needed))
            image.load()
        except (OSError, SyntaxError, ValueError):
            return None  # a broken preview: the sensor data may still be fine
    return image if min(image.size) >= needed else None


def extension(path: str | os.PathLike) -> str:
    return os.path.splitext(path)[1].lower()
