"""Writing a description into a JPEG, PNG, WebP or TIFF file.

`with_description` builds the new file from the old one part by part (core.metadata.containers): the
EXIF block gets new IFDs appended (core.metadata.tiff_ifd, nothing the camera wrote moves), the XMP packet
is edited node by node (core.metadata.xmp_packet), the IPTC record dataset by dataset in its own
character set (core.metadata.iptc), a multi-picture index follows the pictures (core.metadata.mpf). Every other
segment or chunk, and the compressed image data, is copied byte for byte. The result is then
checked against the original (core.metadata.photo_check) before anyone may write it: nothing is decoded
to pixels, comparing compressed data is both stricter and ~10x cheaper.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from core.metadata import iptc, mpf, xmp_packet
from core.metadata.containers import (
    JPEG_EXIF,
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
from core.metadata.photo_blocks import (
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
    ucs2,
    user_comment,
)
from core.metadata.photo_check import (
    XMP_DESCRIPTION,
    XMP_DIGEST,
    XMP_HIERARCHICAL,
    XMP_IPTC_KEPT,
    XMP_KEYWORDS,
    XMP_MIRRORS,
    XMP_MODEL,
    XMP_STYLE,
    XMP_TITLE,
    verify,
)
from core.metadata.tiff_ifd import ASCII, BYTE, LONG, UNDEFINED, Tiff, TiffError, edit, new_block


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
    keywords: tuple[str, ...] = ()  # added to XMP dc:subject (and lr:hierarchicalSubject, IPTC Keywords)
    title: str | None = None  # written as XMP dc:title
    mark: Mark | None = None  # the model (and style) that wrote an own caption


@dataclass(frozen=True)
class Mark:
    """Which model wrote a caption, and in which caption style ("" for a model without styles):
    recorded as visioncap:Model and visioncap:Style beside the digest of the model's captions."""

    model: str
    style: str = ""


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


def describe(doc, text: str, previous: frozenset[str], iptc_kept: str | None = None, own: bool = True,
             mark: Mark | None = None) -> None:
    """Edit an XMP packet (a photo's or a sidecar's): `text` as dc:description, the mirrors
    that held one of the `previous` texts, and, for the model's caption (`own`), the digest
    marking it as VisionCap's (with the IPTC caption left alone, if any) and the `mark` of the
    model that wrote it. A caption a person wrote (edited in the app, read from a file) gets no
    mark, and loses old ones: it is theirs, and a later run keeps it."""
    xmp_packet.set_lang_alt(doc, *XMP_DESCRIPTION, text, previous)
    for ns, name in XMP_MIRRORS:
        xmp_packet.replace_in_lang_alt(doc, ns, name, text, previous)
    xmp_packet.remove(doc, *XMP_DIGEST)
    xmp_packet.remove(doc, *XMP_IPTC_KEPT)
    xmp_packet.remove(doc, *XMP_MODEL)
    xmp_packet.remove(doc, *XMP_STYLE)
    if own:
        xmp_packet.set_simple(doc, *XMP_DIGEST, xmp_packet.caption_digest(text))
        if iptc_kept is not None:
            xmp_packet.set_simple(doc, *XMP_IPTC_KEPT, xmp_packet.caption_digest(iptc_kept))
        if mark is not None and mark.model:
            xmp_packet.set_simple(doc, *XMP_MODEL, mark.model)
            if mark.style:
                xmp_packet.set_simple(doc, *XMP_STYLE, mark.style)


def add_keywords_and_title(doc, keywords: tuple[str, ...], title: str | None) -> None:
    """Keywords go into dc:subject (and Lightroom's lr:hierarchicalSubject where the packet has
    it), next to the ones there: none is ever removed. `title` becomes dc:title's x-default."""
    if keywords:
        xmp_packet.add_to_bag(doc, *XMP_KEYWORDS, list(keywords))
        xmp_packet.add_to_bag(doc, *XMP_HIERARCHICAL, list(keywords), create=False)
    if title is not None:
        xmp_packet.set_lang_alt(doc, *XMP_TITLE, title)


def _xmp_packet(blocks: Blocks, plan: Plan) -> bytes:
    doc = blocks.xmp if blocks.xmp is not None else xmp_packet.new_packet()
    describe(doc, plan.text, plan.previous, plan.iptc_kept, plan.own, plan.mark)
    add_keywords_and_title(doc, plan.keywords, plan.title)
    return xmp_packet.serialize(doc)


def _iim(datasets: list[iptc.Dataset], plan: Plan, block: bytes) -> bytes | None:
    """The new IIM block, or None (with a note) when IPTC is left as it was. `datasets`: the
    ones read from `block`."""
    new, why = iptc.with_caption(block, plan.text)
    if new is None:
        plan.notes.append(f"IPTC left as it was: {why} (XMP and EXIF hold the caption)")
        plan.iptc_kept = iptc.caption(datasets) or ""
        return None
    if plan.keywords:
        new, _, left = iptc.with_keywords(new, list(plan.keywords))
        plan.notes.extend(f"IPTC keyword left out: {why}" for why in left)
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
    resources = blocks.resources or []
    block = next((r.data for r in resources if r.id == iptc.IRB_IPTC), None)
    if block is None or not blocks.iptc:
        return None  # no IPTC: none is added
    new = _iim(blocks.iptc, plan, block)
    return None if new is None else iptc.with_iptc(resources, new)


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
    old = blocks.container
    assert old is not None, "the blocks of a JPEG, PNG or WebP file keep its container"
    container = Container(old.format, old.head, list(old.parts), old.tail)
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
        return mpf.updated(old, container)
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
    assert tiff is not None, "the blocks of a TIFF file hold its TIFF structure as `exif`"
    ifd0 = plan.exif["IFD0"]
    iim_entry = tiff.value("IFD0", TIFF_IPTC)
    if iim_entry is not None and blocks.iptc and not _unreadable_iptc(blocks, plan):
        new = _iim(blocks.iptc, plan, iim_entry.value)
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
    data: bytes, blocks: Blocks, text: str, previous: frozenset[str], own: bool = True,
    keywords: tuple[str, ...] = (), title: str | None = None, mark: Mark | None = None,
) -> tuple[bytes, Plan]:
    """The file `data` (whose `blocks` are read) with `text` as its description (and, if given,
    `keywords` added and `title` set), and the plan that says what changed. Raises NotWritten
    when the new file cannot be built or fails `verify`; TiffError/ContainerError propagate as
    NotWritten too."""
    plan = Plan(text, previous, own, keywords=tuple(keywords), title=title, mark=mark)
    try:
        _exif_changes(blocks.exif, plan)
        new = _build_tiff(blocks, plan) if blocks.format == "tiff" else _build_container(blocks, plan)
    except (TiffError, ContainerError) as exc:
        raise NotWritten(str(exc), structural=True) from exc
    problems = verify(data, new, blocks, plan)
    if problems:
        raise NotWritten("the check after writing failed: " + "; ".join(problems))
    return new, plan
