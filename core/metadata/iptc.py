"""IPTC IIM records and the Photoshop image resources that carry them, read and edited dataset by
dataset so that every other dataset keeps its exact bytes.

IIM: a run of datasets `1C rr nn LLLL value` (a length with its high bit set says how many bytes
hold the real length). Text is in the record's character set: 1:90 CodedCharacterSet declares it
(`ESC % G` is UTF-8); without a declaration readers such as exiftool and Photoshop take Latin-1.
The caption (2:120 Caption-Abstract) is written in the record's own character set or not at all:
declaring UTF-8 over Latin-1 text would garble every other value (City, By-line, Keywords).

Photoshop image resources (a JPEG's APP13 "Photoshop 3.0", TIFF tag 34377): `8BIM`, an id, a
padded Pascal name, a size and padded data. 0x0404 holds the IIM block; 0x0425 the MD5 digest of
it, by which Metadata Working Group readers tell whether IPTC changed since XMP was written: it
is recomputed whenever VisionCap writes the caption into both.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

CAPTION = (2, 120)
KEYWORD = (2, 25)
KEYWORD_LIMIT = 64  # bytes: the longest Keywords dataset IIM allows
CHARSET = (1, 90)
LIMIT = 2000  # bytes: the longest Caption-Abstract IIM allows
UTF8_ESCAPE = b"\x1b%G"
LATIN1_ESCAPES = (b"\x1b.A", b"\x1b-A")
IRB_IPTC, IRB_DIGEST = 0x0404, 0x0425
IRB_SIGNATURES = (b"8BIM", b"PHUT", b"AgHg", b"DCSR")
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"


class IptcError(ValueError):
    """IPTC (or the resources holding it) that cannot be read safely; says where."""


# ---- IIM --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    record: int
    number: int
    value: bytes
    raw: bytes  # the dataset's bytes as stored (header included)


def parse_iim(data: bytes) -> tuple[list[Dataset], bytes]:
    """(datasets, trailing padding). Raises IptcError for anything but datasets then NULs."""
    datasets: list[Dataset] = []
    at = 0
    while at < len(data):
        if data[at] != 0x1C:
            if data[at:].strip(b"\0"):
                raise IptcError(f"byte {at} of the IPTC block is not a dataset (0x{data[at]:02X})")
            return datasets, data[at:]
        if at + 5 > len(data):
            raise IptcError("the IPTC block ends inside a dataset header")
        record, number, length = data[at + 1], data[at + 2], struct.unpack_from(">H", data, at + 3)[0]
        start = at + 5
        if length & 0x8000:  # extended dataset: the next (length & 0x7FFF) bytes hold the length
            size = length & 0x7FFF
            if not 1 <= size <= 4 or start + size > len(data):
                raise IptcError(f"dataset {record}:{number} has a bad extended length")
            length = int.from_bytes(data[start : start + size], "big")
            start += size
        end = start + length
        if end > len(data):
            raise IptcError(f"dataset {record}:{number} runs past the end of the IPTC block")
        datasets.append(Dataset(record, number, data[start:end], data[at:end]))
        at = end
    return datasets, b""


def dataset_bytes(record: int, number: int, value: bytes) -> bytes:
    if len(value) < 0x8000:
        return bytes([0x1C, record, number]) + struct.pack(">H", len(value)) + value
    return bytes([0x1C, record, number]) + struct.pack(">HI", 0x8004, len(value)) + value


def declared_charset(datasets: list[Dataset]) -> str | None:
    """"utf-8", "latin-1", another declaration as its escape's repr, or None when undeclared."""
    value = next((d.value for d in datasets if (d.record, d.number) == CHARSET), None)
    if value is None:
        return None
    if value == UTF8_ESCAPE:
        return "utf-8"
    if value in LATIN1_ESCAPES:
        return "latin-1"
    return repr(value)


def decode(value: bytes, charset: str | None) -> str:
    """A text dataset's value: in the declared set, else UTF-8 when it is valid UTF-8, else
    Windows-1252 (what undeclared Latin-1 records hold in practice). Trailing NULs dropped."""
    value = value.rstrip(b"\0")
    if charset == "latin-1":
        return value.decode("latin-1")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", "replace")


def caption(datasets: list[Dataset]) -> str | None:
    value = next((d.value for d in datasets if (d.record, d.number) == CAPTION), None)
    return None if value is None else decode(value, declared_charset(datasets))


def _text_values(datasets: list[Dataset]) -> list[bytes]:
    # record 2 except the binary ones (record version, preview data)
    return [d.value for d in datasets if d.record == 2 and d.number not in (0, 200, 201, 202)]


def encoding_for(datasets: list[Dataset], text: str) -> tuple[str | None, bool, str]:
    """How to write `text` into this record: (Python codec, or None when it cannot be written;
    whether to declare UTF-8 first; why not, when it cannot)."""
    charset = declared_charset(datasets)
    if charset == "utf-8":
        return "utf-8", False, ""
    if text.isascii():
        return "ascii", False, ""
    if charset == "latin-1":
        return (None, False, "its IPTC is declared Latin-1, which cannot hold this caption") \
            if not _encodable(text, "latin-1") else ("latin-1", False, "")
    if charset is not None:
        return None, False, f"its IPTC declares a character set ({charset}) VisionCap does not write"
    other = [v for v in _text_values(datasets) if not v.isascii()]
    if not other:
        return "utf-8", True, ""  # ASCII reads the same in UTF-8: declaring it garbles nothing
    if all(_is_utf8(v) for v in other):
        return "utf-8", False, ""  # undeclared, but what the record holds is UTF-8 already
    if not _encodable(text, "cp1252"):
        return None, False, "its IPTC is in Latin-1 (undeclared), which cannot hold this caption"
    return "cp1252", False, ""


