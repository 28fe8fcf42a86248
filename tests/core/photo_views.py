"""Independent views of photo files, for the "photos are sacred" tests (issue 21).

A writer is checked against readers that share nothing with it: Pillow (EXIF values, IPTC,
Photoshop resources, decoded pixels), the standard library's ElementTree (XMP), and a few lines
of struct walking the file by hand (JPEG segments, IIM datasets, where a MakerNote lies, RIFF and
PNG chunks). Nothing here imports `core`: a bug shared by VisionCap's own parsers and its
checks would otherwise pass unseen.
"""

from __future__ import annotations

import collections
import io
import struct
import xml.etree.ElementTree as ET

from PIL import ExifTags, Image, IptcImagePlugin, TiffImagePlugin

import tests.hostile_files as H

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XMP_ID = H.XMP_ID
IFDS = {"Exif": ExifTags.IFD.Exif, "GPS": ExifTags.IFD.GPSInfo, "Interop": ExifTags.IFD.Interop,
        "IFD1": ExifTags.IFD.IFD1}
POINTER_TAGS = (H.EXIF_IFD, H.GPS_IFD, H.INTEROP_IFD)  # offsets of other IFDs: compared as IFDs
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


def q(name: str) -> str:
    """"dc:description" -> "{namespace}description" (the namespaces the builders use)."""
    prefix, local = name.split(":")
    namespaces = {**H.XMP_NS, "visioncap": "http://ns.visioncap.org/xmp/1.0/"}
    return f"{{{namespaces[prefix]}}}{local}"


# ---- JPEG -------------------------------------------------------------------------------------


def segments(data: bytes) -> list[tuple[int, bytes]]:
    return H.split_segments(data)[0]


def scan(data: bytes) -> bytes:
    """Everything from the first SOS on: the compressed picture (and an MPO's later pictures)."""
    return H.split_segments(data)[1]


def is_exif(segment: tuple[int, bytes]) -> bool:
    return segment[0] == 0xE1 and segment[1].startswith(b"Exif\0")


def is_xmp(segment: tuple[int, bytes]) -> bool:
    return segment[0] == 0xE1 and segment[1].startswith(XMP_ID)


def jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF block of the (one) APP1 Exif segment."""
    found = [payload[6:] for marker, payload in segments(data) if is_exif((marker, payload))]
    assert len(found) <= 1, "more than one APP1 Exif segment"
    return found[0] if found else None


def jpeg_xmp(data: bytes) -> bytes | None:
    found = [payload[len(XMP_ID):] for marker, payload in segments(data) if is_xmp((marker, payload))]
    assert len(found) <= 1, "more than one main XMP segment"
    return found[0] if found else None


def others(data: bytes, *, keep=lambda s: not (is_exif(s) or is_xmp(s))) -> list[tuple[int, bytes]]:
    """The segments a description write must leave alone, in file order."""
    return [s for s in segments(data) if keep(s)]


# ---- EXIF -------------------------------------------------------------------------------------


def exif_values(block: bytes) -> dict[tuple[str, int], object]:
    """Pillow's value of every EXIF entry, by (IFD name, tag); the pointers to other IFDs are
    left out (those IFDs are compared entry by entry instead)."""
    exif = Image.Exif()
    exif.load(block)
    values = {("IFD0", tag): value for tag, value in exif.items() if tag not in POINTER_TAGS}
    for name, ifd in IFDS.items():
        values.update(((name, tag), value) for tag, value in exif.get_ifd(ifd).items() if tag not in POINTER_TAGS)
    return values


def text_of(value: str | bytes) -> str:
    """An ASCII entry as Pillow gives it (decoded as Latin-1) -> the UTF-8 text stored."""
    raw = value if isinstance(value, bytes) else value.encode("latin-1")
    return raw.rstrip(b"\0").decode("utf-8")


def changed_entries(before: dict, after: dict) -> set:
    """The keys whose value differs, or that one side lacks."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def _ifd_entries(block: bytes, offset: int) -> dict[int, tuple[int, int, bytes]]:
    """tag -> (type, count, 4-byte value field) of the IFD at `offset`, read by hand."""
    order = "<" if block[:2] == b"II" else ">"
    (count,) = struct.unpack_from(order + "H", block, offset)
    entries = {}
    for i in range(count):
        tag, kind, n = struct.unpack_from(order + "HHI", block, offset + 2 + 12 * i)
        entries[tag] = (kind, n, block[offset + 10 + 12 * i:offset + 14 + 12 * i])
    return entries


def entry(block: bytes, tag: int, in_exif_ifd: bool = True) -> tuple[int, int, bytes]:
    """(type, offset, value bytes) of an out-of-line entry of IFD0 or its Exif IFD, found by
    hand: for a MakerNote whose offsets count from the TIFF header, the offset must not move."""
    order = "<" if block[:2] == b"II" else ">"
    ifd = _ifd_entries(block, struct.unpack_from(order + "I", block, 4)[0])
    if in_exif_ifd:
        ifd = _ifd_entries(block, struct.unpack(order + "I", ifd[H.EXIF_IFD][2])[0])
    kind, count, field = ifd[tag]
    offset = struct.unpack(order + "I", field)[0]
    return kind, offset, block[offset:offset + count * TYPE_SIZES[kind]]


def value_location(block: bytes, tag: int, in_exif_ifd: bool = True) -> tuple[int, bytes]:
    """(offset, bytes) of an out-of-line value (see `entry`)."""
    return entry(block, tag, in_exif_ifd)[1:]


def ifd_at(data: bytes, offset: int, byte_order: str) -> dict:
    """Pillow's reading of the IFD at `offset` of `data`, its value offsets counted from 0."""
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=byte_order.encode())
    stream = io.BytesIO(data)
    stream.seek(offset)
    ifd.load(stream)
    return dict(ifd)


