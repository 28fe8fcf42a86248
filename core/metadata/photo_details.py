"""A photo's keywords and title as a photo manager left them, for the app to show as tags and a
title: read from the photo itself (XMP dc:subject, then IPTC Keywords; XMP dc:title, else the
Windows XPTitle) and from its XMP sidecars, merged. Only read; writing goes through
core.metadata.caption_writes like captions do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import MetadataError
from core.metadata import xmp_packet
from core.metadata.photo_metadata import meaningful, read_fields
from core.metadata.sidecars import existing_sidecars, read_sidecar_doc


@dataclass(frozen=True)
class PhotoDetails:
    keywords: tuple[str, ...] = ()  # in the order found, each once
    title: str = ""  # "" when none
    problems: tuple[str, ...] = ()  # files that could not be read ("<file>: <why>"); the rest were


def read_details(image: str | Path) -> PhotoDetails:
    """The keywords and title of `image` and its XMP sidecars. Never raises: a file that cannot
    be read is a problem in the result and the others are still read. The photo's own title wins
    over a sidecar's; keywords are the photo's, then the sidecars' not among them."""
    image = Path(image)
    keywords: dict[str, None] = {}
    titles: list[str] = []
    problems: list[str] = []
    try:
        found = read_fields(image)
        if found is not None:
            keywords.update(dict.fromkeys(k.strip() for k in found.keywords if k.strip()))
            title = meaningful(found.title) or meaningful(found.xp_title)
            if title:
                titles.append(title.strip())
    except MetadataError as exc:
        problems.append(str(exc))
    for sidecar in existing_sidecars(image):
        try:
            doc = read_sidecar_doc(sidecar)
        except MetadataError as exc:
            problems.append(str(exc))
            continue
        subject = xmp_packet.bag(doc, xmp_packet.DC, "subject") or []
        keywords.update(dict.fromkeys(k.strip() for k in subject if k.strip()))
        title = meaningful(xmp_packet.choose(xmp_packet.lang_alt(doc, xmp_packet.DC, "title")))
        if title:
            titles.append(title.strip())
    return PhotoDetails(tuple(keywords), titles[0] if titles else "", tuple(problems))
