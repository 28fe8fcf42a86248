"""Writing a description into a JPEG, PNG, WebP or TIFF file, and the check that nothing else
changed.

`with_description` builds the new file from the old one part by part (core.containers): the
EXIF block gets new IFDs appended (core.tiff_ifd, nothing the camera wrote moves), the XMP packet
is edited node by node (core.xmp_packet), the IPTC record dataset by dataset in its own
character set (core.iptc). Every other segment or chunk, and the compressed image data, is
copied byte for byte.

`verify` then reads the new file from scratch and compares it with the old one through the
same parsers, block by block: every other part byte for byte, every EXIF entry by its value
bytes, every XMP property by its values, every IPTC dataset and Photoshop resource by its bytes,
the image data byte for byte (TIFF strips and tiles at their offsets), and the caption must
read back. Nothing is decoded to pixels: comparing compressed data is both stricter and ~10x
cheaper.
"""

from __future__ import annotations

import collections
import struct
import zlib
from dataclasses import dataclass, field

from core import iptc, xmp_packet
from core.containers import (
    JPEG_EXIF,
    JPEG_MPF,
    JPEG_PHOTOSHOP,
    JPEG_XMP,
    WEBP_ALPHA_FLAG,
    WEBP_EXIF_FLAG,
    WEBP_XMP_FLAG,
    Container,
    ContainerError,
    Part,
    jpeg_segment,
    png_chunk,
    png_itxt,
    png_itxt_names,
    png_text_value,
    webp_canvas,
    webp_chunk,
    webp_vp8x,
)
from core.photo_blocks import (
    IMAGE_DESCRIPTION,
    TIFF_IPTC,
    TIFF_PHOTOSHOP,
    TIFF_XMP,
    USER_COMMENT,
    XP_COMMENT,
    XP_SUBJECT,
    XP_TITLE,
    Blocks,
    decode_bytes,
    decode_ucs2,
    decode_user_comment,
    read_blocks,
    strip_ranges,
    ucs2,
    user_comment,
)
from core.tiff_ifd import ASCII, BYTE, LONG, UNDEFINED, Tiff, TiffError, edit, new_block

# XMP properties a description write may change (namespace, name)
XMP_DESCRIPTION = (xmp_packet.DC, "description")
XMP_MIRRORS = ((xmp_packet.EXIF, "UserComment"), (xmp_packet.TIFF, "ImageDescription"), (xmp_packet.DC, "title"))
XMP_DIGEST = (xmp_packet.VISIONCAP, "DescriptionDigest")
# the IPTC caption a write had to leave alone (its character set cannot hold the new one): kept
# beside the digest so that a later run still knows the photo's caption is VisionCap's own
XMP_IPTC_KEPT = (xmp_packet.VISIONCAP, "IptcKept")
MP_ENTRY = 0xB002  # MPF: 16 bytes per picture (attributes, size, offset, two dependents)


