"""IPTC IIM datasets and Photoshop image resource blocks (8BIM), as in a JPEG APP13, a TIFF's
IPTCNAA/Photoshop tags and ImageMagick's PNG profiles."""

from __future__ import annotations

import hashlib
import struct

ESC = b"\x1b"
CHARSET_LATIN1, CHARSET_UTF8 = ESC + b".A", ESC + b"%G"  # 1:90 CodedCharacterSet values
IPTC_RESOURCE, IPTC_DIGEST, RESOLUTION_INFO, COPYRIGHT_FLAG = 0x0404, 0x0425, 0x03ED, 0x040A


def iim_dataset(record: int, number: int, data: bytes) -> bytes:
    """One IIM dataset: 0x1C, record, dataset, length; over 32767 bytes the length field has
    its high bit set and holds the length of a 4-byte length that follows (IIM 4.2, 1.5.2)."""
    if len(data) < 0x8000:
        return struct.pack(">BBBH", 0x1C, record, number, len(data)) + data
    return struct.pack(">BBBHL", 0x1C, record, number, 0x8004, len(data)) + data


def iim(datasets, encoding: str = "utf-8") -> bytes:
    """IIM from (record, dataset, value) triples in the given order; str values are encoded
    with `encoding`, bytes are written as they are; a dataset may repeat (Keywords)."""
    return b"".join(iim_dataset(record, number, value.encode(encoding) if isinstance(value, str)
                            else value) for record, number, value in datasets)


def iptc_datasets(charset: str = "latin-1", time_created: str = "101530",
                  caption: str = "Ein Café in Zürich", long_caption: int = 0) -> list:
    """Typical press/Photo Mechanic datasets: envelope 1:00/1:90, RecordVersion, City, By-line,
    Keywords x2, DateCreated, TimeCreated (with or without zone), DigitalCreationDate/Time,
    Caption-Abstract. charset: "latin-1" (no 1:90 declared, as old Photoshop and many agencies
    write), "latin-1-declared" (1:90 = ESC . A) or "utf-8" (1:90 = ESC % G). long_caption > 0
    pads the caption to that many characters, past 32767 bytes for an extended-length dataset."""
    if long_caption:
        caption = (caption + " ") * (long_caption // (len(caption) + 1) + 1)
        caption = caption[:long_caption]
    envelope = [(1, 0, b"\x00\x04")]
    if charset != "latin-1":
        envelope.append((1, 90, CHARSET_UTF8 if charset == "utf-8" else CHARSET_LATIN1))
    return [*envelope, (2, 0, b"\x00\x04"), (2, 5, "Hostile object"), (2, 25, "Café"),
            (2, 25, "Straße"), (2, 55, "20240714"), (2, 60, time_created), (2, 62, "20240714"),
            (2, 63, "101531+0200"), (2, 80, "José Müller"), (2, 90, "Zürich"),
            (2, 101, "Schweiz"), (2, 120, caption)]


def iptc_iim(charset: str = "latin-1", **options) -> bytes:
    """`iptc_datasets(charset, **options)` encoded in that charset (see there for who writes it)."""
    return iim(iptc_datasets(charset, **options), "utf-8" if charset == "utf-8" else "latin-1")


def pascal_string(name: bytes) -> bytes:
    """A Pascal string padded to an even length, as 8BIM resource names are."""
    data = bytes([len(name)]) + name
    return data + b"\0" * (len(data) & 1)


def photoshop_resources(blocks) -> bytes:
    """Photoshop image resources from (id, name bytes, data) triples: "8BIM", id, padded Pascal
    name, length, data padded to even length (Photoshop's File Info / APP13 layout)."""
    return b"".join(b"8BIM" + struct.pack(">H", rid) + pascal_string(name) + struct.pack(">L", len(data))
                    + data + b"\0" * (len(data) & 1) for rid, name, data in blocks)


def resolution_info(dpi: int = 300) -> bytes:
    """Resource 0x03ED: hRes 16.16, unit (1 = ppi), width unit, vRes, unit, height unit."""
    return struct.pack(">LHHLHH", dpi << 16, 1, 2, dpi << 16, 1, 2)


def photoshop_irb(iptc: bytes | None = None, digest: str | None = "match",
                  extra=((COPYRIGHT_FLAG, b"cr", b"\x01"),)) -> bytes:
    """Photoshop's resource block: ResolutionInfo, IPTC (0x0404), the IPTC digest (0x0425) that
    is the MD5 of the 0x0404 data ("match"), of older data ("stale": another program edited the
    IPTC without updating it, as old digiKam/Picasa did) or absent (None), then `extra`."""
    blocks = [(RESOLUTION_INFO, b"", resolution_info())]
    if iptc is not None:
        blocks.append((IPTC_RESOURCE, b"", iptc))
        if digest is not None:
            digested = iptc if digest == "match" else iptc + b"\x1c\x02\x78\x00\x05stale"
            blocks.append((IPTC_DIGEST, b"", hashlib.md5(digested).digest()))
    return photoshop_resources([*blocks, *extra])
