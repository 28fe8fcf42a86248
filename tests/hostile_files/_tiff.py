"""TIFF structures by hand: EXIF blocks (as in a JPEG APP1, PNG eXIf or WebP EXIF chunk), the
three MakerNote layouts that break differently when moved, and whole TIFF files."""

from __future__ import annotations

import io
import itertools
import struct
from dataclasses import dataclass

from PIL import Image

BYTE, ASCII, SHORT, LONG, RATIONAL = 1, 2, 3, 4, 5
SBYTE, UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE = 6, 7, 8, 9, 10, 11, 12
# type -> (size of one value, struct code of one value; None: the value is raw bytes)
_TYPES = {BYTE: (1, "B"), ASCII: (1, None), SHORT: (2, "H"), LONG: (4, "L"),
          RATIONAL: (8, "LL"), SBYTE: (1, "b"), UNDEFINED: (1, None), SSHORT: (2, "h"),
          SLONG: (4, "l"), SRATIONAL: (8, "ll"), FLOAT: (4, "f"), DOUBLE: (8, "d")}
_ENDIAN = {"II": "<", "MM": ">"}

EXIF_IFD, GPS_IFD, INTEROP_IFD, MAKERNOTE = 0x8769, 0x8825, 0xA005, 0x927C
USER_COMMENT, XP_TITLE, XP_COMMENT, XP_KEYWORDS, XP_SUBJECT = 0x9286, 0x9C9B, 0x9C9C, 0x9C9E, 0x9C9F
XMP_TAG, IPTC_TAG, PHOTOSHOP_TAG = 700, 33723, 34377


@dataclass(frozen=True)
class Ref:
    """An entry value: the offset of the named IFD of the same TIFF (ExifIFD and GPS pointers)."""

    name: str


@dataclass(frozen=True)
class At:
    """An entry value: the offset of `data`, placed after the IFD (strips, thumbnails)."""

    data: bytes


def ucs2(text: str) -> bytes:
    """Windows' XPTitle/XPComment/XPSubject/XPKeywords: UCS-2LE with a NUL terminator, whatever
    the byte order of the TIFF around it (Windows Explorer's Properties > Details)."""
    return text.encode("utf-16-le") + b"\0\0"


_COMMENT_CODES = {"ascii": b"ASCII\0\0\0", "unicode": b"UNICODE\0", "undefined": b"\0" * 8}


def user_comment(text: str, code: str = "ascii", byte_order: str = "II") -> bytes:
    """EXIF UserComment: an 8-byte character code then the text: "ascii" (most editors),
    "unicode" (UCS-2 in the byte order of the EXIF block, as Windows and exiftool write it) or
    "undefined" (8 NULs, as Canon cameras write a blank comment; the text then in UTF-8)."""
    if code == "unicode":
        body = text.encode("utf-16-le" if byte_order == "II" else "utf-16-be")
    else:
        body = text.encode("ascii" if code == "ascii" else "utf-8")
    return _COMMENT_CODES[code] + body


def ascii_value(text: str, encoding: str = "utf-8") -> bytes:
    """An ASCII-type value in another encoding with its NUL (ImageDescription in UTF-8, as
    exiv2/digiKam write it, or cp1252, as old Windows tools do)."""
    return text.encode(encoding) + b"\0"


def _pack_value(typ: int, value, endian: str) -> tuple[int, bytes]:
    """(count, bytes) of one entry's value."""
    size, code = _TYPES[typ]
    if isinstance(value, str):
        value = value.encode("utf-8") + b"\0"
    if isinstance(value, bytes | bytearray):
        return len(value) // size, bytes(value)
    if code is None:  # BYTE-like types given as numbers
        code = "B"
    if typ in (RATIONAL, SRATIONAL):
        values = [value] if isinstance(value[0], int) else list(value)
        flat = [part for pair in values for part in pair]
        return len(values), struct.pack(f"{endian}{len(flat)}{code[0]}", *flat)
    values = list(value) if isinstance(value, list | tuple) else [value]
    return len(values), struct.pack(f"{endian}{len(values)}{code}", *values)


def _even(data: bytes) -> bytes:
    return data + b"\0" * (len(data) & 1)


