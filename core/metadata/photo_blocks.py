"""The metadata blocks of a JPEG, PNG, WebP or TIFF file, found and decoded by VisionCap's own
parsers (core.metadata.containers, core.metadata.tiff_ifd, core.metadata.iptc, core.metadata.xmp_packet), and every field in them
that can hold a description.

A block that is present but cannot be decoded is kept as an error beside the others, never
taken for an empty block: a writer must not write into it, and a reader still reads the rest.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from core.metadata import iptc, xmp_packet
from core.metadata.containers import (
    JPEG_EXIF,
    JPEG_PHOTOSHOP,
    JPEG_XMP,
    Container,
    png_text_value,
    split,
)
from core.metadata.iptc import Dataset, Resource
from core.metadata.tiff_ifd import Tiff, TiffError

# EXIF tags that hold descriptions
IMAGE_DESCRIPTION, USER_COMMENT = 0x010E, 0x9286
XP_TITLE, XP_COMMENT, XP_SUBJECT = 0x9C9B, 0x9C9C, 0x9C9F
# TIFF tags that carry the other blocks in a TIFF file
TIFF_XMP, TIFF_IPTC, TIFF_PHOTOSHOP, DNG_VERSION = 700, 33723, 34377, 0xC612
TIFF_SUFFIXES = (".tif", ".tiff")
AFCP_MARK = re.compile(rb"AXS[!*]")  # the AFCP trailer's start and end (exiftool's AFCP.pm)
USER_COMMENT_CODES = {b"ASCII\0\0\0": "ascii", b"UNICODE\0": "utf-16", b"\0" * 8: "undefined"}


@dataclass
class Blocks:
    format: str  # "jpeg", "png", "webp" or "tiff"
    container: Container | None = None  # None for TIFF, where the file is the TIFF structure
    exif: Tiff | None = None
    xmp: object | None = None  # the parsed packet (a DOM document)
    iptc: list[Dataset] | None = None  # (Dataset and Resource imported by name: here `iptc` is this field)
    resources: list[Resource] | None = None  # the Photoshop resources holding IPTC
    # what could not be decoded, by block ("exif", "xmp", "iptc"): a sentence each
    errors: dict[str, str] = field(default_factory=dict)


def _one(container: Container, kind: str, what: str, blocks: Blocks) -> bytes | None:
    found = container.find(kind)
    if len(found) > 1:
        blocks.errors[what] = f"it holds {len(found)} {what.upper()} blocks, so readers disagree on which counts"
        return None
    return container.parts[found[0]].payload if found else None


def read_blocks(data: bytes, suffix: str = "") -> Blocks:
    """The blocks of a JPEG, PNG, WebP, or (by its `suffix`) TIFF file. Raises ContainerError
    (or TiffError) when the file's own structure cannot be followed."""
    if data[:4] in (b"II*\0", b"MM\0*") and suffix.lower() in TIFF_SUFFIXES:
        return _tiff_blocks(data)
    container = split(data)
    blocks = Blocks(container.format, container)
    exif = xmp = photoshop = None
    if container.format == "jpeg":
        exif = _one(container, "exif", "exif", blocks)
        exif = exif[6:] if exif is not None else None  # after "Exif\0\0"
        xmp = _one(container, "xmp", "xmp", blocks)
        xmp = xmp[len(JPEG_XMP):] if xmp is not None else None
        photoshop = _one(container, "photoshop", "iptc", blocks)
        if _afcp_trailer(container.tail):
            blocks.errors["layout"] = "it carries an AFCP trailer, whose offsets into the file would go stale"
    elif container.format == "png":
        exif = _one(container, "exif", "exif", blocks)
        found = container.find("xmp")
        xmp_text = png_text_value(container.parts[found[0]]) if len(found) == 1 else None
        xmp = xmp_text.encode("utf-8") if xmp_text is not None else None
        if len(found) > 1 or (found and xmp_text is None):
            blocks.errors["xmp"] = "its XMP text chunk cannot be read"
        legacy = [p.kind[len("text:Raw profile type "):] for p in container.parts
                  if p.kind.lower().startswith("text:raw profile type ") and p.kind[-4:].lower() in ("exif", "app1", " xmp")]
        if legacy and "exif" not in blocks.errors:
            blocks.errors["exif"] = (f"its {legacy[0].upper()} is in an ImageMagick text chunk, which VisionCap does not "
                                     "write; a second block would leave readers two answers")
    else:  # webp
        exif = _one(container, "exif", "exif", blocks)
        if exif is not None and exif.startswith(JPEG_EXIF):
            exif = exif[6:]  # some writers keep JPEG's "Exif\0\0" in front
        xmp = _one(container, "xmp", "xmp", blocks)
    _decode_exif(blocks, exif)
    _decode_xmp(blocks, xmp)
    if photoshop is not None:
        _decode_resources(blocks, photoshop[len(JPEG_PHOTOSHOP):])
    return blocks


