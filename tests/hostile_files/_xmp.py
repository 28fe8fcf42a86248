"""XMP packets and sidecars in the shapes Lightroom, darktable, digiKam, Capture One and
broken writers leave, as bytes (one of them is not valid UTF-8)."""

from __future__ import annotations

import hashlib

PACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"
NS = {
    "x": "adobe:ns:meta/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/", "xmp": "http://ns.adobe.com/xap/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/", "exif": "http://ns.adobe.com/exif/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/", "lr": "http://ns.adobe.com/lightroom/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/", "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "xmpNote": "http://ns.adobe.com/xmp/note/", "hostile": "http://example.com/ns/hostile/1.0/",
    "darktable": "http://darktable.sf.net/", "digiKam": "http://www.digikam.org/ns/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
}
CAPTION = "Ein Café in Zürich"


def _xmlns(prefixes) -> str:
    return "".join(f'\n    xmlns:{p}="{NS[p]}"' for p in prefixes)


def xmpmeta(descriptions: str, toolkit: str = "Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00") -> str:
    """x:xmpmeta/rdf:RDF around rdf:Description elements (the body of every packet/sidecar)."""
    return (f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="{toolkit}">\n'
            f' <rdf:RDF xmlns:rdf="{NS["rdf"]}">\n{descriptions}\n </rdf:RDF>\n</x:xmpmeta>')


def rdf_description(prefixes, attributes: str = "", body: str = "", about: str = "") -> str:
    """One rdf:Description with namespace declarations, attribute shorthand and elements."""
    return (f'  <rdf:Description rdf:about="{about}"{_xmlns(prefixes)}\n   {attributes}>\n'
            f'{body}\n  </rdf:Description>')


def xpacket(body: str | bytes, padding: int = 2048, writable: bool = True, quote: str = '"') -> bytes:
    """The xpacket wrapper (BOM in begin=, id, whitespace padding, end="w"/"r"); exiftool
    writes it with single quotes."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    pad = (" " * 99 + "\n") * (padding // 100)
    begin = f"<?xpacket begin={quote}\ufeff{quote} id={quote}{PACKET_ID}{quote}?>\n"
    end = f"<?xpacket end={quote}{'w' if writable else 'r'}{quote}?>"
    return begin.encode() + body + b"\n" + pad.encode() + end.encode()


def lang_alt(values: dict[str, str], tag: str) -> str:
    items = "".join(f'\n     <rdf:li xml:lang="{lang}">{text}</rdf:li>' for lang, text in values.items())
    return f"   <{tag}>\n    <rdf:Alt>{items}\n    </rdf:Alt>\n   </{tag}>"


def rdf_array(kind: str, values, tag: str) -> str:
    items = "".join(f"\n     <rdf:li>{value}</rdf:li>" for value in values)
    return f"   <{tag}>\n    <rdf:{kind}>{items}\n    </rdf:{kind}>\n   </{tag}>"


def lightroom_body(caption: str = CAPTION, caption_de: str = "Ein Café in Zürich (de)",
                   keywords=("Café", "Straße"), creator: str = "José Müller",
                   rating: int = 4, extra: str = "") -> str:
    """Lightroom Classic's rdf:Description (see `xmp_packet`)."""
    history = "".join(
        f'\n     <rdf:li stEvt:action="{action}" stEvt:when="2024-07-15T09:1{i}:00+02:00"'
        f' stEvt:softwareAgent="Adobe Photoshop Lightroom Classic 13.4"'
        f' stEvt:changed="{changed}"/>' for i, (action, changed) in
        enumerate([("derived", "/metadata"), ("saved", "/metadata")]))
    body = "\n".join([
        '   <xmp:Label>Red</xmp:Label>', lang_alt({"x-default": caption, "de-DE": caption_de}, "dc:description"),
        lang_alt({"x-default": "Zürich"}, "dc:title"), lang_alt({"x-default": "© 2024 José Müller"}, "dc:rights"),
        rdf_array("Seq", [creator], "dc:creator"), rdf_array("Bag", keywords, "dc:subject"),
        rdf_array("Bag", [f"Places|Zürich|{k}" for k in keywords], "lr:hierarchicalSubject"),
        '   <Iptc4xmpCore:CreatorContactInfo rdf:parseType="Resource">\n'
        '    <Iptc4xmpCore:CiAdrCity>Zürich</Iptc4xmpCore:CiAdrCity>\n'
        '    <Iptc4xmpCore:CiEmailWork>jose@example.com</Iptc4xmpCore:CiEmailWork>\n'
        '   </Iptc4xmpCore:CreatorContactInfo>',
        f"   <xmpMM:History>\n    <rdf:Seq>{history}\n    </rdf:Seq>\n   </xmpMM:History>",
        '   <hostile:Private rdf:parseType="Resource"><hostile:Secret>kept</hostile:Secret></hostile:Private>',
        extra])
    attributes = (f'xmp:Rating="{rating}" xmp:CreatorTool="Adobe Photoshop Lightroom Classic 13.4 (Windows)"\n'
                  '   xmp:ModifyDate="2024-07-15T09:12:00+02:00" photoshop:DateCreated="2024-07-14T18:03:22.50"\n'
                  '   exif:DateTimeOriginal="2024-07-14T18:03:22.50" exif:GPSDateTime="2024-07-14T16:03:20Z"\n'
                  '   crs:Version="16.4" crs:ProcessVersion="15.4" crs:WhiteBalance="As Shot"\n'
                  '   crs:Exposure2012="+0.35" crs:HasSettings="True" xmpMM:DocumentID="xmp.did:0a1b2c3d"\n'
                  '   hostile:Flag="on"')
    prefixes = ["xmp", "dc", "photoshop", "exif", "crs", "lr", "xmpMM", "stEvt", "Iptc4xmpCore", "hostile"]
    return rdf_description(prefixes, attributes, body)


