"""PNG files chunk by chunk around Pillow's IDAT data, with correct CRCs."""

from __future__ import annotations

import io
import struct
import zlib

from ._tiff import picture

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """Length, type, data, CRC-32 of type + data."""
    return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """[(type, data)] of a PNG file (CRCs not checked)."""
    pos, found = 8, []
    while pos < len(data):
        length, kind = struct.unpack_from(">L4s", data, pos)
        found.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return found


def png_text(keyword: str, value: str) -> bytes:
    """tEXt: Latin-1 keyword and text (Description/Comment from GIMP, ImageMagick)."""
    return png_chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + value.encode("latin-1"))


def png_itxt(keyword: str, value: str, language: str = "", translated: str = "") -> bytes:
    """iTXt, uncompressed, UTF-8 (Adobe writes XMP as keyword "XML:com.adobe.xmp")."""
    return png_chunk(b"iTXt", keyword.encode("latin-1") + b"\0\0\0" + language.encode("ascii")
                 + b"\0" + translated.encode("utf-8") + b"\0" + value.encode("utf-8"))


def png_raw_profile(name: str, data: bytes) -> bytes:
    """zTXt "Raw profile type <name>" as ImageMagick writes it: "\\n<name>\\n<length %8d>\\n"
    then the data in hex, 72 digits a line."""
    digits = data.hex()
    lines = "".join(digits[i:i + 72] + "\n" for i in range(0, len(digits), 72))
    body = f"\n{name}\n{len(data):8d}\n{lines}".encode("ascii")
    return png_chunk(b"zTXt", f"Raw profile type {name}".encode() + b"\0\0" + zlib.compress(body))


def png_iccp(profile: bytes, name: str = "ICC profile") -> bytes:
    """iCCP: profile name, compression method 0, zlib data."""
    return png_chunk(b"iCCP", name.encode("latin-1") + b"\0\0" + zlib.compress(profile))


def png_time(stamp=(2024, 7, 14, 18, 3, 22)) -> bytes:
    """tIME: year, month, day, hour, minute, second (UTC)."""
    return png_chunk(b"tIME", struct.pack(">HBBBBB", *stamp))


def png(before=(), after=(), size: tuple[int, int] = (64, 48), seed: int = 0, idats: int = 2) -> bytes:
    """Signature, Pillow's IHDR, the chunks `before` the image data, Pillow's IDAT data split
    over `idats` chunks, the chunks `after` it, IEND. Metadata after IDAT is legal for text
    and tIME (ImageMagick puts tIME/tEXt there)."""
    out = io.BytesIO()
    picture(size, seed).save(out, "PNG")
    found = png_chunks(out.getvalue())
    ihdr = next(data for kind, data in found if kind == b"IHDR")
    data = b"".join(data for kind, data in found if kind == b"IDAT")
    step = -(-len(data) // idats)
    parts = [png_chunk(b"IDAT", data[i:i + step]) for i in range(0, len(data), step)]
    return SIGNATURE + png_chunk(b"IHDR", ihdr) + b"".join(before) + b"".join(parts) + b"".join(after) \
        + png_chunk(b"IEND", b"")