def ifd_bytes(entries, pos: int, byte_order: str, refs=None, next_ifd: int = 0,
              base: int = 0) -> bytes:
    """An IFD that starts at `pos` of its TIFF, its values over 4 bytes placed right after it
    (word-aligned), every offset written relative to `base`. Entries are sorted by tag; values
    may be Ref/At/MakerNote objects besides numbers, strings and bytes."""
    endian = _ENDIAN[byte_order]
    entries = sorted(entries, key=lambda entry: entry[0])
    data_pos = pos + 2 + 12 * len(entries) + 4
    head, tail = [struct.pack(f"{endian}H", len(entries))], []
    for tag, typ, value in entries:
        if isinstance(value, Ref):
            value = (refs or {}).get(value.name, 0) - base
        elif isinstance(value, At):
            tail.append(_even(value.data))
            value = data_pos - base
            data_pos += len(tail[-1])
        elif hasattr(value, "build"):
            value = value.build(data_pos, byte_order)
        count, data = _pack_value(typ, value, endian)
        if len(data) > 4:
            tail.append(_even(data))
            field = struct.pack(f"{endian}L", data_pos - base)
            data_pos += len(tail[-1])
        else:
            field = data.ljust(4, b"\0")
        head.append(struct.pack(f"{endian}HHL", tag, typ, count) + field)
    head.append(struct.pack(f"{endian}L", next_ifd - base if next_ifd else 0))
    return b"".join(head + tail)


def tiff_structure(ifds: dict, chain: list[str], byte_order: str = "II") -> bytes:
    """A TIFF header then the named IFDs in dict order; `chain` links IFD0 -> IFD1 -> ...;
    Ref(name) entries point at the named IFDs."""
    endian = _ENDIAN[byte_order]
    positions, pos = {}, 8
    for name, entries in ifds.items():  # pass 1: lengths do not depend on positions
        positions[name] = pos
        pos += len(ifd_bytes(entries, pos, byte_order))
    links = dict(itertools.pairwise(chain))
    body = [ifd_bytes(entries, positions[name], byte_order, positions,
                      positions[links[name]] if name in links else 0)
            for name, entries in ifds.items()]
    return byte_order.encode() + struct.pack(f"{endian}HL", 42, positions[chain[0]]) + b"".join(body)


def thumbnail_jpeg(size: tuple[int, int] = (32, 24), seed: int = 1) -> bytes:
    """A small baseline JPEG for IFD1 (every camera writes a 160x120 one)."""
    out = io.BytesIO()
    picture(size, seed).save(out, "JPEG", quality=80)
    return out.getvalue()


