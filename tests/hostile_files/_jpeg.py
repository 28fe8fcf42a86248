"""JPEG files segment by segment: SOI, the APPn/COM segments given, then the tables and scan
of a Pillow-encoded baseline JPEG."""

from __future__ import annotations

import io
import struct

from ._iptc import photoshop_irb
from ._tiff import picture, tiff_structure
from ._xmp import xmp_with_extension

XMP_ID, XMP_EXT_ID = b"http://ns.adobe.com/xap/1.0/\0", b"http://ns.adobe.com/xmp/extension/\0"
APP0, APP1, APP2, APP11, APP13, APP14, COM = 0xE0, 0xE1, 0xE2, 0xEB, 0xED, 0xEE, 0xFE


def segment(marker: int, payload: bytes) -> bytes:
    """FF marker, big-endian length (itself included), payload."""
    if len(payload) > 0xFFFD:
        raise ValueError(f"segment payload of {len(payload)} bytes does not fit")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def split_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """([(marker, payload)] up to SOS, the rest from SOS on) of a JPEG file."""
    pos, found = 2, []
    while data[pos + 1] != 0xDA:
        marker, length = data[pos + 1], struct.unpack_from(">H", data, pos + 2)[0]
        found.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return found, data[pos:]


def pillow_jpeg(size: tuple[int, int] = (64, 48), seed: int = 0, quality: int = 90) -> bytes:
    """Pillow's baseline JPEG of `picture(size, seed)`."""
    out = io.BytesIO()
    picture(size, seed).save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg(segments=(), size: tuple[int, int] = (64, 48), seed: int = 0, quality: int = 90) -> bytes:
    """SOI, `segments` (bytes from the helpers below, or lists of them) in the given order, then
    Pillow's DQT/SOF/DHT/SOS/scan/EOI; Pillow's own APPn and COM segments are dropped, so a
    JFIF APP0 is there only if `segments` has one."""
    found, scan = split_segments(pillow_jpeg(size, seed, quality))
    tables = [segment(m, p) for m, p in found if not (0xE0 <= m <= 0xEF or m == COM)]
    flat = [s for item in segments for s in ([item] if isinstance(item, bytes) else item)]
    return b"\xff\xd8" + b"".join(flat) + b"".join(tables) + scan


def app0_jfif(density: tuple[int, int] = (72, 72), unit: int = 1) -> bytes:
    """APP0 JFIF 1.01 without a thumbnail (libjpeg, cameras' "JFIF+EXIF" files)."""
    return segment(APP0, b"JFIF\0\x01\x01" + struct.pack(">BHHBB", unit, *density, 0, 0))


def app1_exif(tiff: bytes) -> bytes:
    """APP1 "Exif\\0\\0" + a TIFF block (every camera)."""
    return segment(APP1, b"Exif\0\0" + tiff)


def app1_xmp(packet: bytes) -> bytes:
    """APP1 XMP: the namespace URI with its NUL, then the packet (Adobe, exiv2)."""
    return segment(APP1, XMP_ID + packet)


def app1_extended_xmp(extension_body: str, chunk: int = 65000, caption: str = "Ein Café in Zürich") -> list[bytes]:
    """The main XMP APP1 naming xmpNote:HasExtendedXMP, then APP1 extension segments of at most
    `chunk` bytes each: namespace, 32-byte GUID, full length, offset, portion (Photoshop/ACR)."""
    main, extension, guid = xmp_with_extension(extension_body, caption)
    parts = [app1_xmp(main)]
    for offset in range(0, len(extension), chunk):
        parts.append(segment(APP1, XMP_EXT_ID + guid.encode() + struct.pack(">LL", len(extension), offset)
                             + extension[offset:offset + chunk]))
    return parts


