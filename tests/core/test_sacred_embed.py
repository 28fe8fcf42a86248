"""Photos are sacred (issue 21), JPEG: embedding a caption into files other cameras and programs
wrote (tests/hostile_files) changes the caption and nothing else, or leaves the file
byte-identical with a reason. Every check reads the file through tests/core/photo_views
(Pillow, ElementTree, struct), never through VisionCap's own parsers."""

from __future__ import annotations

import hashlib
import struct

import pytest

import tests.core.photo_views as V
import tests.hostile_files as H
from core.metadata.caption_writes import (
    SIDECAR_INSTEAD,
    WRITTEN,
    WriteItem,
    WriteOptions,
    write_captions,
)
from core.metadata.photo_metadata import CannotEmbed, MetadataError, embed_description

# Longer than 124 characters: an earlier writer refused captions past that with a MakerNote.
LONG = ("A red tram crosses the Quaibruecke at dusk while a crowd of commuters waits at the stop; "
        "the lake behind them reflects the lights of the old town and the hills.")
CAMERAS = ["canon", "nikon", "sony", "panasonic"]
MAKERNOTE_PROBE = {  # camera -> (bytes before its IFD, a tag in it, its value) for reading it in place
    "canon": (0, 0x0006, "Canon EOS R6"),
    "sony": (12, 0xB020, "Standard"),
    "panasonic": (12, 0x0051, "LUMIX G VARIO 12-60/F3.5-5.6"),
}


