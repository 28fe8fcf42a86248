"""The check after a description write: the new file read from scratch and compared with the
old one, block by block, through VisionCap's own parsers (core.metadata.photo_blocks).

Every part that is not a description block byte for byte (JPEG segments, PNG and WebP chunks,
the compressed image data, a TIFF's strips at their offsets), every EXIF entry by its value
bytes, every XMP property and rdf:about by value, every IPTC dataset and Photoshop resource by
its bytes, the MPF index picture by picture, and the caption must read back. `verify` returns
what differs beyond what the write's Plan says should; [] when nothing does.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from core.metadata import iptc, mpf, xmp_packet
from core.metadata.containers import Container, ContainerError
from core.metadata.photo_blocks import Blocks, read_blocks, strip_ranges
from core.metadata.tiff_ifd import Tiff, TiffError

if TYPE_CHECKING:
    from core.metadata.photo_edit import Plan

# XMP properties a description write may change (namespace, name)
XMP_DESCRIPTION = (xmp_packet.DC, "description")
XMP_MIRRORS = ((xmp_packet.EXIF, "UserComment"), (xmp_packet.TIFF, "ImageDescription"), (xmp_packet.DC, "title"))
XMP_DIGEST = (xmp_packet.VISIONCAP, "DescriptionDigest")
# the IPTC caption a write had to leave alone (its character set cannot hold the new one): kept
# beside the digest so that a later run still knows the photo's caption is VisionCap's own
XMP_IPTC_KEPT = (xmp_packet.VISIONCAP, "IptcKept")
# which model wrote the caption, and in which caption style (Florence-2's "detailed"...): beside
# the digest, on the model's captions only
XMP_MODEL = (xmp_packet.VISIONCAP, "Model")
XMP_STYLE = (xmp_packet.VISIONCAP, "Style")
# keywords and title, when a write is asked to add them: keywords only ever grow
XMP_KEYWORDS = (xmp_packet.DC, "subject")
XMP_HIERARCHICAL = (xmp_packet.LIGHTROOM, "hierarchicalSubject")
XMP_TITLE = (xmp_packet.DC, "title")


def _written_by_a_description(path: tuple[str, ...]) -> bool:
    changing = {f"{{{ns}}}{name}" for ns, name in (XMP_DESCRIPTION, *XMP_MIRRORS)}
    return path[0] in changing or path[0].startswith(f"{{{xmp_packet.VISIONCAP}}}")


def xmp_problems(before, after, growing: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """How the XMP `after` differs from `before` beyond the properties a description write
    changes, and the `growing` ones (keywords) gaining values; [] when it does not."""
    def kept(doc) -> collections.Counter:
        if doc is None:
            return collections.Counter()
        return collections.Counter({k: v for k, v in xmp_packet.properties(doc).items()
                                    if not _written_by_a_description(k[0])})

    old, new = kept(before), kept(after)
    if before is None:  # a new packet describes the file itself
        new.pop((("rdf:about",), ""), None)
    lost, added = old - new, new - old
    may_grow = {f"{{{ns}}}{name}" for ns, name in growing}
    added = collections.Counter({k: n for k, n in added.items() if k[0][0] not in may_grow})
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
    skip = {iptc.CAPTION, iptc.KEYWORD} | ({iptc.CHARSET} if plan.iptc_written is not None else set())
    old = [d.raw for d in before.iptc if (d.record, d.number) not in skip]
    new = [d.raw for d in after.iptc if (d.record, d.number) not in skip]
    problems = [] if old == new else ["IPTC datasets other than the caption would change"]
    keywords = [collections.Counter(d.raw for d in datasets if (d.record, d.number) == iptc.KEYWORD)
                for datasets in (before.iptc, after.iptc)]
    if keywords[0] - keywords[1] or (keywords[1] - keywords[0] and not plan.keywords):
        problems.append("IPTC keywords would be lost or added unasked")
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
    from core.metadata.photo_metadata import (
        description_of,  # the reader's rule, applied to the result
    )

    try:
        after = read_blocks(written, ".tif" if before.format == "tiff" else "")
    except (ContainerError, TiffError) as exc:
        return [f"the new file could not be read back ({exc})"]
    new_errors = [text for key, text in after.errors.items() if key not in before.errors]
    if new_errors:
        return [f"the new file's metadata could not be read back ({'; '.join(new_errors)})"]
    problems = []
    if before.format == "tiff":
        assert before.exif is not None and after.exif is not None, "a TIFF file's blocks hold its TIFF structure"
        problems += _tiff_image_problems(before.exif, after.exif)
    else:
        assert before.container is not None and after.container is not None, "a JPEG, PNG or WebP keeps its container"
        problems += _container_problems(before.container, after.container, plan)
        if before.format == "jpeg":
            problems += mpf.problems(data, written, before.container, after.container)
    problems += _exif_problems(before.exif, after.exif, plan)
    problems += xmp_problems(before.xmp, after.xmp, frozenset({XMP_KEYWORDS, XMP_HIERARCHICAL}) if plan.keywords else frozenset())
    if plan.keywords and after.xmp is not None:
        subject = set(xmp_packet.bag(after.xmp, *XMP_KEYWORDS) or ())
        if not set(plan.keywords) <= subject:
            problems.append("the keywords did not read back")
    if plan.title is not None and (after.xmp is None or xmp_packet.choose(xmp_packet.lang_alt(after.xmp, *XMP_TITLE)) != plan.title):
        problems.append("the title did not read back")
    problems += _iptc_problems(before, after, plan)
    found = description_of(after)
    if found is None or found.text != plan.text:
        problems.append("the caption did not read back")
    elif found.own != plan.own:
        problems.append("the caption did not read back as VisionCap's" if plan.own else "the caption read back as VisionCap's")
    return problems