def xmp_packet(padding: int = 2048, **fields) -> bytes:
    """Lightroom Classic's packet: xmp:Rating/CreatorTool and crs:* as attributes, xmp:Label,
    dc:description/title/rights rdf:Alt (x-default + de-DE), dc:creator Seq, dc:subject Bag,
    lr:hierarchicalSubject, a rdf:parseType="Resource" struct, xmpMM:History (stEvt structs),
    a private namespace; `fields` go to `lightroom_body`."""
    return xpacket(xmpmeta(lightroom_body(**fields)), padding)


def darktable_body(caption: str = CAPTION) -> str:
    history = "".join(
        f'\n     <rdf:li darktable:num="{n}" darktable:operation="{op}" darktable:enabled="1"'
        f' darktable:modversion="{ver}" darktable:params="{params}" darktable:multi_name=""'
        f' darktable:multi_priority="0" darktable:blendop_version="13" darktable:blendop_params="gz14eJxjYIAACQYYOOHEgAZY0QVwAgBcPgKn"/>'
        for n, (op, ver, params) in enumerate([("rawprepare", 2, "00000000000000000000"),
                                               ("exposure", 6, "0000000000000000803f")]))
    body = "\n".join([
        lang_alt({"x-default": caption}, "dc:description"), rdf_array("Bag", ["Café", "Straße"], "dc:subject"),
        rdf_array("Bag", ["darktable|format|cr3", "Places|Zürich"], "lr:hierarchicalSubject"),
        f"   <darktable:history>\n    <rdf:Seq>{history}\n    </rdf:Seq>\n   </darktable:history>"])
    attributes = ('xmp:Rating="1" xmpMM:DerivedFrom="IMG_0001.CR3" darktable:import_timestamp="63855000000000000"\n'
                  '   darktable:xmp_version="5" darktable:raw_params="0" darktable:auto_presets_applied="1"\n'
                  '   darktable:history_end="2" darktable:iop_order_version="5"')
    return rdf_description(["exif", "xmp", "xmpMM", "dc", "lr", "darktable"], attributes, body)


def xmp_darktable(caption: str = CAPTION, padding: int = 2048) -> bytes:
    """darktable 4.x: rdf:about="", darktable:xmp_version, darktable:history Seq of structs."""
    return xpacket(xmpmeta(darktable_body(caption), "XMP Core 4.4.0-Exiv2"), padding)


def xmp_digikam(caption: str = CAPTION, padding: int = 2048) -> bytes:
    """digiKam 8: digiKam:TagsList Seq with hierarchical tags besides dc:subject."""
    body = "\n".join([lang_alt({"x-default": caption}, "dc:description"),
                      rdf_array("Bag", ["Café", "Straße"], "dc:subject"),
                      rdf_array("Seq", ["Places/Zürich/Café", "Places/Zürich/Straße"], "digiKam:TagsList"),
                      rdf_array("Bag", ["Places|Zürich|Café"], "lr:hierarchicalSubject")])
    desc = rdf_description(["exif", "tiff", "xmp", "dc", "digiKam", "lr"],
                       'xmp:Rating="3" tiff:Orientation="1"', body)
    return xpacket(xmpmeta(desc, "XMP Core 4.4.0-Exiv2"), padding)