def photo_file(tmp_path, data: bytes, name: str = "photo.jpg"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def camera_jpeg(camera="canon", byte_order="II", extra=(), **exif) -> bytes:
    return H.jpeg([H.app0_jfif(), H.app1_exif(H.camera_exif(camera, byte_order, **exif)), *extra])


def assert_only_the_caption_changed(before: bytes, after: bytes, caption: str, exif_changes=frozenset()):
    """Every segment but APP1 Exif/XMP byte-identical and in order, the scan byte-identical, the
    pixels equal, every EXIF value but ImageDescription (and `exif_changes`) equal, the caption in
    EXIF and XMP."""
    assert V.others(after) == V.others(before)
    assert V.scan(after) == V.scan(before)
    assert V.pixels(after) == V.pixels(before)
    old_exif, new_exif = V.jpeg_exif(before), V.jpeg_exif(after)
    old_values = V.exif_values(old_exif) if old_exif else {}
    new_values = V.exif_values(new_exif)
    assert V.changed_entries(old_values, new_values) <= {("IFD0", 0x010E), *exif_changes}
    assert V.text_of(new_values[("IFD0", 0x010E)]) == caption
    assert V.lang_alt(V.jpeg_xmp(after), "dc:description")["x-default"] == caption


def test_the_independent_views_see_the_changes_they_guard_against():
    block = H.camera_exif("canon")
    values = V.exif_values(block)
    assert V.changed_entries(values, V.exif_values(H.camera_exif("canon", orientation=6))) == {("IFD0", 0x0112)}
    at, _ = V.value_location(block, H.MAKERNOTE)
    flipped = block[:at + 30] + bytes([block[at + 30] ^ 1]) + block[at + 31:]
    assert V.changed_entries(values, V.exif_values(flipped)) == {("Exif", H.MAKERNOTE)}
    darktable, duplicate = H.xmp_darktable(), H.xmp_duplicate_property()
    assert V.xmp_lost_and_gained(darktable, darktable.replace(b'enabled="1"', b'enabled="0"', 1))[0]
    assert V.xmp_lost_and_gained(duplicate, duplicate.replace(b"Second headline", b"First headline"))[0]
    renamed = darktable.replace(b"dc:", b"purl:").replace(b"xmlns:dc=", b"xmlns:purl=")
    assert V.xmp_lost_and_gained(darktable, renamed) == ({}, {})  # a prefix is no value
    assert V.iim_datasets(H.iptc_iim()) != V.iim_datasets(H.iptc_iim(time_created="101530+0000"))
    photo = H.jpeg([H.app0_jfif(), H.com("a"), H.com("b")])
    swapped = H.jpeg([H.app0_jfif(), H.com("b"), H.com("a")])
    assert V.others(photo) != V.others(swapped) and V.scan(photo) == V.scan(swapped)


# ---- 1. camera EXIF with MakerNotes -------------------------------------------------------------


@pytest.mark.parametrize("byte_order", ["II", "MM"])
@pytest.mark.parametrize("camera", CAMERAS)
def test_camera_exif_with_a_makernote_takes_a_long_caption_and_keeps_every_tag(tmp_path, camera, byte_order):
    block = H.camera_exif(camera, byte_order)
    photo = photo_file(tmp_path, H.jpeg([H.app0_jfif(), H.app1_exif(block)]))
    before = photo.read_bytes()
    assert len(LONG) > 124
    assert embed_description(photo, LONG).written
    after = photo.read_bytes()
    assert_only_the_caption_changed(before, after, LONG)
    new_block = V.jpeg_exif(after)
    # the MakerNote's offsets count from the TIFF header: it must not have moved, nor anything else
    at, note = V.value_location(new_block, H.MAKERNOTE)
    assert (at, note) == V.value_location(block, H.MAKERNOTE)
    assert new_block[8:len(block)] == block[8:]
    if camera in MAKERNOTE_PROBE:
        skip, tag, expected = MAKERNOTE_PROBE[camera]
        assert V.ifd_at(new_block, at + skip, byte_order)[tag] == expected
    else:  # Nikon: a TIFF of its own inside the note
        assert V.exif_values(note[10:])[("IFD0", 0x0004)] == "FINE  "
    thumb = V.exif_values(new_block)
    start, length = thumb[("IFD1", 0x0201)], thumb[("IFD1", 0x0202)]
    assert new_block[start:start + length] == H.thumbnail_jpeg()


# ---- 2. XMP other programs wrote --------------------------------------------------------------


@pytest.mark.parametrize("packet", [H.xmp_duplicate_property(), H.xmp_uuid_about(), H.xmp_packet(), H.xmp_digikam()],
                         ids=["duplicate-property", "uuid-about", "lightroom", "digikam"])
def test_xmp_keeps_every_property_it_held(tmp_path, packet):
    photo = photo_file(tmp_path, camera_jpeg(extra=[H.app1_xmp(packet)]))
    before = photo.read_bytes()
    embed_description(photo, "A new caption")
    after = photo.read_bytes()
    assert_only_the_caption_changed(before, after, "A new caption")
    new_packet = V.jpeg_xmp(after)
    lost, gained = V.xmp_lost_and_gained(packet, new_packet)
    assert not lost and not gained
    old_langs = V.lang_alt(packet, "dc:description")
    new_langs = V.lang_alt(new_packet, "dc:description")
    assert {k: v for k, v in new_langs.items() if k != "x-default"} == \
        {k: v for k, v in old_langs.items() if k != "x-default"}
    assert [segment[0] for segment in V.segments(after)] == [segment[0] for segment in V.segments(before)]


def test_a_repeated_property_keeps_both_values(tmp_path):
    packet = H.xmp_duplicate_property()
    photo = photo_file(tmp_path, H.jpeg([H.app1_xmp(packet)]))
    embed_description(photo, "A new caption")
    headlines = {k: n for k, n in V.xmp_leaves(V.jpeg_xmp(photo.read_bytes())).items()
                 if k[0] == (V.q("photoshop:Headline"),)}
    assert headlines == {((V.q("photoshop:Headline"),), "First headline"): 1,
                         ((V.q("photoshop:Headline"),), "Second headline"): 1}


def test_lang_alt_without_x_default_gains_one_and_keeps_french(tmp_path):
    photo = photo_file(tmp_path, H.jpeg([H.app1_xmp(H.xmp_no_x_default())]))
    embed_description(photo, "A new caption")
    langs = V.lang_alt(V.jpeg_xmp(photo.read_bytes()), "dc:description")
    assert langs["x-default"] == "A new caption" and langs["fr"] == "Un café à Zurich"
    assert langs.get("en-US") in ("A café in Zurich", "A new caption")  # held the old caption: may follow


UNDECODABLE = {
    "invalid-utf8": H.jpeg([H.app0_jfif(), H.app1_xmp(H.xmp_invalid_utf8())]),
    "doctype": H.jpeg([H.app0_jfif(), H.app1_xmp(H.xmp_doctype_entity())]),
    "not-xml": H.jpeg_xmp_not_xml(),
}


@pytest.mark.parametrize("name", UNDECODABLE)
def test_xmp_that_cannot_be_decoded_leaves_the_photo_byte_identical(tmp_path, name):
    photo = photo_file(tmp_path, UNDECODABLE[name])
    with pytest.raises(CannotEmbed) as raised:
        embed_description(photo, "A new caption")
    assert "XMP" in raised.value.reason and "\n" not in raised.value.reason
    assert photo.read_bytes() == UNDECODABLE[name]


@pytest.mark.parametrize("name", UNDECODABLE)
def test_write_captions_puts_a_sidecar_beside_a_photo_it_cannot_embed_into(tmp_path, name):
    photo = photo_file(tmp_path, UNDECODABLE[name])
    report = write_captions([WriteItem(photo, photo.name, "A new caption")], WriteOptions(ways=("embed",)))
    assert photo.read_bytes() == UNDECODABLE[name]
    embed, sidecar = report.outcomes
    assert (embed.way, embed.status) == ("embed", SIDECAR_INSTEAD) and "XMP" in embed.reason
    assert (sidecar.way, sidecar.status, sidecar.target) == ("xmp", WRITTEN, tmp_path / "photo.jpg.xmp")
    assert V.lang_alt(sidecar.target.read_bytes(), "dc:description") == {"x-default": "A new caption"}
    assert report.ok and "sidecar instead" in report.summary()


# ---- 3. IPTC ----------------------------------------------------------------------------------


def iptc_jpeg(tmp_path, charset="latin-1", digest="match", iim=None):
    iim = H.iptc_iim(charset) if iim is None else iim
    return photo_file(tmp_path, H.jpeg([H.app0_jfif(), H.app13_iptc(iim, digest)])), iim


def iim_after(photo) -> list:
    return V.iim_datasets(V.photoshop(photo.read_bytes())[H.IPTC_RESOURCE])


@pytest.mark.parametrize(("charset", "caption", "stored"), [
    ("latin-1", "A plain ASCII caption", b"A plain ASCII caption"),
    ("latin-1", "café", "café".encode("cp1252")),
    ("latin-1-declared", "café", "café".encode("latin-1")),
    ("utf-8", "写真", "写真".encode()),
    ("utf-8", "café", "café".encode()),
])
def test_iptc_caption_is_written_in_the_records_own_character_set(tmp_path, charset, caption, stored):
    photo, iim = iptc_jpeg(tmp_path, charset)
    before = photo.read_bytes()
    embed_description(photo, caption)
    after = photo.read_bytes()
    old, new = V.iim_datasets(iim), iim_after(photo)
    assert V.without(new, (2, 120)) == V.without(old, (2, 120))  # envelope too: no 1:90 added
    assert V.value(new, 2, 120) == stored
    assert V.value(new, 2, 60) == b"101530" and V.value(new, 2, 63) == b"101531+0200"
    encoding = "utf-8" if charset == "utf-8" else "latin-1"
    pillow = V.pillow_iptc(after)
    assert pillow[(2, 90)] == "Zürich".encode(encoding) and pillow[(2, 80)] == "José Müller".encode(encoding)
    assert pillow[(2, 25)] == ["Café".encode(encoding), "Straße".encode(encoding)]
    old_resources, new_resources = V.photoshop(before), V.photoshop(after)
    assert {k: v for k, v in new_resources.items() if k not in (H.IPTC_RESOURCE, H.IPTC_DIGEST)} == \
        {k: v for k, v in old_resources.items() if k not in (H.IPTC_RESOURCE, H.IPTC_DIGEST)}
    assert V.others(after, keep=lambda s: s[0] != 0xED and not V.is_exif(s) and not V.is_xmp(s)) == \
        V.others(before, keep=lambda s: s[0] != 0xED and not V.is_exif(s) and not V.is_xmp(s))


def test_an_all_ascii_record_without_a_character_set_declares_utf8_for_a_non_ascii_caption(tmp_path):
    iim = H.iim([(1, 0, b"\x00\x04"), (2, 0, b"\x00\x04"), (2, 90, "Zurich"), (2, 120, "old caption")])
    photo, _ = iptc_jpeg(tmp_path, iim=iim)
    embed_description(photo, "café")
    new = iim_after(photo)
    assert V.value(new, 1, 90) == H.CHARSET_UTF8 and V.value(new, 2, 120) == "café".encode()
    assert V.without(new, (1, 90), (2, 120)) == V.without(V.iim_datasets(iim), (2, 120))
    records = [record for record, _, _ in new]
    assert records == sorted(records)  # the envelope (record 1) stays before the application record


def _left_alone(tmp_path, charset, digest):
    photo, _ = iptc_jpeg(tmp_path, charset, digest)
    before = photo.read_bytes()
    result = embed_description(photo, "写真")
    after = photo.read_bytes()
    assert V.photoshop(after) == V.photoshop(before)  # the IIM and its digest byte-identical
    assert any("IPTC" in note for note in result.notes)
    assert V.text_of(V.exif_values(V.jpeg_exif(after))[("IFD0", 0x010E)]) == "写真"
    assert V.lang_alt(V.jpeg_xmp(after), "dc:description") == {"x-default": "写真"}


@pytest.mark.parametrize("charset", ["latin-1", "latin-1-declared"])
def test_a_latin1_record_that_cannot_hold_the_caption_is_left_byte_identical(tmp_path, charset):
    _left_alone(tmp_path, charset, "match")


def test_a_record_left_alone_with_a_digest_already_stale_still_gets_the_caption_in_exif_and_xmp(tmp_path):
    _left_alone(tmp_path, "latin-1", "stale")


@pytest.mark.parametrize("digest", ["match", "stale"])
def test_the_iptc_digest_is_the_md5_of_the_new_iptc(tmp_path, digest):
    photo, iim = iptc_jpeg(tmp_path, "latin-1", digest)
    old_digest = V.photoshop(photo.read_bytes())[H.IPTC_DIGEST]
    assert (old_digest == hashlib.md5(iim).digest()) == (digest == "match")
    embed_description(photo, "A plain ASCII caption")
    resources = V.photoshop(photo.read_bytes())
    assert resources[H.IPTC_DIGEST] == hashlib.md5(resources[H.IPTC_RESOURCE]).digest() != old_digest


def test_an_extended_length_caption_dataset_is_replaced_and_the_rest_kept(tmp_path):
    iim = H.iptc_iim("utf-8", long_caption=40_000)
    photo, _ = iptc_jpeg(tmp_path, iim=iim)
    embed_description(photo, "A short caption")
    new = iim_after(photo)
    assert V.value(new, 2, 120) == b"A short caption"
    assert V.without(new, (2, 120)) == V.without(V.iim_datasets(iim), (2, 120))


def test_iptc_is_never_added_where_the_file_has_none(tmp_path):
    data = H.jpeg([H.app13_photoshop(H.photoshop_irb(None))])  # Photoshop resources, no IPTC among them
    photo = photo_file(tmp_path, data)
    embed_description(photo, "A new caption")
    assert V.photoshop(photo.read_bytes()) == V.photoshop(data)
    assert V.pillow_iptc(photo.read_bytes()) == {}


def test_a_record_declaring_another_character_set_is_left_alone(tmp_path):
    iim = H.iim([(1, 90, b"\x1b%/I"), (2, 90, "Zurich"), (2, 120, "old caption")])  # UTF-16 (ISO 2022)
    photo, _ = iptc_jpeg(tmp_path, iim=iim)
    before = photo.read_bytes()
    result = embed_description(photo, "café")
    assert V.photoshop(photo.read_bytes()) == V.photoshop(before)
    assert any("IPTC" in note for note in result.notes)


UNDECODABLE_IPTC = {
    # Photoshop splits resources over several APP13 segments when they pass 64 KB
    "two-app13": [H.app13_photoshop(H.photoshop_resources([(H.RESOLUTION_INFO, b"", H.resolution_info())])),
                  H.app13_iptc(H.iptc_iim("latin-1"))],
    "garbage-after-datasets": [H.app13_iptc(H.iptc_iim("latin-1") + b"\x99garbage", digest=None)],
}


@pytest.mark.parametrize("name", UNDECODABLE_IPTC)
def test_iptc_that_cannot_be_decoded_is_left_alone_and_the_caption_still_written(tmp_path, name):
    data = H.jpeg([H.app0_jfif(), *UNDECODABLE_IPTC[name]])
    photo = photo_file(tmp_path, data)
    try:
        result = embed_description(photo, "A new caption")
    except CannotEmbed as exc:  # also fair: the photo left alone, a sidecar instead
        assert "IPTC" in exc.reason and photo.read_bytes() == data
        return
    after = photo.read_bytes()
    assert [s for s in V.segments(after) if s[0] == 0xED] == [s for s in V.segments(data) if s[0] == 0xED]
    assert any("IPTC" in note for note in result.notes)
    assert_only_the_caption_changed(data, after, "A new caption")


# ---- 4. segments other programs wrote --------------------------------------------------------


def test_flir_icc_jumbf_adobe_and_comment_segments_stay_byte_identical_and_in_order(tmp_path):
    segments = [H.app0_jfif(), H.app1_exif(H.camera_exif("canon")), H.app1_flir(H.flir_fff()),
                H.app2_icc(H.icc_profile()), H.app11_jumbf(), H.app14_adobe(), H.com("Created with GIMP")]
    photo = photo_file(tmp_path, H.jpeg(segments))
    before = photo.read_bytes()
    embed_description(photo, "A new caption")
    after = photo.read_bytes()
    assert_only_the_caption_changed(before, after, "A new caption")
    kept = V.others(after)
    assert [m for m, _ in kept[:6]] == [0xE0, 0xE1, 0xE1, 0xE1, 0xE2, 0xE2]  # FLIR in three parts
    assert V.open_image(after).info["icc_profile"] == H.icc_profile()


def mp_entries(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(file position of the MPF's TIFF header, [(size, offset)] of each picture), read by hand."""
    position = 2
    for _, payload in V.segments(data):
        if payload.startswith(b"MPF\0"):
            header = position + 4 + 4
            tiff = payload[4:]
            order = ">" if tiff[:2] == b"MM" else "<"
            (ifd,) = struct.unpack_from(order + "I", tiff, 4)
            (count,) = struct.unpack_from(order + "H", tiff, ifd)
            for i in range(count):
                tag, _, n, where = struct.unpack_from(order + "HHII", tiff, ifd + 2 + 12 * i)
                if tag == 0xB002:
                    return header, [struct.unpack_from(order + "II", tiff, where + 16 * k + 4) for k in range(n // 16)]
        position += 4 + len(payload)
    raise AssertionError("no MPF")


def test_an_mpo_keeps_its_second_picture_and_an_index_that_still_finds_it(tmp_path):
    photo = photo_file(tmp_path, H.mpo([H.app0_jfif(), H.app1_exif(H.camera_exif("sony"))]), "photo.mpo.jpg")
    before = photo.read_bytes()
    embed_description(photo, "A new caption")
    after = photo.read_bytes()
    not_mpf = lambda s: not (V.is_exif(s) or V.is_xmp(s) or s[1].startswith(b"MPF\0"))  # noqa: E731
    assert V.others(after, keep=not_mpf) == V.others(before, keep=not_mpf)
    assert V.scan(after) == V.scan(before) and V.pixels(after) == V.pixels(before)
    (base, [(first, _), (size, offset)]), (base_after, [(first_after, _), (size_after, offset_after)]) = \
        mp_entries(before), mp_entries(after)
    second = before[base + offset : base + offset + size]
    assert second.startswith(b"\xff\xd8") and size_after == size and first == base + offset
    assert after[base_after + offset_after : base_after + offset_after + size] == second  # found where it says
    assert first_after == base_after + offset_after  # the first picture ends where the second begins
    assert V.pixels(after, frame=1) == V.pixels(before, frame=1)  # Pillow finds it through the MP index


def test_extended_xmp_segments_stay_and_the_main_packet_still_names_them(tmp_path):
    body = "   <photoshop:History>" + "edited; " * 10_000 + "</photoshop:History>"
    parts = H.app1_extended_xmp(body)
    assert len(parts) == 3  # the main packet and two extension segments
    photo = photo_file(tmp_path, H.jpeg([H.app0_jfif(), H.app1_exif(H.camera_exif()), *parts, H.app14_adobe()]))
    before = photo.read_bytes()
    guid = V.simple(V.jpeg_xmp(before), "xmpNote:HasExtendedXMP")
    embed_description(photo, "A new caption")
    after = photo.read_bytes()
    assert_only_the_caption_changed(before, after, "A new caption")
    assert V.simple(V.jpeg_xmp(after), "xmpNote:HasExtendedXMP") == guid
    assert [m for m, _ in V.segments(after)] == [m for m, _ in V.segments(before)]
    extension = b"".join(p[len(H.XMP_EXT_ID) + 40:] for m, p in V.segments(after) if p.startswith(H.XMP_EXT_ID))
    assert hashlib.md5(extension).hexdigest().upper() == guid


# ---- writing again ---------------------------------------------------------------------------

SPECIAL = '  Ünïcödé café 写真, "quoted" <tags> & amps\r\nsecond\tline  '


def test_a_caption_with_markup_line_breaks_and_spaces_reads_back_exactly_after_repeated_writes(tmp_path):
    block, packet = H.camera_exif("canon", "MM", comment=H.user_comment("first")), H.xmp_packet()
    photo = photo_file(tmp_path, H.jpeg([H.app0_jfif(), H.app1_exif(block), H.app1_xmp(packet)]))
    before = photo.read_bytes()
    for caption in ("first", SPECIAL, "third", SPECIAL):
        embed_description(photo, caption)
    after = photo.read_bytes()
    assert_only_the_caption_changed(before, after, SPECIAL, {("Exif", H.USER_COMMENT)})
    assert V.value_location(V.jpeg_exif(after), H.MAKERNOTE) == V.value_location(block, H.MAKERNOTE)
    assert V.xmp_lost_and_gained(packet, V.jpeg_xmp(after)) == ({}, {})


# ---- 5. mirrors -------------------------------------------------------------------------------

XP = {H.XP_TITLE: "XPTitle", H.XP_SUBJECT: "XPSubject", H.XP_COMMENT: "XPComment"}


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_windows_fields_holding_the_old_description_follow_it(tmp_path, byte_order):
    photo = photo_file(tmp_path, camera_jpeg("canon", byte_order, description="old text",
                                             xp=dict.fromkeys(XP, "old text")))
    before = photo.read_bytes()
    embed_description(photo, "new text", may_replace=lambda existing: True)
    after = photo.read_bytes()
    xp_keys = {("IFD0", tag) for tag in XP}
    assert_only_the_caption_changed(before, after, "new text", xp_keys)
    values = V.exif_values(V.jpeg_exif(after))
    assert {key: values[key] for key in xp_keys} == dict.fromkeys(xp_keys, H.ucs2("new text"))


def test_a_windows_title_holding_something_else_stays(tmp_path):
    photo = photo_file(tmp_path, camera_jpeg(description="old text",
                                             xp={H.XP_TITLE: "Holiday 2024", H.XP_COMMENT: "old text"}))
    embed_description(photo, "new text")
    values = V.exif_values(V.jpeg_exif(photo.read_bytes()))
    assert values[("IFD0", H.XP_TITLE)] == H.ucs2("Holiday 2024")
    assert values[("IFD0", H.XP_COMMENT)] == H.ucs2("new text")


@pytest.mark.parametrize("code", ["ascii", "unicode"])
@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_a_user_comment_holding_the_old_description_follows_it(tmp_path, code, byte_order):
    photo = photo_file(tmp_path, camera_jpeg("nikon", byte_order, description="old text",
                                             comment=H.user_comment("old text", code, byte_order)))
    before = photo.read_bytes()
    embed_description(photo, "new text")
    after = photo.read_bytes()
    assert_only_the_caption_changed(before, after, "new text", {("Exif", H.USER_COMMENT)})
    assert V.exif_values(V.jpeg_exif(after))[("Exif", H.USER_COMMENT)] == H.user_comment("new text", code, byte_order)


def test_a_user_comment_holding_something_else_stays(tmp_path):
    photo = photo_file(tmp_path, camera_jpeg(description="old text", comment=H.user_comment("Shot on a tripod")))
    before = photo.read_bytes()
    embed_description(photo, "new text")
    assert_only_the_caption_changed(before, photo.read_bytes(), "new text")


@pytest.mark.parametrize("order", ["old-first", "gimp-first"])
def test_a_comment_holding_the_old_description_follows_it_and_gimps_stays(tmp_path, order):
    comments = [H.com("old text"), H.com("Created with GIMP")]
    photo = photo_file(tmp_path, camera_jpeg(description="old text",
                                             extra=comments if order == "old-first" else comments[::-1]))
    before = photo.read_bytes()
    embed_description(photo, "new text")
    after = photo.read_bytes()
    not_comment = lambda s: s[0] != 0xFE and not V.is_exif(s) and not V.is_xmp(s)  # noqa: E731
    assert V.others(after, keep=not_comment) == V.others(before, keep=not_comment)
    expected = [b"new text", b"Created with GIMP"]
    assert [p for m, p in V.segments(after) if m == 0xFE] == (expected if order == "old-first" else expected[::-1])


def test_xmp_mirrors_holding_the_old_description_follow_it(tmp_path):
    body = "\n".join([H.lang_alt({"x-default": "old text"}, "dc:description"),
                      H.lang_alt({"x-default": "old text"}, "dc:title"),
                      H.lang_alt({"x-default": "old text"}, "exif:UserComment"),
                      "   <tiff:ImageDescription>old text</tiff:ImageDescription>",
                      H.lang_alt({"x-default": "Rights reserved"}, "dc:rights")])
    packet = H.xpacket(H.xmpmeta(H.rdf_description(["dc", "exif", "tiff", "xmp"], 'xmp:Rating="5"', body)))
    photo = photo_file(tmp_path, H.jpeg([H.app1_xmp(packet)]))
    embed_description(photo, "new text")
    new_packet = V.jpeg_xmp(photo.read_bytes())
    for name in ("dc:description", "dc:title", "exif:UserComment"):
        assert V.lang_alt(new_packet, name) == {"x-default": "new text"}, name
    assert V.simple(new_packet, "tiff:ImageDescription") == "new text"
    changing = ("dc:description", "dc:title", "exif:UserComment", "tiff:ImageDescription",
                "visioncap:DescriptionDigest")
    assert V.xmp_lost_and_gained(packet, new_packet, changing) == ({}, {})


@pytest.mark.parametrize("data", [H.jpeg_exif_count_overrun(), H.jpeg_bad_tiff_header()], ids=["overrun", "bad-header"])
def test_a_file_whose_exif_cannot_be_followed_is_left_byte_identical(tmp_path, data):
    photo = photo_file(tmp_path, data)
    with pytest.raises(CannotEmbed) as raised:
        embed_description(photo, "A new caption")
    assert "EXIF" in raised.value.reason and "\n" not in raised.value.reason
    assert photo.read_bytes() == data


def test_a_truncated_photo_keeps_what_is_left_of_its_scan(tmp_path):
    data = H.jpeg_truncated()
    photo = photo_file(tmp_path, data)
    try:
        embed_description(photo, "A new caption")
    except MetadataError:
        assert photo.read_bytes() == data
        return
    after = photo.read_bytes()
    assert V.scan(after) == V.scan(data) and V.others(after) == V.others(data)
