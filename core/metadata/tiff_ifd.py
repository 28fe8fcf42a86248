"""TIFF structures (a JPEG's EXIF block, PNG eXIf, WebP EXIF, a TIFF file) read entry by entry
and edited without moving a single byte that was already there.

Reading (`Tiff`): the header, then IFD0 and every IFD reachable from it (Exif, GPS, Interop,
SubIFDs, IFD1 and later pages), each entry with its raw value bytes. Anything that points outside
the data, loops, or is not a TIFF header raises TiffError: such a block is left alone.

Editing (`edit`): the IFDs that change are written anew at the end of the data, their unchanged
entries copied verbatim (so they keep pointing at the same values), and only the pointer to
each rewritten IFD changes. Everything else stays at its offset, byte for byte: maker notes whose
contents hold absolute offsets (Canon, Sony, Panasonic...), thumbnails, strips and tiles stay
valid because nothing moved. The IFDs a previous edit appended are reclaimed when nothing but
them lies at the end, so repeated edits do not grow the block without end.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from dataclasses import dataclass

# type -> bytes per value
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
BYTE, ASCII, SHORT, LONG, UNDEFINED = 1, 2, 3, 4, 7
# tags whose values are offsets of further IFDs, and the name of the IFD they lead to
POINTERS = {0x8769: "Exif", 0x8825: "GPS", 0xA005: "Interop", 0x014A: "SubIFD"}
MAX_ENTRIES = 4096  # more entries than any real IFD: a block that claims more is corrupt
MAX_IFDS = 256


class TiffError(ValueError):
    """The block is not a TIFF structure that can be read safely; the message says where."""


@dataclass(frozen=True)
class Entry:
    tag: int
    type: int
    count: int
    field: bytes  # the 4-byte value/offset field as stored
    value: bytes  # the value bytes, wherever they are
    offset: int | None  # where the value lives when not inline


@dataclass(frozen=True)
class Ifd:
    path: str  # "IFD0", "IFD0/Exif", "IFD0/Exif/Interop", "IFD1", "IFD0/SubIFD0", ...
    offset: int
    entries: tuple[Entry, ...]
    next: int  # offset of the next IFD in the chain (0: none)

    def get(self, tag: int) -> Entry | None:
        return next((e for e in self.entries if e.tag == tag), None)

    @property
    def size(self) -> int:
        return 2 + 12 * len(self.entries) + 4


def _align(n: int) -> int:
    return n + (n & 1)


class Tiff:
    """A parsed TIFF structure: `ifds` by path, in the order they were reached."""

    def __init__(self, data: bytes):
        self.data = bytes(data)
        if len(data) < 8 or data[:2] not in (b"II", b"MM"):
            raise TiffError("no TIFF header")
        self.order = "<" if data[:2] == b"II" else ">"
        magic, first = self.unpack("HI", 2)
        if magic == 43:
            raise TiffError("BigTIFF is not supported")
        if magic != 42:
            raise TiffError(f"bad TIFF magic number {magic}")
        self.ifds: dict[str, Ifd] = {}
        self._seen: set[int] = set()
        chain, page = first, 0
        while chain:
            self._read_ifd(f"IFD{page}", chain)
            chain, page = self.ifds[f"IFD{page}"].next, page + 1

    def unpack(self, fmt: str, offset: int) -> tuple:
        size = struct.calcsize(self.order + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise TiffError(f"a structure at offset {offset} runs past the end ({len(self.data)} bytes)")
        return struct.unpack_from(self.order + fmt, self.data, offset)

    def _read_ifd(self, path: str, offset: int) -> None:
        if offset in self._seen or len(self.ifds) >= MAX_IFDS:
            raise TiffError(f"{path} at offset {offset} loops back to an IFD already read")
        self._seen.add(offset)
        (count,) = self.unpack("H", offset)
        if count > MAX_ENTRIES:
            raise TiffError(f"{path} claims {count} entries")
        entries = []
        for i in range(count):
            at = offset + 2 + 12 * i
            tag, kind, n = self.unpack("HHI", at)
            field = self.data[at + 8 : at + 12]
            size = TYPE_SIZES.get(kind, 1) * n
            if kind not in TYPE_SIZES:
                raise TiffError(f"{path} entry 0x{tag:04X} has unknown type {kind}")
            if size <= 4:
                entries.append(Entry(tag, kind, n, field, field[:size], None))
                continue
            (where,) = struct.unpack(self.order + "I", field)
            if where + size > len(self.data):
                raise TiffError(f"{path} entry 0x{tag:04X} points past the end of the block")
            entries.append(Entry(tag, kind, n, field, self.data[where : where + size], where))
        (nxt,) = self.unpack("I", offset + 2 + 12 * count)
        ifd = Ifd(path, offset, tuple(entries), nxt)
        self.ifds[path] = ifd
        for entry in entries:
            name = POINTERS.get(entry.tag)
            if name is None or entry.type not in (LONG, 13, UNDEFINED):
                continue
            offsets = struct.unpack(f"{self.order}{entry.count}I", entry.value) if entry.type != UNDEFINED else ()
            for index, child in enumerate(offsets):
                if child:
                    self._read_ifd(f"{path}/{name}{index if entry.tag == 0x014A else ''}", child)

    def ifd(self, path: str) -> Ifd | None:
        return self.ifds.get(path)

    def value(self, path: str, tag: int) -> Entry | None:
        ifd = self.ifds.get(path)
        return ifd.get(tag) if ifd else None

    def leaves(self) -> dict[tuple[str, int, int], tuple[int, int, bytes]]:
        """(ifd path, tag, occurrence) -> (type, count, value bytes) of every entry, less the
        pointers to other IFDs (their IFDs are leaves of their own) and the chain links."""
        out = {}
        for ifd in self.ifds.values():
            seen: dict[int, int] = {}
            for entry in ifd.entries:
                if entry.tag in POINTERS and entry.type in (LONG, 13):
                    continue  # an offset: the IFD it leads to is compared instead
                occurrence = seen[entry.tag] = seen.get(entry.tag, -1) + 1
                out[(ifd.path, entry.tag, occurrence)] = (entry.type, entry.count, entry.value)
        return out

    def ranges(self, skip: Collection[str] = frozenset(), skip_values: dict[str, set[int]] | None = None) -> list[tuple[int, int]]:
        """Byte ranges the structure references: IFD tables and out-of-line values, less the
        tables in `skip` and the values of the tags in `skip_values[path]`."""
        skip_values = skip_values or {}
        out = []
        for ifd in self.ifds.values():
            if ifd.path not in skip:
                out.append((ifd.offset, ifd.offset + ifd.size))
            for entry in ifd.entries:
                if entry.offset is not None and entry.tag not in skip_values.get(ifd.path, ()):
                    out.append((entry.offset, entry.offset + len(entry.value)))
        return out


Changes = dict[str, dict[int, tuple[int, bytes] | None]]  # ifd path -> tag -> (type, value) | None to remove


Row = tuple[int, int, int, bytes | None, bytes]  # tag, type, count, verbatim field or None, value


def _pack_ifd(order: str, out: bytearray, rows: list[Row], nxt: int) -> int:
    """Append an IFD table and then its out-of-line values to `out`; returns the table's offset.
    A row with a verbatim field keeps it (its value stays where it was)."""
    start = _align(len(out))
    out.extend(b"\0" * (start - len(out) + 2 + 12 * len(rows) + 4))
    struct.pack_into(order + "H", out, start, len(rows))
    for i, (tag, kind, count, field, value) in enumerate(rows):
        if field is None:
            if len(value) <= 4:
                field = value.ljust(4, b"\0")
            else:
                where = _align(len(out))
                out.extend(b"\0" * (where - len(out)))
                out.extend(value)
                field = struct.pack(order + "I", where)
        struct.pack_into(order + "HHI4s", out, start + 2 + 12 * i, tag, kind, count, field)
    struct.pack_into(order + "I", out, start + 2 + 12 * len(rows), nxt)
    return start


def _reclaim_point(tiff: Tiff, rewritten: list[str], changes: Changes) -> int:
    """Where the data may be cut before appending: the start of the tail holding nothing but the
    tables (and values of changed tags) of the IFDs about to be rewritten; else its length."""
    tables = {p: tiff.ifds[p] for p in rewritten if p in tiff.ifds}
    if not tables:
        return len(tiff.data)
    start = min(ifd.offset for ifd in tables.values())
    ours = []
    for path, ifd in tables.items():
        ours.append((ifd.offset, ifd.offset + ifd.size))
        ours.extend((e.offset, e.offset + len(e.value)) for e in ifd.entries
                    if e.offset is not None and e.tag in changes.get(path, {}))
    others = tiff.ranges(skip=set(tables), skip_values={p: set(changes.get(p, {})) for p in tables})
    if any(end > start for _, end in others):
        return len(tiff.data)
    covered = start  # the tail must be exactly our pieces, apart from alignment bytes
    for begin, end in sorted(ours):
        if begin < start or begin > _align(covered):
            return len(tiff.data)
        covered = max(covered, end)
    return start if _align(covered) >= len(tiff.data) else len(tiff.data)


def _refuse_stray_pointers(tiff: Tiff, rewritten: list[str], cut: int) -> None:
    """An IFD that is about to move must be reached only through the pointer that is updated,
    and no pointer may aim where the new IFDs will be written: a GPS or Interop pointer aimed
    at IFD0, or past the end of the block (both seen in broken files), would end up pointing at
    the old copy or into the new one."""
    moving = {tiff.ifds[p].offset: p for p in rewritten if p in tiff.ifds}
    legit = {(path.rsplit("/", 1)[0], 0x8769) for path in rewritten if path.endswith("/Exif")}
    for ifd in tiff.ifds.values():
        for entry in ifd.entries:
            if entry.tag not in POINTERS or (ifd.path, entry.tag) in legit or entry.type not in (3, 4, 13, 7):
                continue
            size = 2 if entry.type == 3 else 4
            values = struct.unpack(f"{tiff.order}{len(entry.value) // size}{'H' if size == 2 else 'I'}", entry.value)
            hit = next((moving.get(v, "the end of the block") for v in values if v in moving or v >= cut), None)
            if hit is not None:
                raise TiffError(f"{ifd.path} entry 0x{entry.tag:04X} points at {hit}, where the edit would write")


def edit(data: bytes, changes: Changes) -> bytes:
    """`data` with the entries in `changes` set or removed, in IFD0 and its Exif IFD (the only
    IFDs captions live in). Only appends (after reclaiming what an earlier edit appended) and
    rewrites the pointers to the IFDs that changed. Raises TiffError for a block it cannot read."""
    tiff = Tiff(data)
    order = tiff.order
    unknown = set(changes) - {"IFD0", "IFD0/Exif"}
    if unknown:
        raise ValueError(f"cannot edit {sorted(unknown)}")
    if "IFD0" not in tiff.ifds:
        raise TiffError("no IFD0")
    rewritten = [p for p in ("IFD0/Exif", "IFD0") if changes.get(p) or (p == "IFD0" and changes.get("IFD0/Exif"))]
    cut = _reclaim_point(tiff, rewritten, changes)
    _refuse_stray_pointers(tiff, rewritten, cut)
    out = bytearray(tiff.data[:cut])
    pointers: dict[int, bytes] = {}
    for path in rewritten:
        ifd = tiff.ifds.get(path)
        rows = _rows(list(ifd.entries) if ifd else [], changes.get(path, {}), pointers)
        offset = _pack_ifd(order, out, rows, ifd.next if ifd else 0)
        if len(out) >= 1 << 32:
            raise TiffError("the block would pass 4 GB")
        if path == "IFD0/Exif":
            pointers[0x8769] = struct.pack(order + "I", offset)
        else:
            struct.pack_into(order + "I", out, 4, offset)
    return bytes(out)


def _rows(entries: list[Entry], changes: dict[int, tuple[int, bytes] | None], pointers: dict[int, bytes]) -> list[Row]:
    """The entries of a rewritten IFD in their own order: the first entry of a changed tag takes
    the new value (or goes, if removed), every other entry stays verbatim (a repeated or
    unsorted entry, as broken writers leave them, included), and a new tag goes before the
    first larger one."""
    new: dict[int, Row] = {tag: (tag, kind, len(value) // TYPE_SIZES[kind], None, value)
                           for tag, (kind, value) in ((t, c) for t, c in changes.items() if c is not None)}
    new.update({tag: (tag, LONG, 1, field, b"") for tag, field in pointers.items()})
    rows: list[Row] = []
    done: set[int] = set()
    for e in entries:
        if e.tag in done or (e.tag not in new and e.tag not in changes):
            rows.append((e.tag, e.type, e.count, e.field, e.value))
            continue
        done.add(e.tag)
        if e.tag in new:
            rows.append(new[e.tag])
    for tag in sorted(set(new) - done):
        position = next((i for i, row in enumerate(rows) if row[0] > tag), len(rows))
        rows.insert(position, new[tag])
    return rows


def new_block(order: str = "<") -> bytes:
    """An empty TIFF structure (header and an IFD0 without entries), to add entries to."""
    mark = b"II" if order == "<" else b"MM"
    return mark + struct.pack(order + "HI", 42, 8) + struct.pack(order + "HI", 0, 0)
