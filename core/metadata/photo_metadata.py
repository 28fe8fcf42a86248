"""The description embedded in a photo: read as the Metadata Working Group says, written into the
places photo managers look, never at the cost of anything else in the file.

Written (one caption, the same text in each; see README "Captions in your photos"):
- XMP `dc:description`, its `x-default` entry (other languages kept, except those that held the
  old caption), and `visioncap:DescriptionDigest`, by which a later run knows the caption is
  VisionCap's own and not one a person or another program wrote since;
- EXIF `ImageDescription` (0x010E), UTF-8 as the MWG recommends;
- IPTC `Caption-Abstract` (2:120), only where the file already has IPTC, in the record's own
  character set (or not at all, said in a note), cut to 2,000 bytes, the IPTC digest updated;
- the fields other programs show as the description, where they held the old caption: EXIF
  UserComment, Windows' XPTitle/XPSubject/XPComment, XMP exif:UserComment, tiff:ImageDescription
  and dc:title, a JPEG comment, a PNG Description.

JPEG, PNG, WebP and TIFF are read and written by VisionCap's own parsers (core.metadata.photo_blocks,
core.metadata.photo_edit), which never take a block they cannot decode for an empty one. Other formats
(HEIC, AVIF, camera RAW, GIF, BMP) are only read, through exiv2, and get a sidecar instead.
exiv2's own messages go to this module's log, never raw to the terminal.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import exiv2

from core.atomic import atomic_write
from core.errors import FileError, KeptCaption, MetadataError
from core.fingerprint import CHUNK, VERSION, FileState, file_state
from core.metadata import xmp_packet
from core.metadata.containers import ContainerError, split
from core.metadata.photo_blocks import (
    Blocks,
    Fields,
    decode_bytes,
    fields,
    read_blocks,
    suffix_of,
    tiff_is_raw,
)
from core.metadata.photo_edit import Mark, NotWritten, with_description
from core.metadata.tiff_ifd import TiffError
from core.safe_files import check_replaceable, open_regular, read_regular

log = logging.getLogger(__name__)

IPTC_LIMIT = 2000  # bytes: the longest Caption-Abstract IPTC IIM allows
PHOTO_CAP = 1 << 30  # larger files are not read whole to embed into: they get a sidecar
HEAD_BYTES = 256 << 10  # a JPEG's metadata is in its first segments: read that much first
EMBED_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".webp", ".tif", ".tiff")

# Descriptions cameras and programs fill in by themselves; they are not captions.
CAMERA_PLACEHOLDERS = frozenset(
    s.casefold()
    for s in (
        "OLYMPUS DIGITAL CAMERA", "SONY DSC", "MINOLTA DIGITAL CAMERA",
        "KONICA MINOLTA DIGITAL CAMERA", "KODAK Digital Still Camera", "SAMSUNG DIGITAL CAMERA",
        "SAMSUNG CAMERA PICTURES", "PENTAX DIGITAL CAMERA", "LEICA DIGITAL CAMERA",
        "DIGITAL CAMERA", "DIGITAL IMAGE", "Created with GIMP", "default", "x-default", "Screenshot",
    )
)


class _ToLog(logging.Handler):
    """exiv2 reports through the `exiv2` logger: keep it off the terminal, in ours at debug."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("exiv2: %s", record.getMessage())


_exiv2_log = logging.getLogger("exiv2")
_exiv2_log.addHandler(_ToLog())
_exiv2_log.propagate = False
# exiv2 must set up its XMP toolkit once, before threads use it (exiv2's documentation).
exiv2.XmpParser.initialize()


class ReadOnlyPhoto(MetadataError):
    """The photo or its folder is read-only (by its permission bits): nothing was written."""


class CannotEmbed(MetadataError):
    """This file cannot take an embedded caption (its format, or metadata VisionCap cannot
    decode and so will not write into): use a sidecar."""


class PhotoChanged(MetadataError):
    """The photo is not the one that was captioned any more: nothing was written."""


@dataclass(frozen=True)
class EmbeddedCaption:
    text: str
    field: str  # "EXIF ImageDescription", "XMP dc:description", ... (see description_of)
    own: bool = False  # written by VisionCap and not changed since (visioncap:DescriptionDigest)


@dataclass(frozen=True)
class EmbedResult:
    state: FileState  # the photo's state afterwards (its fingerprint changes with its head)
    written: bool  # False when the photo already held exactly this caption
    notes: tuple[str, ...] = field(default=())  # what was left alone and why


# ---- reading ----------------------------------------------------------------------------------