class NotWritten(Exception):
    """The new file failed its check or could not be built; `reason` says why (the photo is
    left as it was). `structural`: the file's own structure stood in the way (a pointer into
    where the edit writes, an MPF index that cannot be read), so a sidecar is the way."""

    def __init__(self, reason: str, structural: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.structural = structural


@dataclass
class Plan:
    """What a write changes, and what it left alone and why."""

    text: str
    previous: frozenset[str]  # the texts the description fields held: mirrors holding them follow
    own: bool = True  # the model's caption: marked with the digest, so a later run may replace it
    exif: dict[str, dict[int, tuple[int, bytes] | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # "IPTC left as it was: ..." and the like
    iptc_written: bytes | None = None  # the Caption-Abstract value bytes written, if any
    iptc_kept: str | None = None  # the IPTC caption left alone in a record that cannot hold the new one


# ---- building -----------------------------------------------------------------------------------


def _exif_changes(tiff: Tiff | None, plan: Plan) -> None:
    text = plan.text
    ifd0: dict[int, tuple[int, bytes] | None] = {IMAGE_DESCRIPTION: (ASCII, text.encode("utf-8") + b"\0")}
    if tiff is not None:
        for tag in (XP_TITLE, XP_COMMENT, XP_SUBJECT):
            entry = tiff.value("IFD0", tag)
            if entry is not None and decode_ucs2(entry.value) in plan.previous:
                ifd0[tag] = (BYTE, ucs2(text))
        comment = tiff.value("IFD0/Exif", USER_COMMENT)
        if comment is not None and decode_user_comment(comment.value, tiff.order) in plan.previous:
            plan.exif["IFD0/Exif"] = {USER_COMMENT: (UNDEFINED, user_comment(text, comment.value, tiff.order))}
    plan.exif["IFD0"] = ifd0


def describe(doc, text: str, previous: frozenset[str], iptc_kept: str | None = None, own: bool = True) -> None:
    """Edit an XMP packet (a photo's or a sidecar's): `text` as dc:description, the mirrors
    that held one of the `previous` texts, and, for the model's caption (`own`), the digest
    marking it as VisionCap's (with the IPTC caption left alone, if any). A caption a person
    wrote (edited in the app, read from a file) gets no mark, and loses an old one: it is
    theirs, and a later run keeps it."""
    xmp_packet.set_lang_alt(doc, *XMP_DESCRIPTION, text, previous)
    for ns, name in XMP_MIRRORS:
        xmp_packet.replace_in_lang_alt(doc, ns, name, text, previous)
    xmp_packet.remove(doc, *XMP_DIGEST)
    xmp_packet.remove(doc, *XMP_IPTC_KEPT)
    if own:
        xmp_packet.set_simple(doc, *XMP_DIGEST, xmp_packet.caption_digest(text))
        if iptc_kept is not None:
            xmp_packet.set_simple(doc, *XMP_IPTC_KEPT, xmp_packet.caption_digest(iptc_kept))


def _xmp_packet(blocks: Blocks, plan: Plan) -> bytes:
    doc = blocks.xmp if blocks.xmp is not None else xmp_packet.new_packet()
    describe(doc, plan.text, plan.previous, plan.iptc_kept, plan.own)
    return xmp_packet.serialize(doc)


def _iim(blocks: Blocks, plan: Plan, block: bytes) -> bytes | None:
    """The new IIM block, or None (with a note) when IPTC is left as it was."""
    new, why = iptc.with_caption(block, plan.text)
    if new is None:
        plan.notes.append(f"IPTC left as it was: {why} (XMP and EXIF hold the caption)")
        plan.iptc_kept = iptc.caption(blocks.iptc) or ""
        return None
    plan.iptc_written = next(d.value for d in iptc.parse_iim(new)[0] if (d.record, d.number) == iptc.CAPTION)
    return new


def _unreadable_iptc(blocks: Blocks, plan: Plan) -> bool:
    if "iptc" in blocks.errors:
        plan.notes.append(f"IPTC left as it was: {blocks.errors['iptc']} (XMP and EXIF hold the caption)")
        return True
    return False


def _photoshop_payload(blocks: Blocks, plan: Plan) -> bytes | None:
    if _unreadable_iptc(blocks, plan):
        return None
    block = next((r.data for r in blocks.resources or () if r.id == iptc.IRB_IPTC), None)
    if block is None or not blocks.iptc:
        return None  # no IPTC: none is added
    new = _iim(blocks, plan, block)
    return None if new is None else iptc.with_iptc(blocks.resources, new)


def _replace_or_insert(container: Container, kind: str, part, after: tuple[str, ...]) -> None:
    found = container.find(kind)
    if found:
        container.parts[found[0]] = part
        return
    position = 0
    for i, p in enumerate(container.parts):
        if p.kind in after:
            position = i + 1
    container.parts.insert(position, part)


def _mirror_text_parts(container: Container, kind: str, plan: Plan, make) -> None:
    """Every part of `kind` (JPEG comments, PNG Description chunks) that held the old caption
    gets the new one from `make(old part)`; the others stay."""
    for index in container.find(kind):
        old = container.parts[index]
        held = decode_bytes(old.payload) if old.kind == "comment" else png_text_value(old)
        if held is not None and held in plan.previous:
            container.parts[index] = make(old)


def _png_description(old: Part, text: str) -> Part:
    if old.tag == b"tEXt" and all(ord(c) < 256 for c in text):
        return png_chunk(b"tEXt", b"Description\0" + text.encode("latin-1"))
    if old.tag == b"zTXt" and all(ord(c) < 256 for c in text):
        return png_chunk(b"zTXt", b"Description\0\0" + zlib.compress(text.encode("latin-1")))
    names = png_itxt_names(old) if old.tag == b"iTXt" else (b"", b"")
    return png_itxt(b"Description", text, *names)


def _build_container(blocks: Blocks, plan: Plan) -> bytes:
    container = Container(blocks.container.format, blocks.container.head, list(blocks.container.parts),
                          blocks.container.tail)
    exif = edit(blocks.exif.data if blocks.exif else new_block(), plan.exif)
    fmt = container.format
    if fmt == "jpeg":
        photoshop = _photoshop_payload(blocks, plan)  # before the XMP, which notes IPTC left alone
        old_exif = container.find("exif")
        prefix = container.parts[old_exif[0]].payload[:6] if old_exif else JPEG_EXIF + b"\0"
        _replace_or_insert(container, "exif", jpeg_segment(0xE1, prefix + exif), ("marker-E0",))
        _replace_or_insert(container, "xmp", jpeg_segment(0xE1, JPEG_XMP + _xmp_packet(blocks, plan)),
                           ("marker-E0", "exif"))
        if photoshop is not None:
            _replace_or_insert(container, "photoshop", jpeg_segment(0xED, JPEG_PHOTOSHOP + photoshop), ())
        _mirror_text_parts(container, "comment", plan, lambda old: jpeg_segment(0xFE, plan.text.encode("utf-8")))
        return _with_mpf_updated(blocks.container, container)
    if fmt == "png":
        if any(p.kind.startswith("text:Raw profile type iptc") for p in container.parts):
            plan.notes.append("IPTC left as it was: a PNG keeps it in a text chunk VisionCap does not write")
        _replace_or_insert(container, "exif", png_chunk(b"eXIf", exif), ("chunk-IHDR", "chunk-iCCP", "chunk-sRGB"))
        _replace_or_insert(container, "xmp", png_itxt(b"XML:com.adobe.xmp", _xmp_packet(blocks, plan).decode("utf-8")),
                           ("chunk-IHDR", "chunk-iCCP", "chunk-sRGB", "exif"))
        _mirror_text_parts(container, "text:Description", plan, lambda old: _png_description(old, plan.text))
    else:
        _webp_parts(container, exif, _xmp_packet(blocks, plan))
    return container.join()


# ---- MPF: the other pictures of a JPEG (MPO files, phones' depth maps, Sony's previews) ----------


def _mp_entries(part: Part) -> tuple[str, int, int] | None:
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


def _with_mpf_updated(old: Container, new: Container) -> bytes:
    """The joined file, with the MPF's size of the first picture and offsets of the others
    moved by what the metadata grew: the pictures themselves are in the tail, unchanged."""
    data = new.join()
    found = new.find("mpf")
    if not found:
        return data
    part = new.parts[found[0]]
    located = _mp_entries(part)
    if located is None:
        return data
    order, at, count = located
    growth = len(data) - len(old.join())
    shift = _mpf_header_position(new) - _mpf_header_position(old)
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


def _mpf_header_position(container: Container) -> int:
    """Where the MPF's own TIFF header starts in the file: MP offsets count from there."""
    at = len(container.head)
    for part in container.parts:
        if part.kind == "mpf":
            return at + len(part.raw) - len(part.payload) + len(JPEG_MPF)
        at += len(part.raw)
    return 0


def _mp_fields(part: Part, located: tuple[str, int, int]) -> list[tuple[int, int]]:
    """(size, offset) of each picture an MPF segment lists."""
    order, at, count = located
    return [struct.unpack_from(order + "II", part.payload, at + 16 * i + 4) for i in range(count)]


def _mpf_problems(old_data: bytes, new_data: bytes, old: Container, new: Container) -> list[str]:
    """Every picture the MPF lists must be where it says, with the same bytes as before."""
    found_old, found_new = old.find("mpf"), new.find("mpf")
    if not found_old:
        return [] if not found_new else ["an MPF segment would be added"]
    part_old, part_new = old.parts[found_old[0]], new.parts[found_new[0]]
    try:
        a, b = _mp_entries(part_old), _mp_entries(part_new)
    except TiffError as exc:
        return [f"the MPF segment cannot be read ({exc})"]
    if a is None or b is None:
        return [] if a == b and part_old.raw == part_new.raw else ["the MPF segment would change"]
    if _masked(part_old.payload, a) != _masked(part_new.payload, b):
        return ["the MPF segment would change beyond its sizes and offsets"]
    base_old, base_new = _mpf_header_position(old), _mpf_header_position(new)
    pictures = zip(_mp_fields(part_old, a), _mp_fields(part_new, b))
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


def _webp_parts(container: Container, exif: bytes, packet: bytes) -> None:
    old_exif = container.find("exif")
    prefix = container.parts[old_exif[0]].payload[:6] if old_exif and \
        container.parts[old_exif[0]].payload.startswith(JPEG_EXIF) else b""
    vp8x = container.find("vp8x")
    if vp8x:
        old = container.parts[vp8x[0]].payload
        flags = old[0] | WEBP_EXIF_FLAG | WEBP_XMP_FLAG
        container.parts[vp8x[0]] = webp_chunk(b"VP8X", bytes([flags]) + old[1:])
    else:
        width, height, alpha = webp_canvas(container)
        flags = WEBP_EXIF_FLAG | WEBP_XMP_FLAG | (WEBP_ALPHA_FLAG if alpha else 0)
        container.parts.insert(0, webp_vp8x(flags, width, height))
    for kind, chunk in (("exif", webp_chunk(b"EXIF", prefix + exif)), ("xmp", webp_chunk(b"XMP ", packet))):
        found = container.find(kind)
        if found:
            container.parts[found[0]] = chunk
        else:
            container.parts.append(chunk)


def _build_tiff(blocks: Blocks, plan: Plan) -> bytes:
    tiff = blocks.exif
    ifd0 = plan.exif["IFD0"]
    iim_entry = tiff.value("IFD0", TIFF_IPTC)
    if iim_entry is not None and blocks.iptc and not _unreadable_iptc(blocks, plan):
        new = _iim(blocks, plan, iim_entry.value)
        if new is not None:
            if iim_entry.type == LONG:
                new += b"\0" * (-len(new) % 4)
            ifd0[TIFF_IPTC] = (iim_entry.type, new)
            resources = tiff.value("IFD0", TIFF_PHOTOSHOP)
            if resources is not None and blocks.resources is not None:
                ifd0[TIFF_PHOTOSHOP] = (resources.type, iptc.with_iptc(blocks.resources, new))
    old_xmp = tiff.value("IFD0", TIFF_XMP)
    ifd0[TIFF_XMP] = (old_xmp.type if old_xmp and old_xmp.type in (BYTE, UNDEFINED) else BYTE, _xmp_packet(blocks, plan))
    return edit(tiff.data, plan.exif)


def with_description(
    data: bytes, blocks: Blocks, text: str, previous: frozenset[str], own: bool = True
) -> tuple[bytes, Plan]:
    """The file `data` (whose `blocks` are read) with `text` as its description, and the plan
    that says what changed. Raises NotWritten when the new file cannot be built or fails
    `verify`; TiffError/ContainerError propagate as NotWritten too."""
    plan = Plan(text, previous, own)
    try:
        _exif_changes(blocks.exif, plan)
        new = _build_tiff(blocks, plan) if blocks.format == "tiff" else _build_container(blocks, plan)
    except (TiffError, ContainerError) as exc:
        raise NotWritten(str(exc), structural=True) from exc
    problems = verify(data, new, blocks, plan)
    if problems:
        raise NotWritten("the check after writing failed: " + "; ".join(problems))
    return new, plan


# ---- checking -----------------------------------------------------------------------------------


def _written_by_a_description(path: tuple[str, ...]) -> bool:
    changing = {f"{{{ns}}}{name}" for ns, name in (XMP_DESCRIPTION, *XMP_MIRRORS)}
    return path[0] in changing or path[0].startswith(f"{{{xmp_packet.VISIONCAP}}}")


def xmp_problems(before, after) -> list[str]:
    """How the XMP `after` differs from `before` beyond the properties a description write
    changes; [] when it does not."""
    def kept(doc) -> collections.Counter:
        if doc is None:
            return collections.Counter()
        return collections.Counter({k: v for k, v in xmp_packet.properties(doc).items()
                                    if not _written_by_a_description(k[0])})

    old, new = kept(before), kept(after)
    if before is None:  # a new packet describes the file itself
        new.pop((("rdf:about",), ""), None)
    lost, added = old - new, new - old
    problems = []
    if lost:
        names = sorted({"/".join(p.split("}")[-1] for p in path) for path, _ in lost})
        problems.append(f"XMP would lose or change {len(lost)} value(s) ({', '.join(names[:3])})")
    if added:
        problems.append(f"XMP would gain {len(added)} value(s) it should not")
    return problems


def _exif_problems(before: Tiff | None, after: Tiff | None, plan: Plan) -> list[str]:
    if after is None:
        return ["the EXIF block did not read back"]
    old = before.leaves() if before is not None else {}
    new = after.leaves()
    intended = {(path, tag, 0): value for path, tags in plan.exif.items() for tag, value in tags.items()}
    problems = []
    for key in sorted(set(old) | set(new)):
        if key in intended:
            want = intended[key]
            got = new.get(key)
            if got is None or got[::2] != want:
                problems.append(f"EXIF tag 0x{key[1]:04X} in {key[0]} did not read back as written")
        elif old.get(key) != new.get(key):
            problems.append(f"EXIF tag 0x{key[1]:04X} in {key[0]} would change")
    return problems[:3]


def _iptc_problems(before: Blocks, after: Blocks, plan: Plan) -> list[str]:
    if before.iptc is None:
        return [] if after.iptc is None else ["IPTC would be added"]
    if after.iptc is None:
        return ["the IPTC did not read back"]
    skip = {iptc.CAPTION} | ({iptc.CHARSET} if plan.iptc_written is not None else set())
    old = [d.raw for d in before.iptc if (d.record, d.number) not in skip]
    new = [d.raw for d in after.iptc if (d.record, d.number) not in skip]
    problems = [] if old == new else ["IPTC datasets other than the caption would change"]
    caption = next((d.value for d in after.iptc if (d.record, d.number) == iptc.CAPTION), None)
    if plan.iptc_written is not None and caption != plan.iptc_written:
        problems.append("the IPTC caption did not read back")
    if plan.iptc_written is None and [d.raw for d in before.iptc] != [d.raw for d in after.iptc]:
        problems.append("IPTC would change although it was to be left alone")
    if _other_resources(before) != _other_resources(after):
        problems.append("Photoshop image resources other than IPTC would change")
    if (plan.iptc_written is not None or iptc.in_sync(before.resources or [])) and not iptc.in_sync(after.resources or []):
        problems.append("the IPTC digest would be stale")
    return problems


def _other_resources(blocks: Blocks) -> list[bytes]:
    return [r.raw for r in blocks.resources or () if r.id not in (iptc.IRB_IPTC, iptc.IRB_DIGEST)]


_CHANGEABLE = {"exif", "xmp", "photoshop", "comment", "text:Description", "vp8x", "mpf"}


def _container_problems(old: Container, new: Container, plan: Plan) -> list[str]:
    problems = []
    if plan.iptc_written is None and [p.raw for p in old.parts if p.kind == "photoshop"] \
            != [p.raw for p in new.parts if p.kind == "photoshop"]:
        problems.append("the Photoshop segment would change although its IPTC was left alone")
    same_head = old.head[:4] + old.head[8:] == new.head[:4] + new.head[8:] if old.format == "webp" else old.head == new.head
    if not same_head or old.tail != new.tail:
        problems.append("the image data would change" if old.format == "jpeg" else "the file's header or end would change")
    kept_old = [p.raw for p in old.parts if p.kind not in _CHANGEABLE]
    kept_new = [p.raw for p in new.parts if p.kind not in _CHANGEABLE]
    if kept_old != kept_new:
        changed = sorted({p.kind for p in old.parts if p.raw not in kept_new and p.kind not in _CHANGEABLE})
        problems.append("other parts of the file would change (" + (", ".join(changed[:3]) or "their order") + ")")
    if old.format == "webp":
        vp8x = [p.payload for p in new.parts if p.kind == "vp8x"]
        before = [p.payload for p in old.parts if p.kind == "vp8x"]
        if before and (len(vp8x) != 1 or vp8x[0][1:] != before[0][1:] or vp8x[0][0] & ~before[0][0] & ~0x0C):
            problems.append("the WebP canvas would change")
    return problems


def _tiff_image_problems(old: Tiff, new: Tiff) -> list[str]:
    a, b = strip_ranges(old), strip_ranges(new)
    if a != b or any(old.data[o : o + n] != new.data[o : o + n] for o, n in a):
        return ["the image data would change"]
    return []


def verify(data: bytes, written: bytes, before: Blocks, plan: Plan) -> list[str]:
    """What differs between the old file and the new one beyond what `plan` says should; []
    when the write did exactly that."""
    from core.photo_metadata import description_of  # the reader's rule, applied to the result

    try:
        after = read_blocks(written, ".tif" if before.format == "tiff" else "")
    except (ContainerError, TiffError) as exc:
        return [f"the new file could not be read back ({exc})"]
    new_errors = [text for key, text in after.errors.items() if key not in before.errors]
    if new_errors:
        return [f"the new file's metadata could not be read back ({'; '.join(new_errors)})"]
    problems = []
    if before.format == "tiff":
        problems += _tiff_image_problems(before.exif, after.exif)
    else:
        problems += _container_problems(before.container, after.container, plan)
        if before.format == "jpeg":
            problems += _mpf_problems(data, written, before.container, after.container)
    problems += _exif_problems(before.exif, after.exif, plan)
    problems += xmp_problems(before.xmp, after.xmp)
    problems += _iptc_problems(before, after, plan)
    found = description_of(after)
    if found is None or found.text != plan.text:
        problems.append("the caption did not read back")
    elif found.own != plan.own:
        problems.append("the caption did not read back as VisionCap's" if plan.own else "the caption read back as VisionCap's")
    return problems


