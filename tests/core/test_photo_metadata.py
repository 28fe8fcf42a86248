import os
import stat

import pytest
from PIL import Image

import core.metadata.photo_edit as pe
from core.metadata.photo_metadata import (
    CannotEmbed,
    MetadataError,
    ReadOnlyPhoto,
    embed_description,
    mwg_description,
    read_embedded,
)
from tests.core.photos import CAMERA, add_photoshop_iptc, icc, make_photo, metadata, pixels

CAPTIONS = [
    "a dog runs on the beach",
    'Ünïcödé café 写真, "quoted" and \'single\' <tags> & ampersands',
    "first line\nsecond line\n\nafter a blank line",
]


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
@pytest.mark.parametrize("caption", CAPTIONS)
def test_embed_round_trip_keeps_every_other_field_the_icc_profile_and_the_pixels(tmp_path, suffix, caption):
    photo = make_photo(tmp_path / f"photo{suffix}", iptc={"Iptc.Application2.City": "Berlin"} if suffix != ".webp" else None)
    before, before_pixels, before_icc = metadata(photo), pixels(photo), icc(photo)
    embed_description(photo, caption)
    after = metadata(photo)
    found = read_embedded(photo)
    assert found is not None and found.text == caption
    assert after["Exif.Image.ImageDescription"] == caption
    assert after["Xmp.dc.description"] == f'lang="x-default" {caption}'
    for key in CAMERA:
        assert after[key] == before[key]
    changed = {"Exif.Image.ImageDescription", "Xmp.dc.description", "Iptc.Application2.Caption",
               "Iptc.Envelope.CharacterSet", "Exif.Image.IPTCNAA", "Exif.Image.XMLPacket",
               "Xmp.visioncap.DescriptionDigest"}
    moving = ("Offsets", "ByteCounts", "Tag")
    assert {k: v for k, v in after.items() if k not in changed and not k.endswith(moving)} == {
        k: v for k, v in before.items() if k not in changed and not k.endswith(moving)}
    assert pixels(photo) == before_pixels
    assert icc(photo) == before_icc is not None
    if suffix in (".jpg", ".tif"):  # WebP cannot hold IPTC; PNG keeps it in a text chunk left alone
        assert after["Iptc.Application2.Caption"] == caption


def test_iptc_written_only_where_the_file_already_has_it(tmp_path):
    photo = make_photo(tmp_path / "plain.jpg")
    embed_description(photo, "a caption")
    assert not any(key.startswith("Iptc.") for key in metadata(photo))


def test_non_ascii_caption_declares_utf8_in_iptc(tmp_path):
    photo = make_photo(tmp_path / "p.jpg", iptc={"Iptc.Application2.Keywords": "k"})
    embed_description(photo, "café")
    values = metadata(photo)
    assert values["Iptc.Envelope.CharacterSet"] == "\x1b%G"
    assert values["Iptc.Application2.Keywords"] == "k"


def test_existing_description_is_replaced_other_languages_kept_and_undo_restores_it(tmp_path):
    photo = make_photo(
        tmp_path / "p.jpg",
        iptc={"Iptc.Application2.Caption": "old"},
        exif_description="old",
        xmp_description={"x-default": "old", "de-DE": "alt"},
    )
    embed_description(photo, "new")
    values = metadata(photo)
    assert read_embedded(photo).text == "new"
    assert values["Iptc.Application2.Caption"] == "new"
    assert "de-DE" in values["Xmp.dc.description"] and "alt" in values["Xmp.dc.description"]
    embed_description(photo, "old")  # what the app's undo writes back
    assert read_embedded(photo).text == "old" and metadata(photo)["Iptc.Application2.Caption"] == "old"


def test_long_caption_is_cut_at_the_iptc_limit_but_read_whole(tmp_path):
    photo = make_photo(tmp_path / "p.jpg", iptc={"Iptc.Application2.City": "Oslo"})
    caption = "é" * 1500  # 3,000 bytes
    embed_description(photo, caption)
    assert len(metadata(photo)["Iptc.Application2.Caption"].encode()) <= 2000
    assert read_embedded(photo).text == caption