# What scientific and imaging software keeps in ImageDescription: data about the file, not a caption
MACHINE_PREFIXES = ("ImageJ=", "<?xml", "<OME", "{\"shape\"", "Aperio Image Library", "IMGJ")


def meaningful(text: str | None) -> str | None:
    """None for a missing, blank or placeholder value, or data a program keeps there (ImageJ,
    OME-XML, tifffile's shape)."""
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if stripped.casefold() in CAMERA_PLACEHOLDERS or stripped.startswith(MACHINE_PREFIXES):
        return None
    return text


def recover_truncated_iptc(iptc: str | None, xmp: str | None) -> str | None:
    """IPTC's value, or XMP's when IPTC holds exactly XMP cut at the 2,000-byte limit."""
    if iptc is None or xmp is None or len(iptc.encode()) <= IPTC_LIMIT - 4:
        return iptc  # not at the limit: not cut
    return xmp if len(xmp) > len(iptc) and xmp.startswith(iptc) else iptc


def mwg_description(
    exif: str | None, iptc: str | None, xmp: str | None, *, iptc_present: bool, iptc_in_sync: bool
) -> str | None:
    """The MWG 2.0 reconciliation of the three description fields, as exiftool's
    `MWG:Description` composite does it:
    1. EXIF ImageDescription, unless missing or blank;
    2. else XMP dc:description, when the file has no IPTC at all, or when XMP has a value and
       the IPTC is in sync with it (the digest Photoshop stored matches the IPTC, or none is
       stored);
    3. else IPTC Caption-Abstract (an IPTC tool changed it since), or the XMP value when the
       IPTC one is just that value cut at IPTC's length limit.
    """
    if exif is not None and exif.strip(" "):
        return exif
    if not iptc_present or (xmp is not None and iptc_in_sync):
        return xmp
    return recover_truncated_iptc(iptc, xmp)


def reads_as_text(text: str | None) -> str | None:
    """`text` when it reads like a sentence (three words or more, mostly letters), else None:
    cameras fill EXIF UserComment with their settings ("GCM_TAG", "R: 139 G: 255 ...")."""
    text = meaningful(text)
    if text is None:
        return None
    letters = sum(c.isalpha() or c.isspace() for c in text)
    return text if len(text.split()) >= 3 and letters >= 0.8 * len(text) and not text.isupper() else None


# After the MWG fields, in this order: where cameras and Windows keep a description.
FALLBACKS = (("user_comment", "EXIF UserComment"), ("xmp_user_comment", "XMP exif:UserComment"),
             ("xp_comment", "Windows XPComment"), ("xp_subject", "Windows XPSubject"),
             ("xp_title", "Windows XPTitle"))


def is_own(f: Fields, text: str) -> bool:
    """Whether `text` is a caption VisionCap wrote and nobody changed since: the digest it left
    in XMP matches, and every description field it wrote still holds the text (IPTC may hold
    it cut at its length limit, or the caption VisionCap had to leave there, as recorded)."""
    if f.digest != xmp_packet.caption_digest(text):
        return False
    if (f.xmp is not None and f.xmp != text) or (f.exif is not None and f.exif != text):
        return False
    if f.iptc is None or f.iptc == text:
        return True
    cut = text.startswith(f.iptc) and len(text.encode("utf-8")) > IPTC_LIMIT
    return cut or f.iptc_kept == xmp_packet.caption_digest(f.iptc)


def description_of(blocks: Blocks) -> EmbeddedCaption | None:
    """The photo's description: the MWG rule over EXIF, XMP and IPTC, then the FALLBACKS;
    placeholders skipped."""
    f = fields(blocks)
    exif, iptc, xmp = meaningful(f.exif), meaningful(f.iptc), meaningful(f.xmp)
    text = mwg_description(exif, iptc, xmp, iptc_present=f.iptc_present, iptc_in_sync=f.iptc_in_sync)
    if text is not None:
        name = ("EXIF ImageDescription" if text is exif else "XMP dc:description" if text is xmp
                else "IPTC Caption-Abstract")
    else:
        candidates = ((n, reads_as_text(getattr(f, k)) if k == "user_comment" else meaningful(getattr(f, k)))
                      for k, n in FALLBACKS)
        name, text = next(((n, t) for n, t in candidates if t), ("", None))
        if text is None:
            return None
    return EmbeddedCaption(text, name, own=is_own(f, text))


