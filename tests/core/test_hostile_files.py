"""The hand-made files of tests/hostile_files read, by Pillow (and the standard library's XML
parser), as their builders claim: otherwise tests built on them would test nothing."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import xml.etree.ElementTree as ET

import pytest
from PIL import ExifTags, Image, ImageChops, ImageCms, IptcImagePlugin, TiffImagePlugin

import tests.hostile_files as H

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EXIF, GPS, INTEROP, IFD1 = ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop, ExifTags.IFD.IFD1


def q(name: str) -> str:
    """prefix:local -> {namespace}local."""
    prefix, local = name.split(":")
    return f"{{{H.XMP_NS[prefix]}}}{local}"


def exif_of(block: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(block)
    return exif


def open_bytes(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def ifd_at(data: bytes, offset: int, byte_order: str) -> dict:
    """Pillow's reading of the IFD at `offset` of `data`, its value offsets counted from 0."""
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=byte_order.encode())
    fp = io.BytesIO(data)
    fp.seek(offset)
    ifd.load(fp)
    return dict(ifd)


def description_of(packet: bytes) -> ET.Element:
    return ET.fromstring(packet).find(f"{RDF}RDF/{RDF}Description")


# TIFF / EXIF


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_camera_exif_ifds_in_both_byte_orders(byte_order):
    block = H.camera_exif("canon", byte_order)
    assert block[:4] == (b"II*\0" if byte_order == "II" else b"MM\0*")
    exif = exif_of(block)
    assert (exif[271], exif[272], exif[274]) == ("Canon", "Canon EOS R6", 1)
    photo = exif.get_ifd(EXIF)
    assert photo[0x9003] == "2024:07:14 18:03:22"
    assert photo[0x829A] == pytest.approx(1 / 250) and photo[0x9204] == pytest.approx(-1 / 3)
    assert exif.get_ifd(GPS)[2] == (52.0, 31.0, 12.34)
    assert exif.get_ifd(INTEROP) == {1: "R98", 2: b"0100"}
    assert exif[H.EXIF_IFD] % 2 == 0 and exif[H.GPS_IFD] % 2 == 0  # word-aligned IFDs
    thumb = exif.get_ifd(IFD1)
    assert thumb[0x0103] == 6 and thumb[0x0201] % 2 == 0
    jpeg = block[thumb[0x0201]:thumb[0x0201] + thumb[0x0202]]
    assert jpeg == H.thumbnail_jpeg() and open_bytes(jpeg).size == (32, 24)


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_every_value_type(byte_order):
    entries = [(0x1000, H.BYTE, [1, 2, 255]), (0x1001, H.ASCII, "text"), (0x1002, H.SHORT, [1, 65535]),
               (0x1003, H.LONG, 70000), (0x1004, H.RATIONAL, [(1, 3), (5, 2)]), (0x1005, H.SBYTE, -5),
               (0x1006, H.UNDEFINED, b"\x00\x01\x02\x03\x04"), (0x1007, H.SSHORT, -300),
               (0x1008, H.SLONG, -70000), (0x1009, H.SRATIONAL, (-1, 3)), (0x100A, H.FLOAT, 1.5),
               (0x100B, H.DOUBLE, 2.25)]
    exif = exif_of(H.tiff_block(entries, byte_order=byte_order))
    assert exif[0x1000] == b"\x01\x02\xff"
    assert (exif[0x1001], exif[0x1002], exif[0x1003]) == ("text", (1, 65535), 70000)
    assert exif[0x1004] == pytest.approx((1 / 3, 5 / 2))
    assert (exif[0x1005], exif[0x1006], exif[0x1007], exif[0x1008]) == (-5, b"\x00\x01\x02\x03\x04", -300, -70000)
    assert exif[0x1009] == pytest.approx(-1 / 3)
    assert (exif[0x100A], exif[0x100B]) == (1.5, 2.25)


def test_xp_fields_are_ucs2_le_with_a_terminator():
    assert H.ucs2("Zürich") == "Zürich".encode("utf-16-le") + b"\0\0"
    xp = {H.XP_TITLE: "Titel Zürich", H.XP_COMMENT: "Kommentar ☕", H.XP_SUBJECT: "Betreff",
          H.XP_KEYWORDS: "Café;Straße"}
    exif = exif_of(H.camera_exif("canon", "MM", xp=xp))  # little-endian even in an MM block
    for tag, text in xp.items():
        assert exif[tag].decode("utf-16-le") == text + "\0"