def xmp_duplicate_property(caption: str = CAPTION, padding: int = 2048) -> bytes:
    """Capture One / Olympus Viewer: the same simple property element twice in one
    rdf:Description (photoshop:Headline here); Adobe's XMP toolkit (exiv2) refuses it."""
    body = "\n".join([lang_alt({"x-default": caption}, "dc:description"),
                      "   <photoshop:Headline>First headline</photoshop:Headline>",
                      "   <photoshop:Headline>Second headline</photoshop:Headline>"])
    desc = rdf_description(["dc", "photoshop", "xmp"], 'xmp:CreatorTool="Capture One 23 Windows"', body)
    return xpacket(xmpmeta(desc, "XMP Core 5.1.2"), padding)


def xmp_invalid_utf8(caption: str = CAPTION, padding: int = 2048) -> bytes:
    """A packet with one stray byte (0xE9, a Latin-1 "é") in dc:description, as scripts that
    paste Latin-1 text into a UTF-8 packet leave."""
    packet = xmp_packet(padding, caption=caption.replace("é", "\x00"))
    return packet.replace(b"\x00", b"\xe9", 1)


def xmp_doctype_entity(caption: str = CAPTION, padding: int = 2048) -> bytes:
    """A packet whose x:xmpmeta is preceded by a DOCTYPE with an internal entity used in a
    value (hand-edited or malicious XMP; XML parsers must not expand it blindly)."""
    doctype = '<!DOCTYPE x:xmpmeta [\n <!ENTITY hostile "expanded entity">\n]>\n'
    body = rdf_description(["dc"], "", lang_alt({"x-default": f"{caption} &hostile;"}, "dc:description"))
    return xpacket(doctype + xmpmeta(body), padding)


def xmp_uuid_about(caption: str = CAPTION, padding: int = 2048) -> bytes:
    """Old Photoshop (CS and earlier) packets: rdf:about="uuid:..." instead of ""."""
    body = rdf_description(["dc", "xmp"], 'xmp:CreatorTool="Adobe Photoshop CS Windows"',
                       lang_alt({"x-default": caption}, "dc:description"),
                       about="uuid:5a2c3e1f-0b1d-11d9-9f2a-c5d8a1d4e7a9")
    return xpacket(xmpmeta(body, "XMP toolkit 3.0-28, framework 1.6"), padding)


def xmp_no_x_default(caption_en: str = "A café in Zurich", caption_fr: str = "Un café à Zurich",
                     padding: int = 2048) -> bytes:
    """dc:description lang-alt with only en-US and fr, no x-default (some DAM exports)."""
    body = rdf_description(["dc"], "", lang_alt({"en-US": caption_en, "fr": caption_fr}, "dc:description"))
    return xpacket(xmpmeta(body), padding)


def xmp_with_extension(extension_body: str, caption: str = CAPTION) -> tuple[bytes, bytes, str]:
    """(main packet, extension, GUID) for a JPEG's extended XMP (XMP spec part 3, 1.1.3.1):
    the extension is a full x:xmpmeta, the GUID the uppercase hex MD5 of it, and the main packet
    names it in xmpNote:HasExtendedXMP (Photoshop writes big crs/photoshop:History this way)."""
    extension = xmpmeta(rdf_description(["photoshop", "crs"], "", extension_body)).encode("utf-8")
    guid = hashlib.md5(extension).hexdigest().upper()
    main = xpacket(xmpmeta(rdf_description(["dc", "xmpNote"], f'xmpNote:HasExtendedXMP="{guid}"',
                                    lang_alt({"x-default": caption}, "dc:description"))))
    return main, extension, guid


def xmp_sidecar(flavor: str = "darktable", caption: str = CAPTION) -> bytes:
    """A standalone .xmp file: "darktable" (an XML declaration, x:xmpmeta, no xpacket, as
    darktable writes), "lightroom" (Lightroom's description in x:xmpmeta without a wrapper, as
    Lightroom Classic/Camera Raw sidecars look) or "xpacket" (the same wrapped in single-quoted
    xpacket PIs without padding, as exiftool -o x.xmp writes)."""
    if flavor == "darktable":
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                + xmpmeta(darktable_body(caption), "XMP Core 4.4.0-Exiv2") + "\n").encode("utf-8")
    body = xmpmeta(lightroom_body(caption=caption))
    if flavor == "lightroom":
        return (body + "\n").encode("utf-8")
    return xpacket(body, padding=0, quote="'") + b"\n"
