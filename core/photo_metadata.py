"""The description embedded in a photo: read as the Metadata Working Group says, written into
all three places photo managers look, never at the cost of anything else in the file.

Fields (one caption, the same text in each):
- XMP `dc:description`, the `x-default` entry of its language alternatives (other languages kept);
- EXIF `ImageDescription` (0x010E), UTF-8 as the MWG recommends;
- IPTC IIM `Caption-Abstract` (2:120), only where the file already has IPTC, cut to the
  standard's 2,000 bytes at a character boundary, with the UTF-8 character set (1:90) declared
  when the text needs it and none is.

Everything goes through exiv2 (the python-exiv2 binding). exiv2 is only ever handed bytes or a
memory map, never a path: on Windows its 0.28 releases cannot open paths outside the ANSI code
page. Writing changes a copy in memory, re-reads it to check that the caption is there and that
every other field, the ICC profile and (optionally) the decoded pixels are unchanged, and only
then replaces the photo atomically (core.atomic), so a failure or a kill leaves it byte-identical.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mmap
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import exiv2
from PIL import Image, ImageChops, ImageSequence

from core.atomic import atomic_write
from core.errors import MetadataError
from core.fingerprint import FileState, file_state

EXIF_KEY = "Exif.Image.ImageDescription"
IPTC_KEY = "Iptc.Application2.Caption"
IPTC_CHARSET_KEY = "Iptc.Envelope.CharacterSet"
XMP_KEY = "Xmp.dc.description"
IPTC_LIMIT = 2000  # bytes: the longest Caption-Abstract IPTC IIM allows
IPTC_UTF8 = "\x1b%G"  # ISO 2022 escape for UTF-8, the value of 1:90 CodedCharacterSet
# Photoshop image resources in a JPEG's APP13: the IPTC block and the digest stored with it
IRB_IPTC, IRB_IPTC_DIGEST = 0x0404, 0x0425
T = TypeVar("T")
HEADER_BYTES = 4 << 20  # JPEG metadata segments are at most 64 KiB each

# Descriptions cameras fill in by themselves; they are not captions (digiKam ignores them too).
CAMERA_PLACEHOLDERS = frozenset(
    s.casefold()
    for s in (
        "OLYMPUS DIGITAL CAMERA", "SONY DSC", "MINOLTA DIGITAL CAMERA",
        "KONICA MINOLTA DIGITAL CAMERA", "KODAK Digital Still Camera", "SAMSUNG DIGITAL CAMERA",
        "SAMSUNG CAMERA PICTURES", "PENTAX DIGITAL CAMERA", "LEICA DIGITAL CAMERA",
        "DIGITAL CAMERA", "DIGITAL IMAGE",
    )
)

# exiv2 must set up its XMP toolkit once, before threads use it (exiv2's documentation).
exiv2.XmpParser.initialize()


class ReadOnlyPhoto(MetadataError):
    """The photo or its folder is read-only: nothing was written."""


class CannotEmbed(MetadataError):
    """exiv2 cannot write this format (HEIC, AVIF, camera RAW, BMP, GIF): use a sidecar."""


@dataclass(frozen=True)
class EmbeddedCaption:
    text: str
    field: str  # "XMP dc:description", "EXIF ImageDescription" or "IPTC Caption-Abstract"


# ---- reading ----------------------------------------------------------------------------------


def decode_text(raw: str) -> str:
    """exiv2 hands strings over with undecodable bytes as surrogates: UTF-8 if the bytes are
    UTF-8, else Windows-1252 (what old cameras and Windows tools wrote), trailing NULs removed."""
    data = raw.encode("utf-8", "surrogateescape").rstrip(b"\0")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def meaningful(text: str | None) -> str | None:
    """None for a missing, blank or camera-placeholder value."""
    if text is None or not text.strip() or text.strip().casefold() in CAMERA_PLACEHOLDERS:
        return None
    return text


def recover_truncated_iptc(iptc: str | None, xmp: str | None) -> str | None:
    """IPTC's value, or XMP's when IPTC holds exactly XMP cut at the 2,000-byte limit."""
    cut = iptc is not None and xmp is not None and len(iptc.encode()) > IPTC_LIMIT - 4
    return xmp if cut and len(xmp) > len(iptc) and xmp.startswith(iptc) else iptc


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


def lang_alternatives(datum) -> dict[str, str]:
    value = datum.value()
    if isinstance(value, exiv2.LangAltValue):
        return {lang: decode_text(text) for lang, text in value.items()}
    return {"x-default": decode_text(datum.toString())}


def xmp_default(alternatives: dict[str, str]) -> str | None:
    if not alternatives:
        return None
    return alternatives.get("x-default", next(iter(alternatives.values())))


def _jpeg_iptc_in_sync(data) -> bool:
    """True unless a JPEG's Photoshop resources store an IPTC digest that no longer matches its
    IPTC block. Other formats keep no digest where we look, and count as in sync."""
    try:  # the APP13 segment sits in the header: no need to copy the whole file
        with Image.open(io.BytesIO(data[:HEADER_BYTES])) as image:
            resources = image.info.get("photoshop") or {}
    except (OSError, ValueError):
        return True
    stored, block = resources.get(IRB_IPTC_DIGEST), resources.get(IRB_IPTC)
    return stored is None or block is None or hashlib.md5(block).digest() == stored


def read_mapped(path: str | Path, read: Callable[[mmap.mmap], T], what: str) -> T:
    """`read(buffer)` on a read-only memory map of the file: exiv2 then reads only the pages
    holding metadata. Raises MetadataError "PATH: could not read WHAT: ..." for any failure."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                return read(data)
            except exiv2.Exiv2Error as exc:
                # keep only the text: the traceback holds exiv2's view of the map, which must
                # be gone before the map can close
                reason = str(exc)
            raise MetadataError(path, f"could not read {what}: {reason}")
    except (OSError, ValueError) as exc:  # ValueError: mmap of an empty file
        raise MetadataError(path, f"could not read {what}: {exc}") from exc


