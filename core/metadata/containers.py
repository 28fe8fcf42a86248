"""The metadata-carrying parts of JPEG, PNG and WebP files, split and put back together byte for
byte: an edit replaces whole parts (a JPEG APP1 segment, a PNG chunk) and every other byte of
the file, the compressed image data included, is copied from the original.

A file splits into `head` (signature), `parts` (segments or chunks, each with the exact bytes it
had, fill bytes and padding included) and `tail` (for JPEG everything from the first scan on:
the compressed image; for PNG whatever follows IEND). `Container.join()` gives the original
bytes back exactly. Each part has a `kind` naming what it holds ("exif", "xmp", "xmp-extension",
"photoshop", "comment", "text:Description", "image", ...), used to find and compare parts.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field, replace

JPEG_EXIF = b"Exif\x00"
JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
JPEG_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"
JPEG_PHOTOSHOP = b"Photoshop 3.0\x00"
JPEG_MPF = b"MPF\x00"  # APP2 Multi-Picture Format: where the other pictures of the file are
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
SEGMENT_MAX = 65533  # payload bytes of one JPEG segment


class ContainerError(ValueError):
    """The file's structure cannot be followed; says where."""


@dataclass(frozen=True)
class Part:
    kind: str
    raw: bytes  # as stored in the file
    payload: bytes  # what the part holds (a segment's data after its identifier, a chunk's data)
    tag: bytes = b""  # JPEG marker byte or PNG/WebP chunk type


@dataclass
class Container:
    format: str  # "jpeg", "png" or "webp"
    head: bytes
    parts: list[Part] = field(default_factory=list)
    tail: bytes = b""

    def join(self) -> bytes:
        body = self.head + b"".join(p.raw for p in self.parts) + self.tail
        if self.format == "webp":  # the RIFF size covers everything after it
            body = body[:4] + struct.pack("<I", len(body) - 8) + body[8:]
        return body

    def find(self, kind: str) -> list[int]:
        return [i for i, p in enumerate(self.parts) if p.kind == kind]


def split(data: bytes) -> Container:
    if data.startswith(b"\xff\xd8"):
        return _split_jpeg(data)
    if data.startswith(PNG_SIGNATURE):
        return _split_png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _split_webp(data)
    raise ContainerError("not a JPEG, PNG or WebP file")


# ---- JPEG -------------------------------------------------------------------------------------


def _jpeg_kind(marker: int, payload: bytes) -> str:
    if marker == 0xE1 and payload.startswith(JPEG_EXIF):
        return "exif"
    if marker == 0xE1 and payload.startswith(JPEG_XMP):
        return "xmp"
    if marker == 0xE1 and payload.startswith(JPEG_XMP_EXTENSION):
        return "xmp-extension"
    if marker == 0xED and payload.startswith(JPEG_PHOTOSHOP):
        return "photoshop"
    if marker == 0xFE:
        return "comment"
    if marker == 0xE2 and payload.startswith(JPEG_MPF):
        return "mpf"
    return f"marker-{marker:02X}"


def _split_jpeg(data: bytes) -> Container:
    container = Container("jpeg", data[:2])
    at = 2
    while True:
        start = at
        while at < len(data) and data[at] == 0xFF and at + 1 < len(data) and data[at + 1] == 0xFF:
            at += 1  # fill bytes before a marker
        if at + 2 > len(data) or data[at] != 0xFF:
            raise ContainerError(f"no JPEG marker at byte {at}")
        marker = data[at + 1]
        if marker == 0xDA or marker == 0xD9:  # start of scan (or an image without one): the rest
            container.tail = data[start:]
            return container
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            container.parts.append(Part(f"marker-{marker:02X}", data[start : at + 2], b"", bytes([marker])))
            at += 2
            continue
        if at + 4 > len(data):
            raise ContainerError(f"the JPEG ends inside the segment at byte {at}")
        (length,) = struct.unpack_from(">H", data, at + 2)
        end = at + 2 + length
        if length < 2 or end > len(data):
            raise ContainerError(f"the JPEG segment at byte {at} runs past the end of the file")
        payload = data[at + 4 : end]
        container.parts.append(Part(_jpeg_kind(marker, payload), data[start:end], payload, bytes([marker])))
        at = end


def jpeg_segment(marker: int, payload: bytes) -> Part:
    if len(payload) > SEGMENT_MAX:
        raise ContainerError(f"{len(payload):,} bytes do not fit in one JPEG segment ({SEGMENT_MAX:,} at most)")
    raw = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return Part(_jpeg_kind(marker, payload), raw, payload, bytes([marker]))


# ---- PNG --------------------------------------------------------------------------------------


def _png_text(kind: bytes, data: bytes) -> tuple[bytes, str | None]:
    """(keyword, text or None when compressed/undecodable) of a tEXt, zTXt or iTXt chunk."""
    keyword, _, rest = data.partition(b"\0")
    if kind == b"tEXt":
        return keyword, rest.decode("latin-1")
    if kind == b"zTXt":
        try:
            return keyword, zlib.decompress(rest[1:]).decode("latin-1") if rest[:1] == b"\0" else None
        except zlib.error:
            return keyword, None
    if kind == b"iTXt":
        flag, method = rest[:1], rest[1:2]
        _, _, rest = rest[2:].partition(b"\0")  # language tag
        _, _, text = rest.partition(b"\0")  # translated keyword
        try:
            if flag == b"\x01" and method == b"\x00":
                text = zlib.decompress(text)
            return keyword, text.decode("utf-8")
        except (zlib.error, UnicodeDecodeError):
            return keyword, None
    return keyword, None