def test_read_only_photo_is_reported_and_untouched(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    original = photo.read_bytes()
    photo.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        with pytest.raises(ReadOnlyPhoto, match="read-only"):
            embed_description(photo, "a caption")
    finally:
        photo.chmod(0o644)
    assert photo.read_bytes() == original


def test_a_failed_replace_leaves_the_photo_byte_identical_and_no_temporary_file(tmp_path, monkeypatch):
    photo = make_photo(tmp_path / "p.jpg")
    original = photo.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(MetadataError, match="No space left"):
        embed_description(photo, "a caption")
    assert photo.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jpg"]


def test_a_failed_check_writes_nothing(tmp_path, monkeypatch):
    photo = make_photo(tmp_path / "p.png")
    original = photo.read_bytes()
    monkeypatch.setattr(pe, "verify", lambda *args: ["the image data would change"])
    with pytest.raises(MetadataError, match="image data would change"):
        embed_description(photo, "a caption")
    assert photo.read_bytes() == original


def test_an_exif_value_that_would_change_stops_the_write_and_is_named(tmp_path, monkeypatch):
    photo = make_photo(tmp_path / "p.jpg")
    original = photo.read_bytes()
    real_edit = pe.edit

    def drifting(data, changes):  # a writer bug that changes the camera model
        return real_edit(data, {**changes, "IFD0": {**changes["IFD0"], 0x0110: (2, b"Other\0")}})

    monkeypatch.setattr(pe, "edit", drifting)
    with pytest.raises(MetadataError, match=r"EXIF tag 0x0110 in IFD0 would change"):
        embed_description(photo, "a caption")
    assert photo.read_bytes() == original


def test_no_pixel_decode_so_a_photo_over_the_decode_limit_is_written(tmp_path, monkeypatch):
    photo = make_photo(tmp_path / "p.jpg")
    before = pixels(photo)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the photo is 3,072 pixels: a "bomb" to decode
    embed_description(photo, "a caption")
    assert read_embedded(photo).text == "a caption"
    monkeypatch.undo()
    assert pixels(photo) == before


def test_keep_mtime(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    os.utime(photo, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    state = embed_description(photo, "kept", keep_mtime=True).state
    assert photo.stat().st_mtime_ns == 1_600_000_000_000_000_000 == state.mtime_ns
    embed_description(photo, "not kept")
    assert photo.stat().st_mtime_ns != 1_600_000_000_000_000_000


def test_returned_state_is_the_new_file(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    state = embed_description(photo, "a caption").state
    assert state.size == photo.stat().st_size


@pytest.mark.parametrize("suffix", [".bmp", ".gif"])
def test_formats_exiv2_cannot_write_raise_cannot_embed(tmp_path, suffix):
    photo = make_photo(tmp_path / f"p{suffix}")
    original = photo.read_bytes()
    with pytest.raises(CannotEmbed):
        embed_description(photo, "a caption")
    assert photo.read_bytes() == original


def test_unreadable_file_raises_metadata_error_naming_it(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for path in (broken, empty):
        with pytest.raises(MetadataError, match=path.name):
            read_embedded(path)


def test_camera_placeholder_and_blank_are_not_captions(tmp_path):
    photo = make_photo(tmp_path / "p.jpg", exif_description="OLYMPUS DIGITAL CAMERA         ",
                       xmp_description={"x-default": "a real caption"})
    assert read_embedded(photo).text == "a real caption"
    assert read_embedded(make_photo(tmp_path / "q.jpg", exif_description="   ")) is None


def test_latin1_exif_description_is_read(tmp_path):
    path = tmp_path / "old.jpg"
    exif = Image.Exif()
    exif[0x010E] = "café au lait".encode("cp1252")
    Image.new("RGB", (8, 8)).save(path, exif=exif.tobytes())
    assert read_embedded(path).text == "café au lait"


@pytest.mark.parametrize(("in_sync", "expected"), [(True, "xmp text"), (False, "iptc text")])
def test_iptc_digest_decides_between_xmp_and_iptc(tmp_path, in_sync, expected):
    photo = make_photo(tmp_path / "p.jpg", xmp_description={"x-default": "xmp text"})
    add_photoshop_iptc(photo, "iptc text", digest_matches=in_sync)
    found = read_embedded(photo)
    assert found.text == expected
    assert found.field == ("XMP dc:description" if in_sync else "IPTC Caption-Abstract")


MWG_CASES = [
    # exif, iptc, xmp, iptc present, in sync -> description
    ("exif", "iptc", "xmp", True, False, "exif"),
    ("  ", "iptc", "xmp", True, True, "xmp"),  # blank EXIF does not count
    (None, None, "xmp", False, True, "xmp"),  # no IPTC at all
    (None, "iptc", "xmp", True, True, "xmp"),  # IPTC in sync (or no digest): XMP
    (None, "iptc", "xmp", True, False, "iptc"),  # IPTC changed since: IPTC
    (None, "iptc", None, True, True, "iptc"),  # XMP missing
    (None, None, "xmp", True, False, None),  # IPTC changed and lost its caption
    (None, None, None, False, True, None),
    (None, "x" * 2000, "x" * 2100, True, False, "x" * 2100),  # IPTC is XMP cut at the limit
    (None, "y" * 2000, "x" * 2100, True, False, "y" * 2000),
]


@pytest.mark.parametrize(("exif", "iptc", "xmp", "present", "in_sync", "expected"), MWG_CASES)
def test_mwg_rule(exif, iptc, xmp, present, in_sync, expected):
    assert mwg_description(exif, iptc, xmp, iptc_present=present, iptc_in_sync=in_sync) == expected