def _fields(buffer) -> tuple[str | None, str | None, str | None, bool, bool]:
    """(exif, iptc, xmp, iptc present, iptc in sync) of an image in `buffer`. All exiv2 objects
    die when this returns, so the caller may close the buffer."""
    image = exiv2.ImageFactory.open(buffer)
    image.readMetadata()
    exif = next((decode_text(d.toString()) for d in image.exifData() if d.key() == EXIF_KEY), None)
    iptc_data = image.iptcData()
    iptc = next((decode_text(d.toString()) for d in iptc_data if d.key() == IPTC_KEY), None)
    xmp = next((xmp_default(lang_alternatives(d)) for d in image.xmpData() if d.key() == XMP_KEY), None)
    exif, iptc, xmp = meaningful(exif), meaningful(iptc), meaningful(xmp)
    in_sync = True
    # the digest only matters when the rule gets that far and the answer depends on it
    if not exif and len(iptc_data) and xmp is not None and xmp != iptc and image.mimeType() == "image/jpeg":
        in_sync = _jpeg_iptc_in_sync(buffer)
    return exif, iptc, xmp, bool(len(iptc_data)), in_sync


def read_embedded(path: str | Path) -> EmbeddedCaption | None:
    """The photo's description by the MWG rule, or None when it has none (or only a camera's
    placeholder). Raises MetadataError when exiv2 cannot read the file."""
    exif, iptc, xmp, present, in_sync = read_mapped(path, _fields, "its metadata")
    text = mwg_description(exif, iptc, xmp, iptc_present=present, iptc_in_sync=in_sync)
    if text is None:
        return None
    field = (
        "EXIF ImageDescription" if text is exif
        else "XMP dc:description" if text is xmp
        else "IPTC Caption-Abstract"
    )
    return EmbeddedCaption(text, field)


# ---- writing ----------------------------------------------------------------------------------


def image_bytes(image) -> bytes:
    """The whole file of an exiv2 image opened from memory, after writeMetadata."""
    return bytes(image.io().data())


def set_xmp_description(xmp_data, text: str) -> None:
    """Set the x-default alternative of dc:description, keeping any other languages."""
    alternatives = next((lang_alternatives(d) for d in xmp_data if d.key() == XMP_KEY), {})
    alternatives["x-default"] = text
    xmp_data[XMP_KEY] = exiv2.LangAltValue(alternatives)


def truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _writable(image, metadata) -> bool:
    return bool(int(image.checkMode(metadata)) & int(exiv2.AccessMode.amWrite))


# pointers to IFDs, strips, tiles, the maker note and the thumbnail: rewritten wherever the
# data lands
_MOVING_EXIF = ("Offset", "Offsets", "ByteCounts", "Tag", "JPEGInterchangeFormat", "JPEGInterchangeFormatLength",
                "SubIFDs")
# in TIFF, the tags that carry the IPTC and XMP blocks: compared entry by entry instead
_CONTAINERS = {"Exif.Image.IPTCNAA", "Exif.Image.XMLPacket", "Exif.Image.ImageResources"}


def _snapshot(image) -> list[tuple[str, str, str]]:
    """Every metadata entry as sortable (key, type, value) triples, less the exiv2 bookkeeping
    that legitimately moves when a file is rewritten (offsets of IFDs and strips)."""
    entries = []
    for data in (image.exifData(), image.iptcData(), image.xmpData()):
        for datum in data:
            key = datum.key()
            if key in _CONTAINERS or (key.startswith("Exif.") and key.endswith(_MOVING_EXIF)):
                continue
            entries.append((key, datum.typeName() or "", datum.toString()))
    return sorted(entries)


def _icc(image) -> bytes:
    if not image.iccProfileDefined():
        return b""
    return bytes(image.iccProfile().data())