# ---- IPTC and Photoshop resources -------------------------------------------------------------


def iim_datasets(iim: bytes) -> list[tuple[int, int, bytes]]:
    """(record, dataset, value) of each IIM dataset, by hand; trailing NUL padding ignored."""
    out, at = [], 0
    while at < len(iim) and iim[at] == 0x1C:
        record, number, length = iim[at + 1], iim[at + 2], struct.unpack_from(">H", iim, at + 3)[0]
        start = at + 5
        if length & 0x8000:
            size = length & 0x7FFF
            length, start = int.from_bytes(iim[start:start + size], "big"), start + size
        out.append((record, number, iim[start:start + length]))
        at = start + length
    assert not iim[at:].strip(b"\0"), f"IIM has non-dataset bytes at {at}"
    return out


def without(datasets, *keys: tuple[int, int]) -> list[tuple[int, int, bytes]]:
    return [d for d in datasets if (d[0], d[1]) not in keys]


def value(datasets, record: int, number: int) -> bytes | None:
    return next((v for r, n, v in datasets if (r, n) == (record, number)), None)


def photoshop(data: bytes) -> dict[int, bytes]:
    """Pillow's Photoshop image resources of a JPEG (resource id -> data)."""
    return dict(open_image(data).info.get("photoshop", {}))


def pillow_iptc(data: bytes) -> dict:
    """Pillow's IPTC of a JPEG or TIFF: {(record, dataset): bytes or [bytes, ...]}."""
    return dict(IptcImagePlugin.getiptcinfo(open_image(data)) or {})


# ---- XMP --------------------------------------------------------------------------------------


def xmp_root(packet: bytes) -> ET.Element:
    return ET.fromstring(packet.rstrip(b"\0 \t\r\n"))


def _leaves(element: ET.Element, path: tuple, out: list) -> None:
    lang = element.get(XML_LANG)
    if lang is not None:
        path = (*path, f"lang={lang.lower()}")
    resource = element.get(f"{RDF}resource")
    if resource is not None:
        out.append((path, "uri:" + resource))
        return
    fields = {k: v for k, v in element.attrib.items() if not k.startswith(RDF) and k != XML_LANG}
    for name, text in fields.items():  # struct fields in shorthand, qualifiers
        out.append(((*path, name), text))
    children = list(element)
    if not children and not fields:
        out.append((path, element.text or ""))
    for child in children:
        if child.tag in (f"{RDF}Bag", f"{RDF}Seq", f"{RDF}Alt"):
            for index, item in enumerate(child):
                key = child.tag[len(RDF):] + ("" if child.tag == f"{RDF}Alt" and item.get(XML_LANG) else f"[{index}]")
                _leaves(item, (*path, key), out)
        elif child.tag == f"{RDF}Description":
            _leaves(child, path, out)
        else:
            _leaves(child, (*path, child.tag), out)


def _top_level(packet: bytes) -> list[ET.Element]:
    return [d for rdf in xmp_root(packet).iter(f"{RDF}RDF") for d in rdf if d.tag == f"{RDF}Description"]


def xmp_leaves(packet: bytes) -> collections.Counter:
    """Every value of the packet as ((property path...), value), counted: a property written
    twice counts twice. Paths use namespace URIs, so a new prefix is no change."""
    out: list = []
    for description in _top_level(packet):
        out.append((("rdf:about",), description.get(f"{RDF}about")))
        _leaves(description, (), out)
    return collections.Counter(out)


def xmp_lost_and_gained(before: bytes, after: bytes, changing=("dc:description", "visioncap:DescriptionDigest")):
    """(values lost, values gained) between two packets, less the properties in `changing`."""
    skip = {q(name) for name in changing}
    old = collections.Counter({k: n for k, n in xmp_leaves(before).items() if k[0][0] not in skip})
    new = collections.Counter({k: n for k, n in xmp_leaves(after).items() if k[0][0] not in skip})
    return old - new, new - old


def lang_alt(packet: bytes, name: str) -> dict[str, str] | None:
    """language -> text of a language alternative property, None when absent."""
    for description in _top_level(packet):
        prop = description.find(q(name))
        if prop is not None:
            return {li.get(XML_LANG): li.text or "" for li in prop.iter(f"{RDF}li")}
    return None


def simple(packet: bytes, name: str) -> str | None:
    for description in _top_level(packet):
        if q(name) in description.attrib:
            return description.get(q(name))
        prop = description.find(q(name))
        if prop is not None:
            return prop.text or ""
    return None


# ---- whole files ------------------------------------------------------------------------------


def open_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def pixels(data: bytes, frame: int = 0) -> tuple:
    """(mode, size, decoded bytes) of one frame."""
    image = open_image(data)
    image.seek(frame)
    image.load()
    return image.mode, image.size, image.tobytes()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    return H.png_chunks(data)


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert struct.unpack_from("<L", data, 4)[0] == len(data) - 8, "the RIFF size is wrong"
    return H.webp_chunks(data)


def photoshop_blocks(data: bytes) -> dict[int, bytes]:
    """Photoshop image resources (a TIFF's tag 34377) by hand: resource id -> data."""
    out, at = {}, 0
    while at + 12 <= len(data) and data[at:at + 4] == b"8BIM":
        rid, name_length = struct.unpack_from(">HB", data, at + 4)
        at += 6 + ((name_length + 2) & ~1)
        (size,) = struct.unpack_from(">L", data, at)
        out[rid] = data[at + 4:at + 4 + size]
        at += 4 + size + (size & 1)
    assert not data[at:].strip(b"\0"), f"Photoshop resources have stray bytes at {at}"
    return out