def _head(path: Path) -> bytes:
    """The file, or for a JPEG just enough of it to hold all its metadata segments."""
    with open_regular(path) as stream:
        data = stream.read(HEAD_BYTES)
        if not data.startswith(b"\xff\xd8"):
            return data + stream.read()
        while True:
            try:
                split(data)  # reaches the first scan: every metadata segment is in `data`
                return data
            except ContainerError:
                more = stream.read(len(data))
                if not more:
                    return data
                data += more


def read_embedded(path: str | Path) -> EmbeddedCaption | None:
    """The photo's description (see description_of), or None when it has none. Raises
    MetadataError when the file cannot be read; a block VisionCap cannot decode is skipped
    (the others are still read) and said in the log."""
    path = Path(path)
    suffix = suffix_of(path)
    try:
        if suffix not in EMBED_SUFFIXES:
            return _read_with_exiv2(path)
        blocks = read_blocks(_head(path), suffix)
    except (ContainerError, TiffError) as exc:
        raise MetadataError(path, f"could not read its metadata: {exc}") from exc
    except FileError as exc:
        raise MetadataError(path, exc.problem) from exc
    except OSError as exc:
        raise MetadataError(path, f"could not read its metadata: {exc.strerror or exc}") from exc
    for problem in blocks.errors.values():
        log.info("%s: %s", path, problem)
    return description_of(blocks)


def _read_with_exiv2(path: Path) -> EmbeddedCaption | None:
    """HEIC, AVIF, RAW, GIF, BMP...: EXIF and IPTC through exiv2, XMP through our parser."""
    data = read_regular(path, PHOTO_CAP)
    try:
        image = exiv2.ImageFactory.open(data)
        image.readMetadata()
        exif = next((_decode(d) for d in image.exifData() if d.key() == "Exif.Image.ImageDescription"), None)
        iptc_data = image.iptcData()
        iptc = next((_decode(d) for d in iptc_data if d.key() == "Iptc.Application2.Caption"), None)
        packet = image.xmpPacket()
        present = bool(len(iptc_data))
    except exiv2.Exiv2Error as exc:
        raise MetadataError(path, f"could not read its metadata: {exc}") from None
    xmp = digest = None
    if packet:
        try:
            doc = xmp_packet.parse(packet)
            xmp = xmp_packet.choose(xmp_packet.lang_alt(doc, xmp_packet.DC, "description"))
            digest = xmp_packet.simple(doc, xmp_packet.VISIONCAP, "DescriptionDigest")
        except xmp_packet.XmpError as exc:
            log.info("%s: its XMP cannot be read: %s", path, exc)
    exif, iptc, xmp = meaningful(exif), meaningful(iptc), meaningful(xmp)
    text = mwg_description(exif, iptc, xmp, iptc_present=present, iptc_in_sync=True)
    if text is None:
        return None
    name = "EXIF ImageDescription" if text is exif else "XMP dc:description" if text is xmp else "IPTC Caption-Abstract"
    return EmbeddedCaption(text, name, own=digest == xmp_packet.caption_digest(text))


def _decode(datum) -> str:
    return decode_bytes(datum.toString().encode("utf-8", "surrogateescape"))


# ---- writing ----------------------------------------------------------------------------------


def _fingerprint_of(data: bytes) -> str:
    """core.fingerprint's value for a file holding `data`."""
    digest = hashlib.blake2b(len(data).to_bytes(8, "little"), digest_size=16)
    digest.update(data[:CHUNK])
    if len(data) > CHUNK:
        digest.update(data[max(CHUNK, len(data) - CHUNK) :])
    return f"{VERSION}:{digest.hexdigest()}"


def _unchanged_caption(blocks: Blocks, text: str, own: bool, keywords: tuple[str, ...], title: str | None) -> bool:
    f = fields(blocks)
    if not set(keywords) <= set(f.keywords) or (title is not None and f.title != title):
        return False
    return f.exif == text and f.xmp == text and (is_own(f, text) if own else f.digest is None and f.iptc in (None, text))