@pytest.mark.parametrize(("code", "byte_order", "prefix", "encoding"), [
    ("ascii", "II", b"ASCII\0\0\0", "ascii"), ("unicode", "II", b"UNICODE\0", "utf-16-le"),
    ("unicode", "MM", b"UNICODE\0", "utf-16-be"), ("undefined", "II", b"\0" * 8, "utf-8")])
def test_user_comment_codes(code, byte_order, prefix, encoding):
    text = "Ein Cafe" if code == "ascii" else "Ein Café"
    comment = H.user_comment(text, code, byte_order)
    stored = exif_of(H.camera_exif("nikon", byte_order, comment=comment)).get_ifd(EXIF)[H.USER_COMMENT]
    assert stored[:8] == prefix and stored[8:].decode(encoding) == text


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_image_description_encodings(encoding):
    text = "Ein Café in Zürich – 5€"
    value = text if encoding == "utf-8" else H.ascii_value(text, encoding)
    stored = exif_of(H.camera_exif(description=value))[0x010E]  # Pillow decodes ASCII as Latin-1
    assert stored.encode("latin-1").decode(encoding) == text


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_canon_makernote_offsets_count_from_the_tiff_header(byte_order):
    block = H.camera_exif("canon", byte_order)
    note = exif_of(block).get_ifd(EXIF)[H.MAKERNOTE]
    at = block.index(note)
    read = ifd_at(block, at, byte_order)
    assert read[0x0006] == "Canon EOS R6" and read[0x0007] == "Firmware Version 1.8.1"
    assert read[0x0009].rstrip("\0") == "Hostile Owner" and read[0x0010] == 0x80000453
    # moved anywhere else (here: to offset 0 of its own copy) the value offsets miss
    moved = ifd_at(note + b"\0" * len(block), 0, byte_order)
    assert moved[0x0006] != "Canon EOS R6" and moved[0x0010] == 0x80000453


@pytest.mark.parametrize(("outer", "inner"), [("II", "MM"), ("MM", "MM"), ("II", "II")])
def test_nikon_makernote_carries_its_own_tiff_header(outer, inner):
    block = H.tiff_block([(271, H.ASCII, "NIKON CORPORATION")], byte_order=outer,
                         makernote=H.nikon_makernote(byte_order=inner))
    note = exif_of(block).get_ifd(EXIF)[H.MAKERNOTE]
    assert note[:10] == b"Nikon\0\x02\x10\0\0" and note[10:12] == inner.encode()
    inside = exif_of(note[10:])  # readable wherever the note lies
    assert (inside[1], inside[2], inside[4], inside[5]) == (b"0210", (0, 400), "FINE  ", "AUTO        ")
    assert exif_of(block)[271] == "NIKON CORPORATION"


@pytest.mark.parametrize(("camera", "header", "tag", "value"), [
    ("sony", b"SONY DSC \0\0\0", 0xB020, "Standard"),
    ("panasonic", b"Panasonic\0\0\0", 0x0051, "LUMIX G VARIO 12-60/F3.5-5.6")])
def test_sony_and_panasonic_makernotes_have_a_header_then_absolute_offsets(camera, header, tag, value):
    block = H.camera_exif(camera, "II")
    note = exif_of(block).get_ifd(EXIF)[H.MAKERNOTE]
    assert note.startswith(header)
    assert ifd_at(block, block.index(note) + len(header), "II")[tag] == value


# JPEG


def test_jpeg_keeps_segments_in_order_and_pillows_scan():
    segments = [H.app0_jfif(), H.app1_exif(H.camera_exif()), H.app1_xmp(H.xmp_packet()),
                H.app2_icc(H.icc_profile()), H.app11_jumbf(), H.app13_iptc(H.iptc_iim()),
                H.app14_adobe(), H.com("Created with GIMP")]
    data = H.jpeg(segments, size=(40, 30), seed=3)
    im = open_bytes(data)
    assert [marker for marker, _ in im.applist] == [
        "APP0", "APP1", "APP1", "APP2", "APP2", "APP11", "APP13", "APP14", "COM"]
    assert im.format == "JPEG" and im.size == (40, 30) and data.endswith(b"\xff\xd9")
    assert same_pixels(im, open_bytes(H.pillow_jpeg((40, 30), 3)))
    assert open_bytes(H.jpeg()).applist == []  # Pillow's own JFIF APP0 is dropped
    assert im.info["adobe"] == 100 and im.info["adobe_transform"] == 1
    assert im.info["comment"] == b"Created with GIMP" and im.info["jfif_version"] == (1, 1)