def same_pixels(a: bytes, b: bytes) -> bool:
    """Whether two image files decode to the same pixels, frame by frame."""
    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        if getattr(first, "n_frames", 1) != getattr(second, "n_frames", 1):
            return False
        for x, y in zip(ImageSequence.Iterator(first), ImageSequence.Iterator(second)):
            if x.mode != y.mode or x.size != y.size:
                return False
            try:  # difference() is C and needs no copy; tobytes() for the modes it lacks
                if ImageChops.difference(x, y).getbbox(alpha_only=False) is not None:
                    return False
            except ValueError:
                if x.tobytes() != y.tobytes():
                    return False
    return True


def check_writable(path: Path) -> os.stat_result:
    """Raise ReadOnlyPhoto when the file is marked read-only (even for a user, such as root or
    an administrator, whom the system would let write it anyway) or its folder cannot take the
    temporary copy. Returns the file's stat."""
    st = path.stat()
    if not st.st_mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise ReadOnlyPhoto(path, "the file is read-only; nothing written")
    if not os.access(path.parent, os.W_OK):
        raise ReadOnlyPhoto(path, "its folder is read-only; nothing written")
    return st


def with_description(data: bytes, path: Path, text: str, verify_pixels: bool = True) -> bytes:
    """The file `data` with the caption written into its three fields, checked by re-reading.
    Raises CannotEmbed for formats exiv2 cannot write, MetadataError when the check fails."""
    image = exiv2.ImageFactory.open(data)
    image.readMetadata()
    if not (_writable(image, exiv2.MetadataId.mdXmp) and _writable(image, exiv2.MetadataId.mdExif)):
        raise CannotEmbed(path, f"cannot write metadata into {image.mimeType()} files")
    before, icc = _snapshot(image), _icc(image)
    changed = {EXIF_KEY, XMP_KEY}
    image.exifData()[EXIF_KEY] = text
    set_xmp_description(image.xmpData(), text)
    iptc = image.iptcData()
    iptc_text = truncate_utf8(text, IPTC_LIMIT)
    if len(iptc) and _writable(image, exiv2.MetadataId.mdIptc):
        changed.add(IPTC_KEY)
        iptc[IPTC_KEY] = iptc_text
        if not iptc_text.isascii() and not any(d.key() == IPTC_CHARSET_KEY for d in iptc):
            iptc[IPTC_CHARSET_KEY] = IPTC_UTF8
            changed.add(IPTC_CHARSET_KEY)
    image.writeMetadata()
    written = image_bytes(image)
    del image, iptc

    check = exiv2.ImageFactory.open(written)
    check.readMetadata()
    after = _snapshot(check)
    problems = []
    kept_before = [e for e in before if e[0] not in changed]
    kept_after = [e for e in after if e[0] not in changed]
    if kept_before != kept_after:
        keys = sorted({e[0] for e in set(kept_before) ^ set(kept_after)}) or ["a repeated value"]
        problems.append("other metadata fields would change (" + ", ".join(keys[:3]) + ")")
    if _icc(check) != icc:
        problems.append("the ICC profile changed")
    exif, iptc_back, xmp, _, _ = _fields(written)
    if exif != meaningful(text) or xmp != meaningful(text) or (IPTC_KEY in changed and iptc_back != meaningful(iptc_text)):
        problems.append("the caption did not read back")
    del check
    if verify_pixels:
        try:
            if not same_pixels(data, written):
                problems.append("the image data changed")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            problems.append(f"its pixels could not be decoded to check them ({exc})")
    if problems:
        raise MetadataError(path, "not written: " + ", ".join(problems))
    return written


def embed_description(
    path: str | Path, text: str, *, keep_mtime: bool = False, verify_pixels: bool = True
) -> FileState:
    """Write `text` into the photo's XMP, EXIF and (where present) IPTC description, replacing
    the file atomically. Returns the photo's new state (its fingerprint changes with its head).

    Raises ReadOnlyPhoto, CannotEmbed (write a sidecar instead) or MetadataError; in every case
    the photo is left exactly as it was."""
    path = Path(path)
    st = check_writable(path)
    try:
        data = path.read_bytes()
        written = with_description(data, path, text, verify_pixels)
    except OSError as exc:
        raise MetadataError(path, f"could not read it: {exc.strerror or exc}") from exc
    except exiv2.Exiv2Error as exc:
        raise MetadataError(path, f"exiv2 could not process it: {exc}") from exc

    def write(tmp: Path) -> None:
        tmp.write_bytes(written)
        if hasattr(os, "chown"):
            # keep the owner when running as another user (root, a service)
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        if keep_mtime:
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise MetadataError(path, f"could not replace it: {exc.strerror or exc}") from exc
    return file_state(path)


def can_embed(path: str | Path) -> bool:
    """Whether exiv2 can write XMP and EXIF into this file's format (reads the header only)."""
    try:
        return read_mapped(path, _can_embed, "its format")
    except MetadataError:
        return False


def _can_embed(buffer) -> bool:
    image = exiv2.ImageFactory.open(buffer)
    return _writable(image, exiv2.MetadataId.mdXmp) and _writable(image, exiv2.MetadataId.mdExif)
