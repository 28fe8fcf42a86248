"""The Multi-Picture Format index (APP2 "MPF") of a JPEG that holds further pictures after its
own: MPO stereo pairs, phones' depth maps and gain maps, cameras' large previews.

Its entries give each picture's size and offset (from the MPF's own TIFF header), so when the
metadata in front of the first picture grows, the first picture's size and the others' offsets
must move with it. `updated` moves them; `problems` checks, picture by picture, that each one is
where the index says with the same bytes as before.
"""

from __future__ import annotations

import struct

from core.metadata.containers import JPEG_MPF, Container, Part, jpeg_segment
from core.metadata.tiff_ifd import Tiff, TiffError

MP_ENTRY = 0xB002  # 16 bytes per picture: attributes, size, offset, two dependent pictures


def entries(part: Part) -> tuple[str, int, int] | None:
    """(byte order, offset of the entries in the payload, number of pictures) of an MPF
    segment, or None when it holds no MP entries. Raises TiffError for one it cannot read."""
    header = len(JPEG_MPF)
    try:
        tiff = Tiff(part.payload[header:])
    except TiffError as exc:
        raise TiffError(f"its multi-picture (MPF) index cannot be read ({exc})") from exc
    entry = tiff.value("IFD0", MP_ENTRY)
    if entry is None:
        return None
    if entry.offset is None or len(entry.value) % 16:
        raise TiffError("its MP entries cannot be read")
    return tiff.order, header + entry.offset, len(entry.value) // 16


def updated(old: Container, new: Container) -> bytes:
    """The joined file, with the MPF's size of the first picture and offsets of the others
    moved by what the metadata grew: the pictures themselves are in the tail, unchanged."""
    data = new.join()
    found = new.find("mpf")
    if not found:
        return data
    part = new.parts[found[0]]
    located = entries(part)
    if located is None:
        return data
    order, at, count = located
    growth = len(data) - len(old.join())
    shift = header_position(new) - header_position(old)
    payload = bytearray(part.payload)
    for i in range(count):
        size_at, offset_at = at + 16 * i + 4, at + 16 * i + 8
        if i == 0:
            (size,) = struct.unpack_from(order + "I", payload, size_at)
            struct.pack_into(order + "I", payload, size_at, size + growth)
        else:
            (offset,) = struct.unpack_from(order + "I", payload, offset_at)
            if offset:
                struct.pack_into(order + "I", payload, offset_at, offset + growth - shift)
    new.parts[found[0]] = jpeg_segment(0xE2, bytes(payload))
    return new.join()


def header_position(container: Container) -> int:
    """Where the MPF's own TIFF header starts in the file: MP offsets count from there."""
    at = len(container.head)
    for part in container.parts:
        if part.kind == "mpf":
            return at + len(part.raw) - len(part.payload) + len(JPEG_MPF)
        at += len(part.raw)
    return 0


def _fields(part: Part, located: tuple[str, int, int]) -> list[tuple[int, int]]:
    """(size, offset) of each picture an MPF segment lists."""
    order, at, count = located
    return [struct.unpack_from(order + "II", part.payload, at + 16 * i + 4) for i in range(count)]


def problems(old_data: bytes, new_data: bytes, old: Container, new: Container) -> list[str]:
    """Every picture the MPF lists must be where it says, with the same bytes as before."""
    found_old, found_new = old.find("mpf"), new.find("mpf")
    if not found_old:
        return [] if not found_new else ["an MPF segment would be added"]
    part_old, part_new = old.parts[found_old[0]], new.parts[found_new[0]]
    try:
        a, b = entries(part_old), entries(part_new)
    except TiffError as exc:
        return [f"the MPF segment cannot be read ({exc})"]
    if a is None or b is None:
        return [] if a == b and part_old.raw == part_new.raw else ["the MPF segment would change"]
    if _masked(part_old.payload, a) != _masked(part_new.payload, b):
        return ["the MPF segment would change beyond its sizes and offsets"]
    base_old, base_new = header_position(old), header_position(new)
    pictures = zip(_fields(part_old, a), _fields(part_new, b))
    (first_old, _), (first_new, _) = next(pictures)
    if first_new != first_old + len(new_data) - len(old_data):
        return ["the MPF would give the first picture a wrong size"]
    for number, ((size, offset_old), (size_new, offset_new)) in enumerate(pictures, 2):
        if size_new != size or old_data[base_old + offset_old : base_old + offset_old + size] \
                != new_data[base_new + offset_new : base_new + offset_new + size]:
            return [f"the MPF would lose picture {number} of the file"]
    return []


def _masked(payload: bytes, located: tuple[str, int, int]) -> bytes:
    _, at, count = located
    out = bytearray(payload)
    for i in range(count):
        out[at + 16 * i + 4 : at + 16 * i + 12] = b"\0" * 8
    return bytes(out)