def test_jpeg_exif_and_xmp_segments():
    packet = H.xmp_packet()
    im = open_bytes(H.jpeg([H.app1_exif(H.camera_exif("sony", "MM")), H.app1_xmp(packet)]))
    assert im.getexif()[271] == "SONY" and im.info["xmp"] == packet


def test_icc_profile_over_two_app2_chunks():
    profile = H.icc_profile("Hostile RGB")
    im = open_bytes(H.jpeg([H.app2_icc(profile, chunks=2)]))
    chunks = [payload for marker, payload in im.applist if marker == "APP2"]
    assert [c[:14] for c in chunks] == [b"ICC_PROFILE\0\x01\x02", b"ICC_PROFILE\0\x02\x02"]
    assert im.info["icc_profile"] == profile
    parsed = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    assert ImageCms.getProfileDescription(parsed).strip() == "Hostile RGB"
    assert struct.unpack(">L", profile[:4])[0] == len(profile) and profile[36:40] == b"acsp"


def test_extended_xmp_follows_the_xmp_spec():
    body = "   <photoshop:History>" + "x" * 100_000 + "</photoshop:History>"
    im = open_bytes(H.jpeg(H.app1_extended_xmp(body)))
    main = im.info["xmp"]
    guid = description_of(main).get(q("xmpNote:HasExtendedXMP"))
    parts = [p[len(H.XMP_EXT_ID):] for m, p in im.applist if m == "APP1" and p.startswith(H.XMP_EXT_ID)]
    assert len(parts) == 2 and {p[:32].decode() for p in parts} == {guid}
    full = parts[0][32:36]
    extension = bytearray(struct.unpack(">L", full)[0])
    for part in parts:
        assert part[32:36] == full
        offset = struct.unpack(">L", part[36:40])[0]
        extension[offset:offset + len(part) - 40] = part[40:]
    assert hashlib.md5(extension).hexdigest().upper() == guid
    assert description_of(bytes(extension)).find(q("photoshop:History")).text == "x" * 100_000


def test_mpo_index_points_at_the_second_picture():
    im = open_bytes(H.mpo([H.app1_exif(H.camera_exif())]))
    assert im.format == "MPO" and im.n_frames == 2 and im.getexif()[271] == "Canon"
    entries = im.mpinfo[0xB002]
    assert entries[0]["Attribute"]["MPType"] == "Baseline MP Primary Image"
    assert entries[0]["Attribute"]["RepresentativeImageFlag"] and entries[0]["DataOffset"] == 0
    assert entries[1]["Attribute"]["MPType"] == "Large Thumbnail (VGA Equivalent)"
    im.seek(1)
    assert im.size == (32, 24) and same_pixels(im, open_bytes(H.pillow_jpeg((32, 24), 1)))


def test_flir_segments_reassemble_to_an_fff_record():
    payload = H.flir_fff((16, 12))
    im = open_bytes(H.jpeg([H.app1_exif(H.camera_exif()), *H.app1_flir(payload, chunk=200)]))
    chunks = [p for m, p in im.applist if m == "APP1" and p.startswith(b"FLIR\0")]
    assert len(chunks) == 3 and [c[5:8] for c in chunks] == [b"\x01\x00\x02", b"\x01\x01\x02", b"\x01\x02\x02"]
    fff = b"".join(c[8:] for c in chunks)
    assert fff == payload and fff[:4] == b"FFF\0"
    version, directory, count = struct.unpack_from(">LLL", fff, 0x14)
    kind, _, _, _, offset, length = struct.unpack_from(">HHLLLL", fff, directory)
    assert (version, count, kind) == (100, 1, 1) and offset + length == len(fff)
    assert struct.unpack_from("<3H", fff, offset) == (2, 16, 12)


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """[(type, content)] of consecutive ISO BMFF/JUMBF boxes."""
    found, pos = [], 0
    while pos < len(data):
        length, kind = struct.unpack_from(">L4s", data, pos)
        found.append((kind, data[pos + 8:pos + length]))
        pos += length
    return found