def picture(size: tuple[int, int] = (64, 48), seed: int = 0) -> Image.Image:
    """A deterministic RGB picture: diagonal gradients shifted by `seed`."""
    w, h = size
    pixels = bytes(channel for y in range(h) for x in range(w)
                   for channel in ((x * 255 // max(w - 1, 1) + seed * 13) % 256,
                                   (y * 255 // max(h - 1, 1) + seed * 29) % 256,
                                   ((x + y) * 4 + seed * 7) % 256))
    return Image.frombytes("RGB", size, pixels)


_THUMB_IFD1 = [(0x0103, SHORT, 6), (0x011A, RATIONAL, (72, 1)), (0x011B, RATIONAL, (72, 1)),
               (0x0128, SHORT, 2)]


def tiff_block(ifd0, exif=None, gps=None, interop=None, ifd1=None, byte_order: str = "II",
               makernote=None, thumbnail: bytes | None = None) -> bytes:
    """An EXIF TIFF block as cameras write it: IFD0 with ExifIFD/GPS pointers, the ExifIFD with
    the MakerNote and Interop pointer, IFD1 with a JPEG thumbnail (JPEGInterchangeFormat/Length).
    IFDs are lists of (tag, type, value)."""
    ifd0, exif = list(ifd0), None if exif is None else list(exif)
    if makernote is not None or interop is not None:
        exif = exif or []
    if makernote is not None:
        exif.append((MAKERNOTE, UNDEFINED, makernote))
    if interop is not None:
        exif.append((INTEROP_IFD, LONG, Ref("interop")))
    if exif is not None:
        ifd0.append((EXIF_IFD, LONG, Ref("exif")))
    if gps is not None:
        ifd0.append((GPS_IFD, LONG, Ref("gps")))
    if thumbnail is not None:
        ifd1 = [*(_THUMB_IFD1 if ifd1 is None else ifd1),
                (0x0201, LONG, At(thumbnail)), (0x0202, LONG, len(thumbnail))]
    ifds = {name: entries for name, entries in [("ifd0", ifd0), ("exif", exif),
            ("interop", interop), ("gps", gps), ("ifd1", ifd1)] if entries is not None}
    return tiff_structure(ifds, ["ifd0", "ifd1"] if ifd1 is not None else ["ifd0"], byte_order)


@dataclass(frozen=True)
class MakerNote:
    """A MakerNote value: `header` then an IFD whose offsets count from the EXIF TIFF header
    (`absolute`, Canon/Sony/Panasonic) or from a TIFF header of its own inside the note
    (Nikon type 3, `own_order` its byte order)."""

    entries: tuple
    header: bytes = b""
    absolute: bool = True
    own_order: str | None = None

    def build(self, offset: int, byte_order: str) -> bytes:
        if self.absolute:
            return self.header + ifd_bytes(self.entries, offset + len(self.header), byte_order)
        return self.header + tiff_structure({"mn": self.entries}, ["mn"], self.own_order or byte_order)


def canon_makernote(entries=None) -> MakerNote:
    """Canon EOS/PowerShot: a bare IFD, offsets relative to the EXIF TIFF header."""
    return MakerNote(tuple(entries or [
        (0x0006, ASCII, "Canon EOS R6"),  # ImageType
        (0x0007, ASCII, "Firmware Version 1.8.1"),
        (0x0009, ASCII, "Hostile Owner".ljust(31, "\0")),  # OwnerName, string[32]
        (0x0010, LONG, 0x80000453),  # ModelID
    ]))


def nikon_makernote(entries=None, byte_order: str = "MM") -> MakerNote:
    """Nikon (type 3, D-series and Z cameras): "Nikon\\0\\x02\\x10\\0\\0" then a TIFF of its own,
    offsets relative to that inner header (so it survives being moved)."""
    return MakerNote(tuple(entries or [
        (0x0001, UNDEFINED, b"0210"),  # MakerNoteVersion
        (0x0002, SHORT, [0, 400]),  # ISO
        (0x0004, ASCII, "FINE  "),  # Quality
        (0x0005, ASCII, "AUTO        "),  # WhiteBalance
    ]), b"Nikon\0\x02\x10\0\0", absolute=False, own_order=byte_order)


def sony_makernote(entries=None, header: bytes = b"SONY DSC \0\0\0") -> MakerNote:
    """Sony ("SONY DSC \\0\\0\\0") or Panasonic ("Panasonic\\0\\0\\0"): a header then an IFD whose
    offsets are relative to the EXIF TIFF header."""
    if entries is None and header.startswith(b"Panasonic"):
        entries = [(0x0001, SHORT, 2), (0x0002, UNDEFINED, b"0130"), (0x0003, SHORT, 1),
                   (0x0051, ASCII, "LUMIX G VARIO 12-60/F3.5-5.6")]
    return MakerNote(tuple(entries or [
        (0x0102, LONG, 2),  # Quality
        (0xB001, SHORT, 363),  # SonyModelID: ILCE-7M3
        (0xB020, ASCII, "Standard"),  # CreativeStyle
        (0x2002, SLONG, 0),  # Rating
    ]), header)


_MAKERNOTES = {"canon": ("Canon", "Canon EOS R6", canon_makernote),
               "nikon": ("NIKON CORPORATION", "NIKON Z 6", nikon_makernote),
               "sony": ("SONY", "ILCE-7M3", sony_makernote),
               "panasonic": ("Panasonic", "DC-G9", lambda: sony_makernote(header=b"Panasonic\0\0\0"))}


def camera_exif(camera: str = "canon", byte_order: str = "II", description: str | bytes | None = None,
                xp: dict[int, str] | None = None, comment: bytes | None = None,
                thumbnail: bool = True, gps: bool = True, orientation: int = 1) -> bytes:
    """A camera's EXIF block: Make/Model/Orientation/DateTime, ExifIFD (DateTimeOriginal, the
    camera's MakerNote, Interop), GPS and a thumbnail; optional ImageDescription (str: UTF-8,
    bytes: as given), XP fields ({tag: text}) and UserComment bytes (see `user_comment`)."""
    make, model, note = _MAKERNOTES[camera]
    ifd0 = [(0x010F, ASCII, make), (0x0110, ASCII, model), (0x0112, SHORT, orientation),
            (0x011A, RATIONAL, (300, 1)), (0x011B, RATIONAL, (300, 1)), (0x0128, SHORT, 2),
            (0x0132, ASCII, "2024:07:14 18:03:22"), (0x0213, SHORT, 2)]  # YCbCrPositioning
    if description is not None:
        ifd0.append((0x010E, ASCII, description))
    ifd0 += [(tag, BYTE, ucs2(text)) for tag, text in (xp or {}).items()]
    exif = [(0x829A, RATIONAL, (1, 250)), (0x829D, RATIONAL, (28, 10)), (0x8827, SHORT, 400),
            (0x9000, UNDEFINED, b"0232"), (0x9003, ASCII, "2024:07:14 18:03:22"),
            (0x9101, UNDEFINED, b"\x01\x02\x03\0"), (0x9201, SRATIONAL, (7965784, 1000000)),
            (0x9204, SRATIONAL, (-1, 3)), (0xA000, UNDEFINED, b"0100"), (0xA001, SHORT, 1),
            (0xA002, LONG, 6000), (0xA003, LONG, 4000)]
    if comment is not None:
        exif.append((USER_COMMENT, UNDEFINED, comment))
    gps_ifd = [(0x0000, BYTE, [2, 3, 0, 0]), (0x0001, ASCII, "N"),
               (0x0002, RATIONAL, [(52, 1), (31, 1), (1234, 100)]), (0x0003, ASCII, "E"),
               (0x0004, RATIONAL, [(13, 1), (24, 1), (0, 1)])]
    return tiff_block(ifd0, exif, gps=gps_ifd if gps else None,
                      interop=[(0x0001, ASCII, "R98"), (0x0002, UNDEFINED, b"0100")],
                      byte_order=byte_order, makernote=note(),
                      thumbnail=thumbnail_jpeg() if thumbnail else None)


def _page(image: Image.Image, extra) -> list:
    w, h = image.size
    pixels = image.convert("RGB").tobytes()
    return [(0x0100, LONG, w), (0x0101, LONG, h), (0x0102, SHORT, [8, 8, 8]),
            (0x0103, SHORT, 1), (0x0106, SHORT, 2), (0x0111, LONG, At(pixels)),
            (0x0115, SHORT, 3), (0x0116, LONG, h), (0x0117, LONG, len(pixels)),
            (0x011A, RATIONAL, (72, 1)), (0x011B, RATIONAL, (72, 1)), (0x011C, SHORT, 1),
            (0x0128, SHORT, 2), *extra]


def tiff_file(size: tuple[int, int] = (64, 48), seed: int = 0, byte_order: str = "II",
              description: str | bytes | None = "A hostile caption", make: str = "Canon",
              model: str = "Canon EOS R6", xmp: bytes | None = None, iptc: bytes | None = None,
              iptc_type: int = LONG, photoshop: bytes | None = None,
              makernote: MakerNote | bool | None = True, pages: int = 1) -> bytes:
    """An uncompressed RGB TIFF (one strip a page) as scanners, Photoshop and camera converters
    write it: IFD0 with ImageDescription, Make/Model, XMLPacket (700), IPTCNAA (33723; LONG as
    Photoshop writes it, or UNDEFINED), Photoshop (34377) resources, an ExifIFD with a Canon
    MakerNote; `pages` > 1 chains more IFDs (a multi-page fax/scan)."""
    extra = [(0x010F, ASCII, make), (0x0110, ASCII, model)]
    if description is not None:
        extra.append((0x010E, ASCII, description))
    if xmp is not None:
        extra.append((XMP_TAG, BYTE, xmp))
    if iptc is not None:  # Photoshop pads the IIM to whole LONGs
        extra.append((IPTC_TAG, iptc_type, iptc + b"\0" * (-len(iptc) % 4 if iptc_type == LONG else 0)))
    if photoshop is not None:
        extra.append((PHOTOSHOP_TAG, BYTE, photoshop))
    ifds = {"ifd0": _page(picture(size, seed), extra)}
    if makernote:
        ifds["ifd0"].append((EXIF_IFD, LONG, Ref("exif")))
        note = canon_makernote() if makernote is True else makernote
        ifds["exif"] = [(0x9000, UNDEFINED, b"0232"), (0x9003, ASCII, "2024:07:14 18:03:22"),
                        (0xA000, UNDEFINED, b"0100"), (0xA001, SHORT, 1), (MAKERNOTE, UNDEFINED, note)]
    for page in range(1, pages):
        ifds[f"page{page}"] = _page(picture(size, seed + page), [(0x0129, SHORT, [page, pages])])
    if pages > 1:
        ifds["ifd0"].append((0x0129, SHORT, [0, pages]))  # PageNumber
    return tiff_structure(ifds, ["ifd0", *(f"page{p}" for p in range(1, pages))], byte_order)