def _tiff_blocks(data: bytes) -> Blocks:
    blocks = Blocks("tiff")
    tiff = Tiff(data)  # a TIFF file whose own structure is unreadable is not a file to write
    blocks.exif = tiff
    packet = tiff.value("IFD0", TIFF_XMP)
    _decode_xmp(blocks, packet.value if packet else None)
    resources = tiff.value("IFD0", TIFF_PHOTOSHOP)
    if resources is not None:
        _decode_resources(blocks, resources.value, with_iim=False)
    iim = tiff.value("IFD0", TIFF_IPTC)
    if iim is not None:
        _decode_iim(blocks, iim.value)
    return blocks


def _afcp_trailer(tail: bytes) -> bool:
    """Whether an AFCP trailer (absolute offsets into the file) follows the JPEG's image data.
    The image data ends at the first EOI: inside entropy-coded data every 0xFF is stuffed."""
    end = tail.find(b"\xff\xd9")
    return end >= 0 and AFCP_MARK.search(tail, end + 2) is not None


def _decode_exif(blocks: Blocks, exif: bytes | None) -> None:
    if exif is None:
        return
    try:
        tiff = Tiff(exif)
    except TiffError as exc:
        blocks.errors["exif"] = f"its EXIF cannot be read ({exc})"
        return
    blocks.exif = tiff
    outside = [f"{path}'s {what}" for path, what, start, length in data_ranges(tiff) if start + length > len(exif)]
    if outside:  # the bytes such a pointer reaches belong to whatever follows the block
        blocks.errors["exif"] = f"its EXIF points past its own end ({outside[0]})"


def _decode_xmp(blocks: Blocks, packet: bytes | None) -> None:
    if packet is None or "xmp" in blocks.errors:
        return
    try:
        blocks.xmp = xmp_packet.parse(packet)
    except xmp_packet.XmpError as exc:
        blocks.errors["xmp"] = f"its XMP cannot be read: {exc}"


def _decode_iim(blocks: Blocks, iim: bytes) -> None:
    try:
        blocks.iptc = iptc.parse_iim(iim)[0]
    except iptc.IptcError as exc:
        blocks.errors["iptc"] = f"its IPTC cannot be read ({exc})"


def _decode_resources(blocks: Blocks, data: bytes, with_iim: bool = True) -> None:
    try:
        blocks.resources = iptc.parse_resources(data)
    except iptc.IptcError as exc:
        blocks.errors["iptc"] = f"its IPTC cannot be read ({exc})"
        return
    found = [r.data for r in blocks.resources if r.id == iptc.IRB_IPTC]
    if len(found) > 1:
        blocks.errors["iptc"] = f"it holds {len(found)} IPTC blocks, so readers disagree on which counts"
    elif with_iim and found:
        _decode_iim(blocks, found[0])


# ---- text in EXIF -----------------------------------------------------------------------------


def decode_bytes(data: bytes) -> str:
    """UTF-8 if the bytes are UTF-8, else Windows-1252 (old cameras and Windows tools); trailing
    NULs dropped."""
    data = data.rstrip(b"\0")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def ucs2(text: str) -> bytes:
    """A Windows XP field's value: UTF-16LE with a terminating NUL."""
    return text.encode("utf-16-le") + b"\0\0"


def decode_ucs2(data: bytes) -> str:
    return data[: len(data) & ~1].decode("utf-16-le", "replace").split("\0", 1)[0]


def decode_user_comment(data: bytes, order: str) -> str:
    code, body = data[:8], data[8:]
    kind = USER_COMMENT_CODES.get(code)
    if kind == "utf-16":
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return body.decode("utf-16", "replace").rstrip("\0")
        return body.decode("utf-16-le" if order == "<" else "utf-16-be", "replace").rstrip("\0")
    return decode_bytes(body).rstrip(" ")  # cameras pad ASCII comments with spaces


def user_comment(text: str, old: bytes, order: str) -> bytes:
    """A UserComment value holding `text`, in the old value's code where it can hold it."""
    if old[:8] == b"ASCII\0\0\0" and text.isascii():
        return old[:8] + text.encode("ascii")
    return b"UNICODE\0" + text.encode("utf-16-le" if order == "<" else "utf-16-be")