def _encodable(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def truncate(text: str, codec: str, limit: int = LIMIT) -> bytes:
    """`text` encoded, cut at `limit` bytes on a character boundary."""
    out = b""
    for char in text:
        piece = char.encode(codec)
        if len(out) + len(piece) > limit:
            break
        out += piece
    return out


def with_caption(data: bytes, text: str) -> tuple[bytes | None, str]:
    """The IIM block with 2:120 set to `text` in the record's character set (every other
    dataset kept byte for byte), or (None, why) when the record cannot hold it."""
    datasets, padding = parse_iim(data)
    codec, declare, why = encoding_for(datasets, text)
    if codec is None:
        return None, why
    value = truncate(text, codec)
    new = dataset_bytes(*CAPTION, value)
    out, placed = [], False
    for d in datasets:
        if (d.record, d.number) == CAPTION:
            if not placed:
                out.append(new)
                placed = True
            continue  # a repeated Caption-Abstract collapses into the one written
        if not placed and (d.record, d.number) > CAPTION:
            out.append(new)
            placed = True
        out.append(d.raw)
    if not placed:
        out.append(new)
    if declare:
        first_after = next((i for i, d in enumerate(datasets) if (d.record, d.number) > CHARSET), len(datasets))
        out.insert(first_after, dataset_bytes(*CHARSET, UTF8_ESCAPE))
    return b"".join(out) + padding, ""


def keywords(datasets: list[Dataset]) -> list[str]:
    charset = declared_charset(datasets)
    return [decode(d.value, charset) for d in datasets if (d.record, d.number) == KEYWORD]


def with_keywords(data: bytes, words: list[str]) -> tuple[bytes, list[str], list[str]]:
    """The IIM block with a Keywords dataset (2:25) added for each of `words` it lacks, in the
    record's character set, after the ones there; (new block, added, left out with why)."""
    datasets, padding = parse_iim(data)
    have = set(keywords(datasets))
    added, left, new = [], [], []
    for word in words:
        if word in have or word in added:
            continue
        codec, declare, why = encoding_for(datasets, word)
        value = word.encode(codec) if codec is not None and not declare else None
        if value is None:
            left.append(f"{word!r}: {why or 'would need the record declared UTF-8'}")
        elif len(value) > KEYWORD_LIMIT:
            left.append(f"{word!r}: longer than IPTC's {KEYWORD_LIMIT} bytes")
        else:
            added.append(word)
            new.append(dataset_bytes(*KEYWORD, value))
    if not new:
        return data, added, left
    at = max((i + 1 for i, d in enumerate(datasets) if (d.record, d.number) <= KEYWORD), default=len(datasets))
    raws = [d.raw for d in datasets]
    return b"".join(raws[:at] + new + raws[at:]) + padding, added, left


# ---- Photoshop image resources ----------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    signature: bytes
    id: int
    name: bytes  # the padded Pascal string as stored
    data: bytes
    raw: bytes


def parse_resources(data: bytes) -> list[Resource]:
    resources, at = [], 0
    while at < len(data):
        if data[at:].strip(b"\0") == b"":
            break
        signature = data[at : at + 4]
        if signature not in IRB_SIGNATURES or at + 7 > len(data):
            raise IptcError(f"byte {at} of the Photoshop resources is not a resource")
        (number,) = struct.unpack_from(">H", data, at + 4)
        name_length = data[at + 6]
        name_end = at + 6 + ((name_length + 2) & ~1)
        if name_end + 4 > len(data):
            raise IptcError(f"Photoshop resource 0x{number:04X} runs past the end")
        (size,) = struct.unpack_from(">I", data, name_end)
        end = name_end + 4 + size
        if end > len(data):
            raise IptcError(f"Photoshop resource 0x{number:04X} runs past the end")
        padded = end + (size & 1)
        resources.append(Resource(signature, number, data[at + 6 : name_end], data[name_end + 4 : end],
                                  data[at : min(padded, len(data))]))
        at = padded
    return resources


def resource_bytes(old: Resource, data: bytes) -> bytes:
    return old.signature + struct.pack(">H", old.id) + old.name + struct.pack(">I", len(data)) + data \
        + (b"\0" if len(data) & 1 else b"")


def digest(iim: bytes) -> bytes:
    return hashlib.md5(iim).digest()


def in_sync(resources: list[Resource]) -> bool:
    """False only when a stored IPTC digest no longer matches the IPTC block."""
    stored = next((r.data for r in resources if r.id == IRB_DIGEST), None)
    block = next((r.data for r in resources if r.id == IRB_IPTC), None)
    return stored is None or block is None or digest(block) == stored


def with_iptc(resources: list[Resource], iim: bytes) -> bytes:
    """The resources with the IPTC block replaced and an existing digest recomputed; every other
    resource byte for byte."""
    out = []
    for r in resources:
        if r.id == IRB_IPTC:
            out.append(resource_bytes(r, iim))
        elif r.id == IRB_DIGEST:
            out.append(resource_bytes(r, digest(iim)))
        else:
            out.append(r.raw)
    return b"".join(out)