def _png_kind(kind: bytes, data: bytes) -> str:
    if kind == b"eXIf":
        return "exif"
    if kind in (b"tEXt", b"zTXt", b"iTXt"):
        keyword, _ = _png_text(kind, data)
        if kind == b"iTXt" and keyword == PNG_XMP_KEYWORD:
            return "xmp"
        return "text:" + keyword.decode("latin-1")
    if kind in (b"IDAT", b"fdAT"):
        return "image"
    return "chunk-" + kind.decode("latin-1")


def png_chunk(kind: bytes, data: bytes) -> Part:
    raw = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return Part(_png_kind(kind, data), raw, data, kind)


def png_text_value(part: Part) -> str | None:
    return _png_text(part.tag, part.payload)[1]


def png_itxt(keyword: bytes, text: str, language: bytes = b"", translated: bytes = b"") -> Part:
    return png_chunk(b"iTXt", keyword + b"\0\0\0" + language + b"\0" + translated + b"\0" + text.encode("utf-8"))


def png_itxt_names(part: Part) -> tuple[bytes, bytes]:
    """(language tag, translated keyword) of an iTXt chunk."""
    _, _, rest = part.payload.partition(b"\0")
    language, _, rest = rest[2:].partition(b"\0")
    translated, _, _ = rest.partition(b"\0")
    return language, translated


def _split_png(data: bytes) -> Container:
    container = Container("png", data[:8])
    at = 8
    while at < len(data):
        if at + 12 > len(data):
            raise ContainerError(f"the PNG ends inside the chunk at byte {at}")
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 12 + length
        if end > len(data):
            raise ContainerError(f"the PNG chunk {kind!r} at byte {at} runs past the end of the file")
        payload = data[at + 8 : at + 8 + length]
        if struct.unpack_from(">I", data, end - 4)[0] != zlib.crc32(kind + payload):
            raise ContainerError(f"the PNG chunk {kind.decode('latin-1')} at byte {at} has a bad checksum")
        container.parts.append(Part(_png_kind(kind, payload), data[at:end], payload, kind))
        at = end
        if kind == b"IEND":
            container.tail = data[at:]
            return container
    raise ContainerError("the PNG has no IEND chunk")


# ---- WebP -------------------------------------------------------------------------------------

WEBP_EXIF_FLAG, WEBP_XMP_FLAG, WEBP_ALPHA_FLAG = 0x08, 0x04, 0x10
WEBP_KINDS = {b"EXIF": "exif", b"XMP ": "xmp", b"VP8 ": "image", b"VP8L": "image", b"ALPH": "image",
              b"ANMF": "image", b"VP8X": "vp8x"}


def webp_chunk(kind: bytes, data: bytes) -> Part:
    raw = kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")
    return Part(WEBP_KINDS.get(kind, "chunk-" + kind.decode("latin-1")), raw, data, kind)


def _split_webp(data: bytes) -> Container:
    (size,) = struct.unpack_from("<I", data, 4)
    if size + 8 > len(data):
        raise ContainerError("the WebP file is shorter than its RIFF header says")
    container = Container("webp", data[:12], tail=data[8 + size :])
    at, end = 12, 8 + size
    while at < end:
        if at + 8 > end:
            raise ContainerError(f"the WebP ends inside the chunk at byte {at}")
        kind, length = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
        stop = at + 8 + length + (length & 1)
        if at + 8 + length > end:
            raise ContainerError(f"the WebP chunk {kind!r} at byte {at} runs past the end")
        part = webp_chunk(kind, data[at + 8 : at + 8 + length])
        container.parts.append(replace(part, raw=data[at : min(stop, end)]))
        at = stop
    return container


def webp_canvas(container: Container) -> tuple[int, int, bool]:
    """(width, height, has alpha) of a simple WebP (a VP8 or VP8L bitstream without VP8X)."""
    image = next((p for p in container.parts if p.kind == "image"), None)
    if image is None:
        raise ContainerError("the WebP holds no image")
    bits = image.payload
    if image.tag == b"VP8 " and len(bits) >= 10 and bits[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", bits, 6)
        return width & 0x3FFF, height & 0x3FFF, False
    if image.tag == b"VP8L" and len(bits) >= 5 and bits[0] == 0x2F:
        (value,) = struct.unpack_from("<I", bits, 1)
        return (value & 0x3FFF) + 1, ((value >> 14) & 0x3FFF) + 1, bool(value >> 28 & 1)
    raise ContainerError("the WebP bitstream's size cannot be read")


def webp_vp8x(flags: int, width: int, height: int) -> Part:
    return webp_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little")
                      + (height - 1).to_bytes(3, "little"))
