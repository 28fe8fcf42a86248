"""Generated photos carrying the metadata a camera and a photo manager leave: Make, Model,
DateTimeOriginal, GPS, Orientation, an ICC profile, and on request IPTC and descriptions."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import exiv2
import numpy as np
from PIL import Image, ImageCms

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
CAMERA = {
    "Exif.Image.Make": "Canon",
    "Exif.Image.Model": "Canon EOS R6",
    "Exif.Image.Orientation": "6",
    "Exif.Photo.DateTimeOriginal": "2024:07:14 18:03:22",
    "Exif.GPSInfo.GPSLatitudeRef": "N",
    "Exif.GPSInfo.GPSLatitude": "52/1 31/1 1234/100",
    "Exif.GPSInfo.GPSLongitudeRef": "E",
    "Exif.GPSInfo.GPSLongitude": "13/1 24/1 0/1",
}
SAVE = {".jpg": {"quality": 90}, ".png": {}, ".webp": {"lossless": True}, ".tif": {}, ".bmp": {}, ".gif": {}}


def make_photo(
    path: Path,
    seed: int = 0,
    *,
    iptc: dict[str, str] | None = None,
    exif_description: str | None = None,
    xmp_description: dict[str, str] | None = None,
    size: tuple[int, int] = (64, 48),
) -> Path:
    """A noisy picture in the format of `path`'s suffix, with CAMERA fields and an ICC profile
    where the format can hold them, plus the given IPTC (key -> value) and descriptions."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    if path.suffix in (".bmp", ".gif"):
        image.save(path)
        return path
    image.save(path, icc_profile=ICC, **SAVE[path.suffix])
    photo = exiv2.ImageFactory.open(path.read_bytes())
    photo.readMetadata()
    exif = photo.exifData()
    for key, value in CAMERA.items():
        exif[key] = value
    if exif_description is not None:
        exif["Exif.Image.ImageDescription"] = exif_description
    if xmp_description is not None:
        photo.xmpData()["Xmp.dc.description"] = exiv2.LangAltValue(xmp_description)
    for key, value in (iptc or {}).items():
        photo.iptcData()[key] = value
    photo.writeMetadata()
    path.write_bytes(bytes(photo.io().data()))
    return path


def metadata(path: Path) -> dict[str, str]:
    """Every EXIF, IPTC and XMP value of a file as key -> text (repeated keys joined by |)."""
    photo = exiv2.ImageFactory.open(Path(path).read_bytes())
    photo.readMetadata()
    values: dict[str, str] = {}
    for data in (photo.exifData(), photo.iptcData(), photo.xmpData()):
        for datum in data:
            key = datum.key()
            values[key] = values[key] + "|" + datum.toString() if key in values else datum.toString()
    return values


def pixels(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.tobytes()


def icc(path: Path) -> bytes | None:
    with Image.open(path) as image:
        return image.info.get("icc_profile")


def iim(dataset: int, value: bytes) -> bytes:
    """One IPTC IIM record-2 dataset."""
    return b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(value)) + value


def add_photoshop_iptc(jpeg: Path, caption: str, digest_matches: bool) -> None:
    """Insert an APP13 Photoshop segment holding IPTC (a Caption-Abstract) and the IPTC digest
    Photoshop stores beside it, matching the IPTC or stale (as after an IPTC-only tool)."""
    block = iim(0, b"\x00\x04") + iim(120, caption.encode())
    digest = hashlib.md5(block if digest_matches else b"an older IPTC block").digest()

    def resource(number: int, data: bytes) -> bytes:
        pad = b"\x00" if len(data) % 2 else b""
        return b"8BIM" + struct.pack(">H", number) + b"\x00\x00" + struct.pack(">I", len(data)) + data + pad

    payload = b"Photoshop 3.0\x00" + resource(0x0404, block) + resource(0x0425, digest)
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    data = jpeg.read_bytes()
    jpeg.write_bytes(data[:2] + segment + data[2:])
    with Image.open(io.BytesIO(jpeg.read_bytes())) as check:  # Pillow parses what we built
        assert check.info["photoshop"][0x0404] == block
