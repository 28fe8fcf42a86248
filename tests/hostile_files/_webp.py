"""WebP files as RIFF chunks around a Pillow-encoded VP8/VP8L bitstream."""

from __future__ import annotations

import io
import struct

from ._tiff import picture

VP8X_ICC, VP8X_ALPHA, VP8X_EXIF, VP8X_XMP, VP8X_ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02


def webp_chunk(kind: bytes, data: bytes) -> bytes:
    """FourCC, little-endian size (odd sizes stay odd), data, a pad byte after odd data."""
    return kind + struct.pack("<L", len(data)) + data + b"\0" * (len(data) & 1)


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """[(FourCC, data)] inside a RIFF/WEBP file."""
    pos, found = 12, []
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], struct.unpack_from("<L", data, pos + 4)[0]
        found.append((kind, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return found


def webp_bitstream(size: tuple[int, int] = (64, 48), seed: int = 0, lossless: bool = True) -> tuple[bytes, bytes]:
    """(FourCC, data) of Pillow's VP8L (lossless) or VP8 (lossy) picture."""
    out = io.BytesIO()
    picture(size, seed).save(out, "WEBP", lossless=lossless, quality=90)
    return next((k, d) for k, d in webp_chunks(out.getvalue()) if k in (b"VP8 ", b"VP8L"))


def riff(chunks) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<L", len(body)) + body


def webp(size: tuple[int, int] = (64, 48), seed: int = 0, lossless: bool = True, icc: bytes | None = None,
         exif: bytes | None = None, xmp: bytes | None = None, exif_prefix: bool = False,
         extended: bool | None = None) -> bytes:
    """A WebP file: simple (the bitstream alone, as cwebp writes without metadata) or extended
    (VP8X with flags and canvas size, ICCP, the bitstream, "EXIF" holding raw TIFF, or with
    `exif_prefix` "Exif\\0\\0" + TIFF as some older Google/ImageMagick writers did, "XMP ")."""
    kind, data = webp_bitstream(size, seed, lossless)
    if extended is None:
        extended = any(part is not None for part in (icc, exif, xmp))
    if not extended:
        return riff([webp_chunk(kind, data)])
    flags = (VP8X_ICC if icc is not None else 0) | (VP8X_EXIF if exif is not None else 0) \
        | (VP8X_XMP if xmp is not None else 0)
    w, h = size
    vp8x = struct.pack("<B3x", flags) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    chunks = [webp_chunk(b"VP8X", vp8x)]
    if icc is not None:
        chunks.append(webp_chunk(b"ICCP", icc))
    chunks.append(webp_chunk(kind, data))
    if exif is not None:
        chunks.append(webp_chunk(b"EXIF", (b"Exif\0\0" if exif_prefix else b"") + exif))
    if xmp is not None:
        chunks.append(webp_chunk(b"XMP ", xmp))
    return riff(chunks)