def test_jumbf_app11_box():
    payload = dict(open_bytes(H.jpeg([H.app11_jumbf(content=b'{"caption": "kept"}')])).applist)["APP11"]
    assert payload[:8] == b"JP\0\x01\0\0\0\x01"  # common identifier, box instance 1, sequence 1
    [(kind, superbox)] = boxes(payload[8:])
    assert kind == b"jumb"
    (jumd_kind, jumd), (content_kind, content) = boxes(superbox)
    assert (jumd_kind, content_kind) == (b"jumd", b"json")
    assert jumd[:16] == b"json" + bytes.fromhex("00110010800000AA00389B71") and jumd[16] == 0x03
    assert jumd[17:] == b"hostile.json\0" and json.loads(content) == {"caption": "kept"}


@pytest.mark.parametrize("digest", ["match", "stale", None])
def test_photoshop_app13_iptc_and_digest(digest):
    iim = H.iptc_iim("latin-1")
    im = open_bytes(H.jpeg([H.app13_iptc(iim, digest)]))
    photoshop = im.info["photoshop"]
    assert photoshop[H.IPTC_RESOURCE] == iim
    assert photoshop[H.RESOLUTION_INFO]["XResolution"] == 300
    assert photoshop[H.COPYRIGHT_FLAG] == b"\x01"
    if digest is None:
        assert H.IPTC_DIGEST not in photoshop
    else:
        assert (photoshop[H.IPTC_DIGEST] == hashlib.md5(iim).digest()) == (digest == "match")


def test_photoshop_resources_are_padded():
    blocks = [(0x040A, b"odd", b"\x01"), (0x0406, b"", b"\x00\x0c\x00\x01\x01"), (0x0421, b"ab", b"\0\0\0\x01")]
    irb = H.photoshop_resources(blocks)
    assert H.pascal_string(b"odd") == b"\x03odd" and H.pascal_string(b"ab") == b"\x02ab\0"
    assert len(irb) % 2 == 0 and irb.count(b"8BIM") == 3
    photoshop = open_bytes(H.jpeg([H.app13_photoshop(irb)])).info["photoshop"]
    assert photoshop == {rid: data for rid, _, data in blocks}


# IPTC IIM


@pytest.mark.parametrize(("charset", "declared", "encoding"), [
    ("latin-1", None, "latin-1"), ("latin-1-declared", b"\x1b.A", "latin-1"), ("utf-8", b"\x1b%G", "utf-8")])
def test_iim_charsets(charset, declared, encoding):
    im = open_bytes(H.jpeg([H.app13_iptc(H.iptc_iim(charset))]))
    iptc = IptcImagePlugin.getiptcinfo(im)
    assert iptc.get((1, 90)) == declared and iptc[(1, 0)] == b"\x00\x04"
    assert iptc[(2, 90)].decode(encoding) == "Zürich" and iptc[(2, 80)].decode(encoding) == "José Müller"
    assert [k.decode(encoding) for k in iptc[(2, 25)]] == ["Café", "Straße"]
    assert iptc[(2, 120)].decode(encoding) == "Ein Café in Zürich"
    assert (iptc[(2, 55)], iptc[(2, 60)], iptc[(2, 63)]) == (b"20240714", b"101530", b"101531+0200")


def test_iim_time_created_with_a_zone():
    iptc = IptcImagePlugin.getiptcinfo(open_bytes(H.jpeg([H.app13_iptc(H.iptc_iim(time_created="101530+0200"))])))
    assert iptc[(2, 60)] == b"101530+0200"


def test_iim_extended_length_dataset():
    caption = "Ein Café in Zürich " * 2000
    data = H.iim([(2, 120, caption)])
    # IIM 1.5.2: high bit set, 4 more length bytes; Pillow's IPTC reader does not handle these
    assert data[:5] == b"\x1c\x02\x78\x80\x04"
    assert struct.unpack(">L", data[5:9])[0] == len(caption.encode()) and data[9:].decode() == caption
    assert H.iim([(2, 120, "short")]) == b"\x1c\x02\x78\x00\x05short"
    assert len(H.iptc_datasets(long_caption=40_000)[-1][2]) == 40_000


