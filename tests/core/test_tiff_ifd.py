"""core.metadata.tiff_ifd: edits that append and never move what a camera wrote."""

import struct

import pytest

from core.metadata.tiff_ifd import ASCII, UNDEFINED, Tiff, TiffError, edit, new_block
from tests import hostile_files as H


def camera_block(byte_order="II"):
    return H.camera_exif("canon", byte_order=byte_order)  # the TIFF block, as in "Exif\0\0" + block


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_an_edit_only_appends_and_moves_the_header_pointer(byte_order):
    block = camera_block(byte_order)
    new = edit(block, {"IFD0": {0x010E: (ASCII, b"a caption\0")},
                       "IFD0/Exif": {0x9286: (UNDEFINED, b"ASCII\0\0\0a caption")}})
    assert new[:4] == block[:4] and new[8 : len(block)] == block[8:]  # every old byte where it was
    before, after = Tiff(block).leaves(), Tiff(new).leaves()
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {("IFD0", 0x010E, 0), ("IFD0/Exif", 0x9286, 0)}
    assert after[("IFD0", 0x010E, 0)][2] == b"a caption\0"


def test_repeated_edits_reclaim_what_the_last_one_appended():
    block = camera_block()
    sizes = []
    for i in range(6):
        block = edit(block, {"IFD0": {0x010E: (ASCII, f"caption {i}".encode() + b"\0")}})
        sizes.append(len(block))
    assert max(sizes[1:]) - min(sizes[1:]) <= 2 and Tiff(block).value("IFD0", 0x010E).value == b"caption 5\0"


def test_repeated_and_unsorted_entries_stay_as_they_were():
    order = "<"
    entries = [(0x0112, 3, 1, struct.pack("<HH", 6, 0)), (0x010F, 2, 4, b"Cam\0"), (0x0112, 3, 1, struct.pack("<HH", 1, 0))]
    block = bytearray(b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, kind, count, field in entries:
        block += struct.pack(order + "HHI", tag, kind, count) + field
    block += b"\0\0\0\0"
    new = edit(bytes(block), {"IFD0": {0x010E: (ASCII, b"x\0")}})
    assert [e.tag for e in Tiff(new).ifd("IFD0").entries] == [0x010E, 0x0112, 0x010F, 0x0112]
    assert {k: v for k, v in Tiff(new).leaves().items() if k[1] != 0x010E} == Tiff(bytes(block)).leaves()


def test_a_pointer_aimed_where_the_edit_writes_is_refused():
    block = bytearray(new_block())
    block[8:10] = struct.pack("<H", 1)  # IFD0: one GPS pointer, typed SHORT, aimed past the end
    block[10:22] = struct.pack("<HHI", 0x8825, 3, 1) + struct.pack("<HH", 64, 0)
    block += b"\0\0\0\0"
    with pytest.raises(TiffError, match="where the edit would write"):
        edit(bytes(block), {"IFD0": {0x010E: (ASCII, b"x\0")}})


@pytest.mark.parametrize("data", [b"", b"II*\0", b"XX*\0\x08\0\0\0", b"II*\0\xff\xff\0\0"])
def test_what_is_not_a_readable_tiff_is_refused(data):
    with pytest.raises(TiffError):
        Tiff(data)