def embed_description(
    path: str | Path,
    text: str,
    *,
    keep_mtime: bool = False,
    expect: FileState | None = None,
    may_replace: Callable[[EmbeddedCaption], bool] | None = None,
    own: bool = True,
    dry_run: bool = False,
    keywords: tuple[str, ...] = (),
    title: str | None = None,
    mark: Mark | None = None,
) -> EmbedResult:
    """Write `text` as the photo's description (see the module docstring), replacing the file
    atomically after checking the new file against the old one.

    `expect`: the photo's state when it was captioned; a photo that differs now is not written
    (PhotoChanged). `may_replace(existing)`: asked when the photo holds a different caption that
    is not VisionCap's own; False keeps it (KeptCaption). None replaces any caption. `own`: the
    caption is the model's (marked as VisionCap's own, so a later run may replace it); False
    for a caption a person wrote or edited, which later runs keep. `mark`: the model (and
    style) that wrote an own caption, recorded beside it. `dry_run`: everything but the
    replacing (the new file is built and checked): `written` says whether it would be written.

    Raises ReadOnlyPhoto, CannotEmbed (write a sidecar instead), PhotoChanged, KeptCaption or
    MetadataError; in every case the photo is left exactly as it was."""
    path = Path(path)
    try:
        st = check_replaceable(path, "the photo")
    except FileError as exc:
        raise ReadOnlyPhoto(path, exc.problem) from exc
    if st is None:
        raise MetadataError(path, "the photo is gone; nothing written")
    suffix = suffix_of(path)
    if suffix not in EMBED_SUFFIXES:
        raise CannotEmbed(path, f"{suffix or 'this'} files cannot hold an embedded caption")
    try:
        data = read_regular(path, PHOTO_CAP)
    except FileError as exc:
        raise CannotEmbed(path, exc.problem) from exc
    except OSError as exc:
        raise MetadataError(path, f"could not read it: {exc.strerror or exc}") from exc
    if expect is not None and (len(data) != expect.size or _fingerprint_of(data) != expect.fingerprint):
        raise PhotoChanged(path, "changed since it was captioned (another file now has its name?); not written")
    try:
        blocks = read_blocks(data, suffix)
    except (ContainerError, TiffError) as exc:
        raise CannotEmbed(path, f"its structure cannot be followed ({exc}); nothing written into it") from exc
    if tiff_is_raw(blocks):
        raise CannotEmbed(path, "a camera RAW (DNG) file; nothing written into it")
    unreadable = [blocks.errors[k] for k in ("exif", "xmp", "layout") if k in blocks.errors]
    if unreadable:
        raise CannotEmbed(path, "; ".join(unreadable) + ", so VisionCap does not write into it")
    if _unchanged_caption(blocks, text, own, tuple(keywords), title):
        return EmbedResult(FileState(st.st_size, st.st_mtime_ns, _fingerprint_of(data)), False)
    current = description_of(blocks)
    if current is not None and current.text != text and not current.own and may_replace is not None \
            and not may_replace(current):
        raise KeptCaption(path, current.text, current.field)
    f = fields(blocks)
    found = (f.exif, f.xmp, f.iptc, current.text if current else None)
    previous = frozenset(t for t in map(meaningful, found) if t is not None)
    try:
        written, plan = with_description(data, blocks, text, previous, own, tuple(keywords), title, mark)
    except NotWritten as exc:
        if exc.structural:
            raise CannotEmbed(path, f"{exc.reason}; nothing written into it") from exc
        raise MetadataError(path, f"not written: {exc.reason}") from exc
    if dry_run:
        return EmbedResult(FileState(st.st_size, st.st_mtime_ns, _fingerprint_of(data)), True, tuple(plan.notes))
    _replace(path, written, st, keep_mtime)
    return EmbedResult(file_state(path), True, tuple(plan.notes))


def _replace(path: Path, written: bytes, st: os.stat_result, keep_mtime: bool) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(written)
        if hasattr(os, "chown"):
            # keep the owner when running as another user (root, a service)
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        if keep_mtime:
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        now = os.stat(path)  # the last moment to notice another program writing the photo
        if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            raise PhotoChanged(path, "was changed by another program while VisionCap wrote it; not written")

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise MetadataError(path, f"could not replace it: {exc.strerror or exc}") from exc


def read_fields(path: str | Path) -> Fields | None:
    """Every caption, title and keyword field of the photo (JPEG, PNG, WebP, TIFF; None for other
    formats). Raises MetadataError when the file cannot be read."""
    path = Path(path)
    if suffix_of(path) not in EMBED_SUFFIXES:
        return None
    try:
        return fields(read_blocks(_head(path), suffix_of(path)))
    except (ContainerError, TiffError) as exc:
        raise MetadataError(path, f"could not read its metadata: {exc}") from exc
    except FileError as exc:
        raise MetadataError(path, exc.problem) from exc
    except OSError as exc:
        raise MetadataError(path, f"could not read its metadata: {exc.strerror or exc}") from exc


def read_keywords(path: str | Path) -> tuple[str, ...]:
    """The photo's keywords: XMP dc:subject, then IPTC Keywords not among them (JPEG, PNG, WebP,
    TIFF; () for other formats). Raises MetadataError when the file cannot be read."""
    found = read_fields(path)
    return found.keywords if found is not None else ()
