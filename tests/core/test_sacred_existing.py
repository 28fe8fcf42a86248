"""Photos are sacred (issue 21): a caption a person or another program wrote is never replaced
unless asked, VisionCap's own caption is, and the photo written is the photo captioned. Files
are read back through tests/core/photo_views, never through VisionCap's own parsers."""

from __future__ import annotations

import csv
import struct

import pytest

import tests.core.photo_views as V
import tests.hostile_files as H
from core.cli.main import main
from core.errors import KeptCaption
from core.fingerprint import file_state
from core.metadata.caption_writes import (
    KEPT,
    NOT_WRITTEN,
    WRITTEN,
    WriteItem,
    WriteOptions,
    write_captions,
)
from core.metadata.photo_metadata import EmbeddedCaption, PhotoChanged, embed_description

PERSON = "Grandma's 80th birthday, in the garden"


def photo_file(tmp_path, data: bytes, name: str = "photo.jpg"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def camera_jpeg(seed: int = 0, **exif) -> bytes:
    return H.jpeg([H.app0_jfif(), H.app1_exif(H.camera_exif("canon", **exif))], seed=seed)


def description(data: bytes) -> tuple[str | None, str | None]:
    """(EXIF ImageDescription, XMP dc:description x-default) as Pillow and ElementTree read them."""
    block, packet = V.jpeg_exif(data), V.jpeg_xmp(data)
    exif = V.exif_values(block).get(("IFD0", 0x010E)) if block else None
    xmp = V.lang_alt(packet, "dc:description") if packet else None
    return (V.text_of(exif) if exif is not None else None), (xmp or {}).get("x-default")


# ---- 6. captions someone else wrote -----------------------------------------------------------

OTHERS = {
    "exif": (camera_jpeg(description=PERSON), "EXIF ImageDescription", PERSON),
    "xmp": (H.jpeg([H.app0_jfif(), H.app1_xmp(H.xmp_packet(caption=PERSON))]), "XMP dc:description", PERSON),
    "iptc": (H.jpeg([H.app13_iptc(H.iptc_iim("utf-8", caption=PERSON))]), "IPTC Caption-Abstract", PERSON),
    "xp-comment": (camera_jpeg(xp={H.XP_COMMENT: PERSON}), "Windows XPComment", PERSON),
    "exif-cp1252": (camera_jpeg(description=H.ascii_value("Café au lait", "cp1252")), "EXIF ImageDescription",
                    "Café au lait"),  # old Windows tools
}


@pytest.mark.parametrize("where", OTHERS)
def test_a_caption_another_program_wrote_is_kept_and_the_photo_byte_identical(tmp_path, where):
    data, field, text = OTHERS[where]
    photo = photo_file(tmp_path, data)
    asked = []
    with pytest.raises(KeptCaption) as raised:
        embed_description(photo, "A model's caption", may_replace=lambda existing: asked.append(existing) or False)
    assert photo.read_bytes() == data
    assert asked == [EmbeddedCaption(text, field, own=False)]
    assert raised.value.existing == text and "\n" not in raised.value.reason


def test_visioncaps_own_caption_is_replaced_without_asking(tmp_path):
    photo = photo_file(tmp_path, camera_jpeg())
    embed_description(photo, "first caption")
    asked = []
    result = embed_description(photo, "second caption", may_replace=lambda existing: asked.append(existing) or False)
    assert result.written and asked == []
    assert description(photo.read_bytes()) == ("second caption", "second caption")


def edited_by_hand(data: bytes, block: str) -> bytes:
    """`data` with "first caption" changed to "FIRST CAPTION" in its XMP or IPTC only, as a person
    editing in Lightroom (XMP) or Photo Mechanic (IPTC, its digest left stale) would."""
    segments, scan = H.split_segments(data)
    chosen = V.is_xmp if block == "xmp" else (lambda segment: segment[0] == 0xED)
    edited = [(m, p.replace(b"first caption", b"FIRST CAPTION")) if chosen((m, p)) else (m, p) for m, p in segments]
    assert edited != segments
    return b"\xff\xd8" + b"".join(struct.pack(">BBH", 0xFF, m, len(p) + 2) + p for m, p in edited) + scan


@pytest.mark.parametrize("block", ["xmp", "iptc"])
def test_visioncaps_caption_edited_since_in_one_block_by_a_person_is_kept(tmp_path, block):
    photo = photo_file(tmp_path, H.jpeg([H.app1_exif(H.camera_exif()), H.app13_iptc(H.iptc_iim("utf-8"))]))
    embed_description(photo, "first caption")
    data = edited_by_hand(photo.read_bytes(), block)
    photo.write_bytes(data)
    with pytest.raises(KeptCaption):
        embed_description(photo, "second caption", may_replace=lambda existing: False)
    assert photo.read_bytes() == data


def test_write_captions_keeps_a_caption_someone_wrote_unless_replace_is_asked(tmp_path):
    data = camera_jpeg(description=PERSON)
    photo = photo_file(tmp_path, data)
    items = [WriteItem(photo, photo.name, "A model's caption")]
    report = write_captions(items, WriteOptions(ways=("embed",)))
    [outcome] = report.outcomes
    assert (outcome.way, outcome.status, outcome.target) == ("embed", KEPT, photo)
    assert PERSON in outcome.reason and report.ok and "kept" in report.summary()
    assert photo.read_bytes() == data
    report = write_captions(items, WriteOptions(ways=("embed",), existing="replace"))
    assert [o.status for o in report.outcomes] == [WRITTEN]
    after = photo.read_bytes()
    assert description(after) == ("A model's caption", "A model's caption")
    assert V.changed_entries(V.exif_values(V.jpeg_exif(data)), V.exif_values(V.jpeg_exif(after))) == {("IFD0", 0x010E)}


def read_rows(path) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["path", "caption", "error", "absolute_path", "source", "notes", "model", "style"]
    return {row["path"].replace("\\", "/").rsplit("/", 1)[-1]: row for row in rows}


def test_the_cli_leaves_a_captioned_photo_alone_unless_asked_to_replace(tmp_path, tiny_bundle):
    folder = tmp_path / "photos"
    folder.mkdir()
    person = photo_file(folder, camera_jpeg(description=PERSON), "person.jpg")
    plain = photo_file(folder, camera_jpeg(seed=1), "plain.jpg")
    person_bytes, out = person.read_bytes(), tmp_path / "out.csv"
    run = ["caption", str(folder), "--model", str(tiny_bundle), "--out", str(out), "--max-tokens", "5",
           "--write", "embed"]
    assert main(run) == 0
    rows = read_rows(out)
    assert rows["person.jpg"]["caption"] == PERSON and rows["person.jpg"]["source"] == "embedded"
    assert rows["person.jpg"]["error"] == "" and person.read_bytes() == person_bytes
    assert rows["plain.jpg"]["source"] == "model" and rows["plain.jpg"]["caption"].strip()
    assert description(plain.read_bytes()) == (rows["plain.jpg"]["caption"],) * 2

    assert main([*run, "--existing", "replace"]) == 0
    rows = read_rows(out)
    caption = rows["person.jpg"]["caption"]
    assert rows["person.jpg"]["source"] == "model" and caption != PERSON
    after = person.read_bytes()
    assert description(after) == (caption, caption)
    assert V.changed_entries(V.exif_values(V.jpeg_exif(person_bytes)), V.exif_values(V.jpeg_exif(after))) == \
        {("IFD0", 0x010E)}
    assert V.scan(after) == V.scan(person_bytes)


# ---- 7. the photo written is the photo captioned ----------------------------------------------


def _replaced(data: bytes, how: str) -> bytes:
    if how == "another photo":
        return camera_jpeg(seed=5)
    flipped = bytearray(data)  # the same size, one byte of the scan different
    flipped[-40] ^= 0x01
    return bytes(flipped)


@pytest.mark.parametrize("how", ["another photo", "same size"])
def test_a_photo_replaced_since_it_was_captioned_is_not_written(tmp_path, how):
    photo = photo_file(tmp_path, camera_jpeg())
    state = file_state(photo)
    other = _replaced(photo.read_bytes(), how)
    photo.write_bytes(other)
    with pytest.raises(PhotoChanged) as raised:
        embed_description(photo, "A caption of the other photo", expect=state)
    assert photo.read_bytes() == other and "\n" not in raised.value.reason


def test_a_photo_only_touched_since_it_was_captioned_is_written(tmp_path):
    photo = photo_file(tmp_path, camera_jpeg())
    state = file_state(photo)
    photo.write_bytes(photo.read_bytes())  # a new modification time, the same bytes
    assert embed_description(photo, "A caption", expect=state).written


def test_write_captions_writes_nothing_for_a_photo_replaced_since(tmp_path):
    photo = photo_file(tmp_path, camera_jpeg())
    state = file_state(photo)
    other = camera_jpeg(seed=5)
    photo.write_bytes(other)
    report = write_captions([WriteItem(photo, photo.name, "A caption", photo_state=state)],
                            WriteOptions(ways=("xmp", "embed", "txt", "jsonl")))
    assert sorted(o.way for o in report.outcomes) == ["embed", "jsonl", "txt", "xmp"]
    assert all(o.status == NOT_WRITTEN and o.reason for o in report.outcomes)
    assert not report.ok
    assert photo.read_bytes() == other and sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]