def app2_icc(profile: bytes, chunks: int = 2) -> list[bytes]:
    """APP2 "ICC_PROFILE\\0", sequence number (from 1), count, then a part of the profile."""
    step = -(-len(profile) // chunks)
    return [segment(APP2, b"ICC_PROFILE\0" + bytes([i + 1, chunks]) + profile[i * step:(i + 1) * step])
            for i in range(chunks)]


def app2_mpf(entries) -> bytes:
    """APP2 MPF (CIPA DC-007): "MPF\\0" + a big-endian TIFF with the MP Index IFD: MPFVersion,
    NumberOfImages, MPEntry ((attribute, size, offset) per image; offsets from the MPF TIFF
    header, 0 for the first image), as Fujifilm/Sony/Nintendo 3DS write for MPO files."""
    raw = b"".join(struct.pack(">LLLHH", attribute, size, offset, 0, 0)
                   for attribute, size, offset in entries)
    ifd = [(0xB000, 7, b"0100"), (0xB001, 4, len(entries)), (0xB002, 7, raw)]
    return segment(APP2, b"MPF\0" + tiff_structure({"mp": ifd}, ["mp"], "MM"))


def mpo(segments=(), size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A two-picture MPO (a camera's 3D/large-preview file): the primary JPEG with an MPF index
    after `segments`, then a second JPEG; the MPEntry sizes and offsets are right."""
    second = jpeg([app0_jfif()], (size[0] // 2, size[1] // 2), seed + 1)
    draft = jpeg([*segments, app2_mpf([(0x20030000, 0, 0), (0x00010001, 0, 0)])], size, seed)
    mpf_at = draft.index(b"MPF\0") + 4  # the MPF TIFF header, where MP offsets count from
    entries = [(0x20030000, len(draft), 0), (0x00010001, len(second), len(draft) - mpf_at)]
    return jpeg([*segments, app2_mpf(entries)], size, seed) + second


def app1_flir(payload: bytes, chunk: int = 200) -> list[bytes]:
    """APP1 "FLIR\\0" segments as FLIR thermal cameras write them: 0x01, chunk index, last
    index, then a piece of the FFF record (`flir_fff`)."""
    pieces = [payload[i:i + chunk] for i in range(0, len(payload), chunk)]
    return [segment(APP1, b"FLIR\0\x01" + bytes([i, len(pieces) - 1]) + piece)
            for i, piece in enumerate(pieces)]


def flir_fff(size: tuple[int, int] = (16, 12), creator: bytes = b"HostileIR") -> bytes:
    """An FFF record (big-endian header, one-entry record directory) holding a RawData record:
    a 32-byte header and little-endian 16-bit thermal samples (opaque to everyone else)."""
    w, h = size
    raw = struct.pack("<16H", 2, w, h, 0, 0, 0, w - 1, 0, h - 1, 0, 0, 0, 0, 0, 0, 0)
    raw += struct.pack(f"<{w * h}H", *((7000 + 13 * i) % 65536 for i in range(w * h)))
    header = struct.pack(">4s16sLLLLH14x8xL", b"FFF\0", creator, 100, 64, 1, 2, 0, 0)
    directory = struct.pack(">HHLLLLLLL", 1, 2, 100, 1, 96, len(raw), 0, 0, 0)
    return header + directory + raw


def app11_jumbf(label: str = "hostile.json", content: bytes = b'{"caption": "kept"}') -> bytes:
    """APP11 JPEG XT box "JP", instance 1, sequence 1, then a JUMBF superbox (jumb) holding a
    description box (jumd: JSON type UUID, toggles, label) and a json box, as C2PA tools write."""
    def box(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">L", 8 + len(data)) + kind + data
    jumd = box(b"jumd", b"json" + bytes.fromhex("00110010800000AA00389B71") + b"\x03"
               + label.encode() + b"\0")
    return segment(APP11, b"JP" + struct.pack(">HL", 1, 1) + box(b"jumb", jumd + box(b"json", content)))


def app13_photoshop(irb: bytes) -> bytes:
    """APP13 "Photoshop 3.0\\0" + 8BIM resources (Photoshop, Photo Mechanic, exiftool)."""
    return segment(APP13, b"Photoshop 3.0\0" + irb)


def app13_iptc(iptc: bytes, digest: str | None = "match") -> bytes:
    """APP13 with ResolutionInfo, the IIM, its digest ("match"/"stale"/None) and another resource."""
    return app13_photoshop(photoshop_irb(iptc, digest))


def app14_adobe(transform: int = 1) -> bytes:
    """APP14 "Adobe": DCTEncodeVersion 100, flags, color transform (1 = YCbCr) (Photoshop)."""
    return segment(APP14, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, transform))


def com(text: str | bytes = "Created with GIMP") -> bytes:
    """COM text (GIMP writes "Created with GIMP"; some uploaders put the caption here)."""
    return segment(COM, text.encode("utf-8") if isinstance(text, str) else text)


# Malformed files


def jpeg_exif_count_overrun(entries: int = 300) -> bytes:
    """A JPEG whose APP1 Exif IFD0 claims `entries` entries but the segment ends after one
    (buggy phone firmware and truncating uploaders)."""
    tiff = b"II*\0\x08\0\0\0" + struct.pack("<HHHLL", entries, 0x010F, 2, 4, 0x006E6143)
    return jpeg([app0_jfif(), app1_exif(tiff)])


def jpeg_truncated(keep: float = 0.6) -> bytes:
    """A JPEG cut inside its scan, no EOI (an interrupted copy or download)."""
    data = jpeg([app0_jfif(), com("truncated")])
    sos = data.index(b"\xff\xda")
    return data[:sos + int((len(data) - sos) * keep)]


def jpeg_bad_tiff_header() -> bytes:
    """APP1 "Exif\\0\\0" followed by no valid TIFF header ("IX", magic 43, offset past the end)."""
    return jpeg([app0_jfif(), app1_exif(b"IX+\0\xff\xff\0\0" + b"\0" * 16)])


def jpeg_xmp_not_xml() -> bytes:
    """An XMP APP1 whose body is not XML (a JSON blob and binary bytes, seen from broken apps)."""
    return jpeg([app0_jfif(), app1_xmp(b'{"caption": "not xml"}\x00\x01\x02\xff')])
