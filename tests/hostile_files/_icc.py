"""A small but complete ICC v2 RGB display profile (matrix/TRC), built by hand."""

from __future__ import annotations

import struct


def _s15(*values: float) -> bytes:
    return b"".join(struct.pack(">l", round(v * 65536)) for v in values)


def _desc(text: str) -> bytes:
    """v2 textDescriptionType: ASCII, an empty Unicode part, an empty ScriptCode part."""
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">L", len(ascii_text)) + ascii_text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67


def icc_profile(description: str = "Hostile RGB", gamma: float = 2.2) -> bytes:
    """An ICC v2 display profile (sRGB primaries adapted to D50, one gamma curve), like the
    small profiles cameras and scanners embed: header, tag table, desc/cprt/wtpt/rXYZ/gXYZ/
    bXYZ/rTRC/gTRC/bTRC (the TRCs share one curve, as many profiles do)."""
    curve = b"curv\0\0\0\0" + struct.pack(">LH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", _desc(description)), (b"cprt", b"text\0\0\0\0No copyright, test data\0"),
            (b"wtpt", b"XYZ \0\0\0\0" + _s15(0.9642, 1.0, 0.8249)),
            (b"rXYZ", b"XYZ \0\0\0\0" + _s15(0.4361, 0.2225, 0.0139)),
            (b"gXYZ", b"XYZ \0\0\0\0" + _s15(0.3851, 0.7169, 0.0971)),
            (b"bXYZ", b"XYZ \0\0\0\0" + _s15(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    table, data, pos, placed = [], [], 128 + 4 + 12 * len(tags), {}
    for signature, body in tags:
        if body not in placed:
            placed[body] = pos
            data.append(body + b"\0" * (-len(body) % 4))
            pos += len(data[-1])
        table.append(struct.pack(">4sLL", signature, placed[body], len(body)))
    size = pos
    header = struct.pack(">L4sL4s4s4s6H4s4sLLL8xL", size, b"lcms", 0x02100000, b"mntr", b"RGB ",
                         b"XYZ ", 2024, 7, 14, 18, 3, 22, b"acsp", b"APPL", 0, 0, 0, 0)
    header += _s15(0.9642, 1.0, 0.8249) + b"hstl" + b"\0" * 44
    return header + struct.pack(">L", len(tags)) + b"".join(table) + b"".join(data)
