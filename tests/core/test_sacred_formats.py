"""Photos are sacred (issue 21), PNG, WebP and TIFF: the caption is written and every other
chunk, tag and pixel stays, read back through tests/core/photo_views (Pillow, ElementTree,
struct), never through VisionCap's own parsers."""

from __future__ import annotations

import hashlib
import warnings
import zlib

import pytest

import tests.core.photo_views as V
import tests.hostile_files as H
from core.metadata.photo_metadata import embed_description

CHANGING_CHUNKS = (b"eXIf", b"iTXt", b"tEXt")


def photo_file(tmp_path, data: bytes, name: str):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def xmp_kept(before: bytes, after: bytes) -> None:
    assert V.xmp_lost_and_gained(before, after) == ({}, {})


# ---- PNG --------------------------------------------------------------------------------------


def png_xmp(data: bytes) -> bytes:
    found = [body for kind, body in V.png_chunks(data) if kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\0")]
    assert len(found) == 1
    rest = found[0].split(b"\0", 1)[1]
    assert rest[:2] == b"\0\0"  # uncompressed
    return rest[2:].split(b"\0", 2)[2]


def test_png_keeps_every_other_chunk_and_its_description_follows(tmp_path):
    exif = H.camera_exif("canon", "MM", description="old text")
    packet = H.xmp_packet(caption="old text")
    chunks = [H.png_iccp(H.icc_profile()), H.png_chunk(b"eXIf", exif),
              H.png_itxt("XML:com.adobe.xmp", packet.decode("utf-8")), H.png_text("Description", "old text"),
              H.png_text("Author", "José Müller"), H.png_raw_profile("iptc", H.iptc_iim()), H.png_time()]
    data = H.png(before=chunks, after=[H.png_text("Comment", "after the image data")])
    photo = photo_file(tmp_path, data, "photo.png")
    result = embed_description(photo, "new text")
    after = photo.read_bytes()
    old_chunks, new_chunks = V.png_chunks(data), V.png_chunks(after)
    assert [kind for kind, _ in new_chunks] == [kind for kind, _ in old_chunks]
    changed = {b"eXIf", b"XML:com.adobe.xmp", b"Description"}
    kept = [(kind, body) for kind, body in new_chunks if kind not in (b"eXIf",) and body.split(b"\0")[0] not in changed]
    assert kept == [(kind, body) for kind, body in old_chunks
                    if kind not in (b"eXIf",) and body.split(b"\0")[0] not in changed]
    assert V.changed_entries(V.exif_values(exif), V.exif_values(dict(new_chunks)[b"eXIf"])) == {("IFD0", 0x010E)}
    new_packet = png_xmp(after)
    xmp_kept(packet, new_packet)
    assert V.lang_alt(new_packet, "dc:description") == {"x-default": "new text", "de-DE": "Ein Café in Zürich (de)"}
    assert b"Description\0new text" in [body for kind, body in new_chunks if kind == b"tEXt"]
    assert any("IPTC" in note for note in result.notes)  # ImageMagick's raw profile is not written
    assert V.pixels(after) == V.pixels(data)
    image = V.open_image(after)
    assert image.info["icc_profile"] == H.icc_profile() and image.getexif()[0x010E] == "new text"


def test_a_png_without_metadata_gets_exif_and_xmp_before_its_image_data(tmp_path):
    data = H.png(before=[H.png_iccp(H.icc_profile())], after=[H.png_time()])
    photo = photo_file(tmp_path, data, "photo.png")
    embed_description(photo, "A new caption")
    after = photo.read_bytes()
    kinds = [kind for kind, _ in V.png_chunks(after)]
    assert kinds.index(b"eXIf") < kinds.index(b"IDAT") and kinds.index(b"iTXt") < kinds.index(b"IDAT")
    assert [c for c in V.png_chunks(after) if c[0] not in CHANGING_CHUNKS] == V.png_chunks(data)
    assert V.open_image(after).getexif()[0x010E] == "A new caption"
    assert V.lang_alt(png_xmp(after), "dc:description") == {"x-default": "A new caption"}
    assert V.pixels(after) == V.pixels(data)


def png_description(data: bytes) -> list[str]:
    """The Description text chunks' texts, decoded by hand (tEXt, zTXt, iTXt)."""
    texts = []
    for kind, body in V.png_chunks(data):
        keyword, _, rest = body.partition(b"\0")
        if keyword != b"Description":
            continue
        if kind == b"tEXt":
            texts.append(rest.decode("latin-1"))
        elif kind == b"zTXt":
            texts.append(zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            flag, text = rest[0], rest[2:].split(b"\0", 2)[2]
            texts.append((zlib.decompress(text) if flag else text).decode("utf-8"))
    return texts


DESCRIPTION_CHUNKS = {
    "tEXt": H.png_text("Description", "old text"),
    "iTXt": H.png_itxt("Description", "old text"),
    "zTXt": H.png_chunk(b"zTXt", b"Description\0\0" + zlib.compress(b"old text")),
}


@pytest.mark.parametrize("kind", [
    "tEXt", "iTXt", "zTXt"])
def test_a_png_description_holding_the_old_caption_follows_it_whatever_its_chunk(tmp_path, kind):
    exif = H.png_chunk(b"eXIf", H.camera_exif(description="old text"))
    data = H.png(before=[exif, DESCRIPTION_CHUNKS[kind], H.png_text("Comment", "old text")])
    photo = photo_file(tmp_path, data, "photo.png")
    embed_description(photo, "new text")
    after = photo.read_bytes()
    assert png_description(data) == ["old text"] and png_description(after) == ["new text"]
    assert (b"tEXt", b"Comment\0old text") in V.png_chunks(after)  # not a description: stays


# ---- WebP -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lossless", [True, False], ids=["VP8L", "VP8"])
def test_a_simple_webp_becomes_extended_with_its_canvas_size(tmp_path, lossless):
    data = H.webp(size=(70, 45), lossless=lossless)
    photo = photo_file(tmp_path, data, "photo.webp")
    embed_description(photo, "A new caption")
    after = photo.read_bytes()
    chunks = V.webp_chunks(after)
    assert [kind for kind, _ in chunks] == [b"VP8X", b"VP8L" if lossless else b"VP8 ", b"EXIF", b"XMP "]
    vp8x = chunks[0][1]
    assert vp8x[0] == H.VP8X_EXIF | H.VP8X_XMP and vp8x[1:4] == b"\0\0\0"
    assert (int.from_bytes(vp8x[4:7], "little") + 1, int.from_bytes(vp8x[7:10], "little") + 1) == (70, 45)
    assert chunks[1] == V.webp_chunks(data)[0]  # the bitstream byte for byte
    assert V.pixels(after) == V.pixels(data)
    assert V.open_image(after).getexif()[0x010E] == "A new caption"
    assert V.lang_alt(chunks[3][1], "dc:description") == {"x-default": "A new caption"}


@pytest.mark.parametrize("exif_prefix", [False, True], ids=["raw-tiff", "exif-prefix"])
def test_an_extended_webp_keeps_its_flags_icc_and_every_other_value(tmp_path, exif_prefix):
    exif, packet = H.camera_exif("sony", "II", description="old text"), H.xmp_packet(caption="old text")
    data = H.webp(icc=H.icc_profile(), exif=exif, xmp=packet, exif_prefix=exif_prefix)
    photo = photo_file(tmp_path, data, "photo.webp")
    embed_description(photo, "new text")
    after = photo.read_bytes()
    old, new = V.webp_chunks(data), V.webp_chunks(after)
    assert [kind for kind, _ in new] == [kind for kind, _ in old]
    assert new[0] == old[0]  # VP8X: flags (ICC, EXIF, XMP) and canvas
    assert [c for c in new if c[0] not in (b"EXIF", b"XMP ")] == [c for c in old if c[0] not in (b"EXIF", b"XMP ")]
    new_exif = dict(new)[b"EXIF"]
    assert new_exif.startswith(b"Exif\0\0") == exif_prefix
    new_block = new_exif[6:] if exif_prefix else new_exif
    assert V.changed_entries(V.exif_values(exif), V.exif_values(new_block)) == {("IFD0", 0x010E)}
    assert V.value_location(new_block, H.MAKERNOTE) == V.value_location(exif, H.MAKERNOTE)
    xmp_kept(packet, dict(new)[b"XMP "])
    assert V.pixels(after) == V.pixels(data) and V.open_image(after).info["icc_profile"] == H.icc_profile()


def test_an_extended_webp_with_only_icc_gains_the_exif_and_xmp_flags(tmp_path):
    data = H.webp(icc=H.icc_profile())
    photo = photo_file(tmp_path, data, "photo.webp")
    embed_description(photo, "A new caption")
    old, new = V.webp_chunks(data), V.webp_chunks(photo.read_bytes())
    assert new[0][1] == bytes([old[0][1][0] | H.VP8X_EXIF | H.VP8X_XMP]) + old[0][1][1:]
    assert new[1:3] == old[1:3] and [kind for kind, _ in new[3:]] == [b"EXIF", b"XMP "]


# ---- TIFF -------------------------------------------------------------------------------------


def tiff_tags(data: bytes, page: int) -> dict:
    image = V.open_image(data)
    image.seek(page)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow: IPTC stored as LONGs "has too many entries"
        return {tag: value for tag, value in image.tag_v2.items() if tag != H.IPTC_TAG}


@pytest.mark.parametrize("iptc_type", [H.LONG, H.UNDEFINED], ids=["iptc-long", "iptc-undefined"])
@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_a_two_page_tiff_keeps_its_pages_makernote_and_iptc(tmp_path, byte_order, iptc_type):
    iim, packet = H.iptc_iim("latin-1"), H.xmp_packet(caption="old text")
    data = H.tiff_file(byte_order=byte_order, description="old text", xmp=packet, iptc=iim, iptc_type=iptc_type,
                       photoshop=H.photoshop_irb(iim), pages=2)
    photo = photo_file(tmp_path, data, "scan.tif")
    embed_description(photo, "new text")
    after = photo.read_bytes()
    assert after[8:len(data)] == data[8:]  # every byte that was there stays where it was
    old_tags, new_tags = tiff_tags(data, 0), tiff_tags(after, 0)  # IPTCNAA compared below, by hand
    assert V.changed_entries(old_tags, new_tags) == {0x010E, H.XMP_TAG, H.PHOTOSHOP_TAG}
    assert V.text_of(new_tags[0x010E]) == "new text"
    assert tiff_tags(after, 1) == tiff_tags(data, 1)
    assert V.pixels(after, 0) == V.pixels(data, 0) and V.pixels(after, 1) == V.pixels(data, 1)
    old_exif, new_exif = V.open_image(data).getexif().get_ifd(0x8769), V.open_image(after).getexif().get_ifd(0x8769)
    assert new_exif == old_exif
    assert V.value_location(after, H.MAKERNOTE) == V.value_location(data, H.MAKERNOTE)
    # IPTC: the same type, every dataset but the caption byte for byte, the digest of the new IIM
    kind, _, new_iim = V.entry(after, H.IPTC_TAG, in_exif_ifd=False)
    assert kind == iptc_type
    assert V.without(V.iim_datasets(new_iim), (2, 120)) == V.without(V.iim_datasets(iim), (2, 120))
    assert V.value(V.iim_datasets(new_iim), 2, 120) == b"new text"
    old_ps = V.photoshop_blocks(V.value_location(data, H.PHOTOSHOP_TAG, in_exif_ifd=False)[1])
    new_ps = V.photoshop_blocks(V.value_location(after, H.PHOTOSHOP_TAG, in_exif_ifd=False)[1])
    assert {k: v for k, v in new_ps.items() if k not in (H.IPTC_RESOURCE, H.IPTC_DIGEST)} == \
        {k: v for k, v in old_ps.items() if k not in (H.IPTC_RESOURCE, H.IPTC_DIGEST)}
    assert V.iim_datasets(new_ps[H.IPTC_RESOURCE]) == V.iim_datasets(new_iim)
    assert new_ps[H.IPTC_DIGEST] == hashlib.md5(new_ps[H.IPTC_RESOURCE]).digest()
    new_packet = V.value_location(after, H.XMP_TAG, in_exif_ifd=False)[1]
    xmp_kept(packet, new_packet)
    assert V.lang_alt(new_packet, "dc:description")["x-default"] == "new text"