@dataclass(frozen=True)
class Fields:
    """Every description-like field of a photo, decoded; None where absent."""

    exif: str | None = None  # EXIF ImageDescription
    xmp: str | None = None  # XMP dc:description, the language chosen by xmp_packet.choose
    iptc: str | None = None  # IPTC Caption-Abstract
    iptc_present: bool = False
    iptc_in_sync: bool = True  # the stored IPTC digest matches the IPTC (or none is stored)
    user_comment: str | None = None  # EXIF UserComment
    xmp_user_comment: str | None = None  # XMP exif:UserComment
    xp_comment: str | None = None
    xp_subject: str | None = None
    xp_title: str | None = None
    digest: str | None = None  # visioncap:DescriptionDigest
    iptc_kept: str | None = None  # visioncap:IptcKept: the IPTC caption a write had to leave alone
    keywords: tuple[str, ...] = ()  # XMP dc:subject, then IPTC Keywords not among them
    title: str | None = None  # XMP dc:title


def fields(blocks: Blocks) -> Fields:
    exif = blocks.exif
    text: dict[str, str | None] = {}  # the text fields found, by Fields' name
    keywords: tuple[str, ...] = ()
    iptc_present, iptc_in_sync = False, True
    if exif is not None:
        entry = exif.value("IFD0", IMAGE_DESCRIPTION)
        text["exif"] = decode_bytes(entry.value) if entry else None
        comment = exif.value("IFD0/Exif", USER_COMMENT)
        text["user_comment"] = decode_user_comment(comment.value, exif.order) if comment else None
        for key, tag in (("xp_comment", XP_COMMENT), ("xp_subject", XP_SUBJECT), ("xp_title", XP_TITLE)):
            entry = exif.value("IFD0", tag)
            text[key] = decode_ucs2(entry.value) if entry else None
    if blocks.xmp is not None:
        text["xmp"] = xmp_packet.choose(xmp_packet.lang_alt(blocks.xmp, xmp_packet.DC, "description"))
        text["xmp_user_comment"] = xmp_packet.choose(xmp_packet.lang_alt(blocks.xmp, xmp_packet.EXIF, "UserComment"))
        text["digest"] = xmp_packet.simple(blocks.xmp, xmp_packet.VISIONCAP, "DescriptionDigest")
        text["iptc_kept"] = xmp_packet.simple(blocks.xmp, xmp_packet.VISIONCAP, "IptcKept")
        keywords = tuple(xmp_packet.bag(blocks.xmp, xmp_packet.DC, "subject") or ())
        text["title"] = xmp_packet.choose(xmp_packet.lang_alt(blocks.xmp, xmp_packet.DC, "title"))
    if blocks.iptc is not None:
        text["iptc"] = iptc.caption(blocks.iptc)
        iptc_present = bool(blocks.iptc)
        iptc_in_sync = iptc.in_sync(blocks.resources or [])
        keywords = (*keywords, *(w for w in dict.fromkeys(iptc.keywords(blocks.iptc)) if w not in keywords))
    return Fields(**text, iptc_present=iptc_present, iptc_in_sync=iptc_in_sync, keywords=keywords)


def tiff_is_raw(blocks: Blocks) -> bool:
    """A TIFF-structured camera RAW (DNG) rather than a TIFF image."""
    return blocks.format == "tiff" and blocks.exif is not None and blocks.exif.value("IFD0", DNG_VERSION) is not None


# tags that give the position and length of data elsewhere in the block (strips, tiles, the
# thumbnail), and what to call it
DATA_POINTERS = ((0x0111, 0x0117, "strips"), (0x0144, 0x0145, "tiles"), (0x0201, 0x0202, "thumbnail"))


def data_ranges(tiff: Tiff) -> list[tuple[str, str, int, int]]:
    """(ifd path, what, offset, length) of every strip, tile and thumbnail the IFDs point to."""
    out: list[tuple[str, str, int, int]] = []
    for ifd in tiff.ifds.values():
        for offsets_tag, counts_tag, what in DATA_POINTERS:
            offsets, counts = ifd.get(offsets_tag), ifd.get(counts_tag)
            if offsets is None or counts is None:
                continue
            out.extend((ifd.path, what, o, n) for o, n in zip(_numbers(offsets, tiff.order), _numbers(counts, tiff.order)))
    return out


def strip_ranges(tiff: Tiff) -> list[tuple[int, int]]:
    """(offset, length) of every strip and tile of every IFD: where the image data is."""
    return [(o, n) for _, what, o, n in data_ranges(tiff) if what != "thumbnail"]


def _numbers(entry, order: str) -> tuple[int, ...]:
    fmt = {3: "H", 4: "I", 16: "Q"}.get(entry.type, "I")
    return struct.unpack(f"{order}{entry.count}{fmt}", entry.value)


def suffix_of(path: str | Path) -> str:
    return Path(path).suffix.lower()