# XMP


def test_lightroom_packet():
    packet = H.xmp_packet()
    assert packet.startswith(b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>')
    assert packet.endswith(b'<?xpacket end="w"?>') and b" " * 99 + b"\n" in packet
    desc = description_of(packet)
    assert desc.get(f"{RDF}about") == "" and desc.get(q("xmp:Rating")) == "4"
    assert desc.get(q("crs:WhiteBalance")) == "As Shot" and desc.get(q("xmp:CreatorTool")).startswith("Adobe")
    assert desc.find(q("xmp:Label")).text == "Red"
    items = desc.findall(f"{q('dc:description')}/{RDF}Alt/{RDF}li")
    assert {li.get(XML_LANG): li.text for li in items} == {
        "x-default": "Ein Café in Zürich", "de-DE": "Ein Café in Zürich (de)"}
    assert [li.text for li in desc.findall(f"{q('dc:subject')}/{RDF}Bag/{RDF}li")] == ["Café", "Straße"]
    assert [li.text for li in desc.findall(f"{q('dc:creator')}/{RDF}Seq/{RDF}li")] == ["José Müller"]
    assert desc.find(q("dc:rights")) is not None and desc.find(q("dc:title")) is not None
    assert len(desc.findall(f"{q('lr:hierarchicalSubject')}/{RDF}Bag/{RDF}li")) == 2
    contact = desc.find(q("Iptc4xmpCore:CreatorContactInfo"))
    assert contact.get(f"{RDF}parseType") == "Resource" and contact.find(q("Iptc4xmpCore:CiAdrCity")).text == "Zürich"
    events = desc.findall(f"{q('xmpMM:History')}/{RDF}Seq/{RDF}li")
    assert [e.get(q("stEvt:action")) for e in events] == ["derived", "saved"]
    assert desc.find(f"{q('hostile:Private')}/{q('hostile:Secret')}").text == "kept"
    assert desc.get(q("exif:DateTimeOriginal")) and desc.get(q("exif:GPSDateTime")) and desc.get(q("photoshop:DateCreated"))
    assert b'<?xpacket end="r"?>' in H.xpacket("<x/>", writable=False)


def test_darktable_and_digikam_packets():
    desc = description_of(H.xmp_darktable())
    assert desc.get(f"{RDF}about") == "" and desc.get(q("darktable:xmp_version")) == "5"
    history = desc.findall(f"{q('darktable:history')}/{RDF}Seq/{RDF}li")
    assert [h.get(q("darktable:operation")) for h in history] == ["rawprepare", "exposure"]
    tags = description_of(H.xmp_digikam()).findall(f"{q('digiKam:TagsList')}/{RDF}Seq/{RDF}li")
    assert [t.text for t in tags] == ["Places/Zürich/Café", "Places/Zürich/Straße"]


def test_duplicate_property_is_there_twice():
    packet = H.xmp_duplicate_property()
    headlines = description_of(packet).findall(q("photoshop:Headline"))
    assert [h.text for h in headlines] == ["First headline", "Second headline"]


def test_invalid_utf8_has_one_bad_byte():
    packet = H.xmp_invalid_utf8()
    with pytest.raises(UnicodeDecodeError):
        packet.decode("utf-8")
    assert packet.decode("utf-8", "replace").count("\ufffd") == 1 and b"Caf\xe9 in" in packet
    with pytest.raises(ET.ParseError):
        ET.fromstring(packet)


def test_doctype_with_an_internal_entity():
    packet = H.xmp_doctype_entity()
    assert b"<!DOCTYPE x:xmpmeta [" in packet and b'<!ENTITY hostile "expanded entity">' in packet
    li = description_of(packet).find(f"{q('dc:description')}/{RDF}Alt/{RDF}li")
    assert li.text == "Ein Café in Zürich expanded entity"  # expat expands it


def test_uuid_about_and_lang_alt_without_x_default():
    assert description_of(H.xmp_uuid_about()).get(f"{RDF}about").startswith("uuid:")
    items = description_of(H.xmp_no_x_default()).findall(f"{q('dc:description')}/{RDF}Alt/{RDF}li")
    assert [li.get(XML_LANG) for li in items] == ["en-US", "fr"]


def test_sidecars():
    darktable = H.xmp_sidecar("darktable")
    assert darktable.startswith(b'<?xml version="1.0" encoding="UTF-8"?>') and b"<?xpacket" not in darktable
    root = ET.fromstring(darktable)
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    assert root.find(f"{RDF}RDF/{RDF}Description").get(q("darktable:xmp_version")) == "5"
    for flavor in ("lightroom", "xpacket"):
        sidecar = H.xmp_sidecar(flavor, caption="Seitenwagen")
        li = description_of(sidecar).find(f"{q('dc:description')}/{RDF}Alt/{RDF}li")
        assert li.text == "Seitenwagen"
    assert H.xmp_sidecar("lightroom").startswith(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"')
    wrapped = H.xmp_sidecar("xpacket")
    assert wrapped.startswith(b"<?xpacket begin='\xef\xbb\xbf' id='W5M0MpCehiHzreSzNTczkc9d'?>")
    assert wrapped.rstrip().endswith(b"<?xpacket end='w'?>")


# PNG


def test_png_chunks_read_by_pillow():
    profile, block, iim, packet = H.icc_profile(), H.camera_exif(), H.iptc_iim(), H.xmp_packet()
    data = H.png([H.png_iccp(profile), H.png_chunk(b"eXIf", block),
                  H.png_itxt("XML:com.adobe.xmp", packet.decode()), H.png_text("Description", "Ein Café"),
                  H.png_raw_profile("iptc", iim), H.png_raw_profile("exif", b"Exif\0\0" + block)],
                 [H.png_text("Comment", "Kommentar"), H.png_time()], size=(40, 30), seed=2)
    assert [kind for kind, _ in H.png_chunks(data)] == [
        b"IHDR", b"iCCP", b"eXIf", b"iTXt", b"tEXt", b"zTXt", b"zTXt", b"IDAT", b"IDAT", b"tEXt", b"tIME", b"IEND"]
    open_bytes(data).verify()  # every chunk's CRC
    im = open_bytes(data)
    im.load()
    assert same_pixels(im, H.picture((40, 30), 2))
    assert im.info["icc_profile"] == profile and im.getexif()[271] == "Canon"
    assert im.info["xmp"] == packet and im.info["Description"] == "Ein Café" and im.info["Comment"] == "Kommentar"
    raw = im.info["Raw profile type iptc"]
    assert raw.startswith(f"\niptc\n{len(iim):8d}\n") and max(map(len, raw.split("\n"))) == 72
    assert bytes.fromhex("".join(raw.split("\n")[3:])) == iim
    exif_raw = im.info["Raw profile type exif"]
    assert bytes.fromhex("".join(exif_raw.split("\n")[3:])) == b"Exif\0\0" + block
    assert dict(H.png_chunks(data))[b"tIME"] == struct.pack(">HBBBBB", 2024, 7, 14, 18, 3, 22)


def test_png_crc_is_checked():
    data = bytearray(H.png(after=[H.png_text("Comment", "x")]))
    data[data.index(b"tEXt") + 13] ^= 0xFF  # a byte of the CRC
    with pytest.raises(SyntaxError):
        open_bytes(bytes(data)).verify()


# WebP


def test_extended_webp():
    profile, block, packet = H.icc_profile(), H.camera_exif(), H.xmp_packet() + b" "  # odd length
    data = H.webp((40, 30), 4, lossless=True, icc=profile, exif=block, xmp=packet)
    chunks = H.webp_chunks(data)
    assert [kind for kind, _ in chunks] == [b"VP8X", b"ICCP", b"VP8L", b"EXIF", b"XMP "]
    vp8x = chunks[0][1]
    assert vp8x[0] == H.VP8X_ICC | H.VP8X_EXIF | H.VP8X_XMP
    assert int.from_bytes(vp8x[4:7], "little") + 1 == 40 and int.from_bytes(vp8x[7:10], "little") + 1 == 30
    assert len(packet) % 2 == 1 and data.endswith(packet + b"\0")
    assert struct.unpack("<L", data[4:8])[0] == len(data) - 8
    im = open_bytes(data)
    assert im.info["icc_profile"] == profile and im.info["exif"] == block and im.info["xmp"] == packet
    assert im.getexif()[271] == "Canon" and same_pixels(im, H.picture((40, 30), 4))


def test_webp_exif_with_the_exif_prefix_and_lossy():
    im = open_bytes(H.webp(lossless=False, exif=H.camera_exif("sony"), exif_prefix=True))
    assert im.info["exif"].startswith(b"Exif\0\0II*\0") and im.getexif()[271] == "SONY"
    assert [kind for kind, _ in H.webp_chunks(H.webp(lossless=False, exif=b"II*\0"))][1] == b"VP8 "


@pytest.mark.parametrize("lossless", [True, False])
def test_simple_webp(lossless):
    data = H.webp((40, 30), 5, lossless=lossless)
    assert [kind for kind, _ in H.webp_chunks(data)] == [b"VP8L" if lossless else b"VP8 "]
    im = open_bytes(data)
    assert im.size == (40, 30) and "exif" not in im.info
    if lossless:
        assert same_pixels(im, H.picture((40, 30), 5))


# TIFF files


@pytest.mark.parametrize(("byte_order", "iptc_type"), [("II", H.LONG), ("MM", H.UNDEFINED), ("MM", H.LONG)])
def test_tiff_file(byte_order, iptc_type):
    iim, packet = H.iptc_iim(), H.xmp_packet()
    irb = H.photoshop_irb(iim)
    data = H.tiff_file((40, 30), 6, byte_order, description="Ein Café", xmp=packet, iptc=iim,
                       iptc_type=iptc_type, photoshop=irb)
    assert data[:2] == byte_order.encode()
    im = open_bytes(data)
    iptc = IptcImagePlugin.getiptcinfo(im)  # before the tags are read: Photoshop types it LONG
    assert iptc[(2, 120)] == "Ein Café in Zürich".encode("latin-1")
    assert im.tag_v2.tagtype[H.IPTC_TAG] == iptc_type
    assert same_pixels(im, H.picture((40, 30), 6)) and im.mode == "RGB"
    tags = im.tag_v2
    assert tags[270].encode("latin-1").decode() == "Ein Café" and (tags[271], tags[272]) == ("Canon", "Canon EOS R6")
    assert tags[H.XMP_TAG] == packet and tags[H.PHOTOSHOP_TAG] in (irb, (irb,))  # Pillow may wrap it
    note = im.getexif().get_ifd(EXIF)[H.MAKERNOTE]
    assert ifd_at(data, data.index(note), byte_order)[0x0006] == "Canon EOS R6"


def test_two_page_tiff():
    im = open_bytes(H.tiff_file((40, 30), 7, "MM", pages=2, makernote=False))
    assert im.n_frames == 2 and im.tag_v2[0x0129] == (0, 2)
    assert same_pixels(im, H.picture((40, 30), 7))
    im.seek(1)
    assert same_pixels(im, H.picture((40, 30), 8)) and im.tag_v2[0x0129] == (1, 2)


# Malformed files


def test_exif_entry_count_runs_past_the_segment():
    im = open_bytes(H.jpeg_exif_count_overrun(300))
    tiff = im.info["exif"][6:]
    assert struct.unpack_from("<H", tiff, 8)[0] == 300 and len(tiff) < 10 + 12 * 300
    with pytest.warns(UserWarning, match="Corrupt EXIF"):
        exif = im.getexif()
    assert exif[271] == "Can"
    im.load()


def test_truncated_jpeg():
    data = H.jpeg_truncated()
    assert b"\xff\xda" in data and not data.endswith(b"\xff\xd9")
    with pytest.raises(OSError, match="truncated"):
        open_bytes(data).load()


def test_bad_tiff_header_in_exif():
    im = open_bytes(H.jpeg_bad_tiff_header())
    assert im.info["exif"].startswith(b"Exif\0\0") and im.info["exif"][6:8] not in (b"II", b"MM")
    try:
        exif = im.getexif()
    except SyntaxError:  # Pillow refuses it outright
        exif = {}
    assert 271 not in exif
    im.load()


def test_xmp_that_is_not_xml():
    im = open_bytes(H.jpeg_xmp_not_xml())
    assert im.info["xmp"].startswith(b'{"caption"')
    with pytest.raises(ET.ParseError):
        ET.fromstring(im.info["xmp"])
    im.load()
