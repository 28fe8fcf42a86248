"""Generated photo files in the formats a user's folder holds: HEIC, AVIF, a camera RAW (DNG),
and a PNG that claims more pixels than it holds. The pictures are a red left half and a blue
right half, so a test can tell which way up a decoded picture came out.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RED, BLUE = (220, 20, 20), (20, 20, 220)


def halves(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Red left half, blue right half."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def orientation_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def save_heic(path: Path, size: tuple[int, int] = (96, 64)) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    halves(size).save(path, format="HEIF", quality=90)
    return path


def save_avif(path: Path, size: tuple[int, int] = (96, 64), orientation: int = 1) -> Path:
    halves(size).save(path, format="AVIF", quality=90, exif=orientation_exif(orientation))
    return path


def _bayer(size: tuple[int, int]) -> np.ndarray:
    """An RGGB sensor readout (12-bit) of `halves(size)`."""
    w, h = size
    cfa = np.full((h, w), 300, np.uint16)  # green sites dim
    cfa[0::2, 0::2] = 200  # red sites
    cfa[1::2, 1::2] = 200  # blue sites
    cfa[0::2, 0 : w // 2 : 2] = 4000  # bright red on the left
    cfa[1::2, w // 2 + 1 :: 2] = 4000  # bright blue on the right
    return cfa


def save_dng(path: Path, size: tuple[int, int] = (96, 64), orientation: int = 1,
             preview: str | None = None) -> Path:
    """A minimal DNG written with tifffile: the sensor data (RGGB, 12-bit) in IFD0, or with
    `preview` ("jpeg" or "bitmap") a preview of the same picture in IFD0 and the sensor data
    in a SubIFD, as cameras write them."""
    import tifffile

    identity = (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)
    main = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "VisionCap Test", True),  # UniqueCameraModel
        (271, "s", 0, "VisionCap", True),  # Make
        (272, "s", 0, "Test", True),  # Model
        (274, "H", 1, orientation, True),
    ]
    sensor = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50714, "H", 1, 0, True),  # BlackLevel
        (50717, "H", 1, 4095, True),  # WhiteLevel
        (50721, "2i", 9, identity, True),  # ColorMatrix1
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
    ]
    with tifffile.TiffWriter(path) as tif:
        if preview is None:
            tif.write(_bayer(size), photometric=32803, subfiletype=0, extratags=main + sensor)
        else:
            picture = np.asarray(halves((size[0] // 2, size[1] // 2)))
            compression = "jpeg" if preview == "jpeg" else None
            tif.write(picture, photometric="rgb", compression=compression, subfiletype=1,
                      subifds=1, extratags=main)
            tif.write(_bayer(size), photometric=32803, subfiletype=0, extratags=sensor)
    return path


def save_png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG of a few hundred bytes whose header claims width x height (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\0" * (3 * width + 1) * 4)  # a few rows; the rest would be zeros too
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path
