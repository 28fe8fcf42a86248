"""Keywords and a title written with a caption (issue 24's "tags become keywords"): added beside
the photo's own, never removing one, through the same checked writer; read back independently."""

import collections

import pytest

import tests.core.photo_views as V
import tests.hostile_files as H
from core.metadata.caption_writes import WRITTEN, WriteItem, WriteOptions, write_captions
from core.metadata.photo_metadata import embed_description, read_keywords
from core.metadata.sidecars import write_sidecar

DC = "http://purl.org/dc/elements/1.1/"
LR = "http://ns.adobe.com/lightroom/1.0/"


def bag(packet: bytes, qualified: str) -> list[str]:
    """The items of an XMP array, read with ElementTree (not VisionCap's parser)."""
    root = V.xmp_root(packet)
    items = []
    for element in root.iter(qualified):
        items += [li.text or "" for li in element.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li")]
    return items


def keywords_iim(data: bytes) -> list[bytes]:
    return [value for record, number, value in V.iim_datasets(V.photoshop(data)[H.IPTC_RESOURCE])
            if (record, number) == (2, 25)]


def test_keywords_join_the_lightroom_ones_and_the_iptc_ones_none_removed(tmp_path):
    photo = tmp_path / "lr.jpg"
    photo.write_bytes(H.jpeg([H.app0_jfif(), H.app1_exif(H.camera_exif()), H.app1_xmp(H.xmp_packet()),
                              H.app13_iptc(H.iptc_iim("utf-8"))]))
    before = photo.read_bytes()
    old_subject, old_hier = bag(V.jpeg_xmp(before), f"{{{DC}}}subject"), bag(V.jpeg_xmp(before), f"{{{LR}}}hierarchicalSubject")
    old_iptc = keywords_iim(before)
    assert old_subject and old_hier and old_iptc  # the builder's Lightroom file has keywords in all three
    result = embed_description(photo, "a harbour at dusk", keywords=("harbour", "dusk", old_subject[0]))
    after = photo.read_bytes()
    assert result.written and bag(V.jpeg_xmp(after), f"{{{DC}}}subject") == [*old_subject, "harbour", "dusk"]
    added = [k for k in ("harbour", "dusk", old_subject[0]) if k not in old_hier]
    assert bag(V.jpeg_xmp(after), f"{{{LR}}}hierarchicalSubject") == [*old_hier, *added]
    assert keywords_iim(after) == [*old_iptc, b"harbour", b"dusk"]
    assert V.others(after, keep=lambda s: not (V.is_exif(s) or V.is_xmp(s) or s[0] == 0xED)) == \
        V.others(before, keep=lambda s: not (V.is_exif(s) or V.is_xmp(s) or s[0] == 0xED))
    lost, _ = V.xmp_lost_and_gained(V.jpeg_xmp(before), V.jpeg_xmp(after),
                                    changing=("dc:description", "visioncap:DescriptionDigest"))
    assert not lost  # every value the packet had is still there
    assert read_keywords(photo)[: len(old_subject) + 2] == (*old_subject, "harbour", "dusk")
    again = embed_description(photo, "a harbour at dusk", keywords=("harbour",))
    assert not again.written  # caption and keywords already there


def test_a_keyword_the_iptc_character_set_cannot_hold_is_left_out_of_iptc_only(tmp_path):
    photo = tmp_path / "latin.jpg"
    photo.write_bytes(H.jpeg([H.app13_iptc(H.iptc_iim("latin-1"))]))
    result = embed_description(photo, "a street", keywords=("Straße", "写真"))
    after = photo.read_bytes()
    assert b"Stra\xdfe" in keywords_iim(after) and all("写真".encode() not in k for k in keywords_iim(after))
    assert any("写真" in note for note in result.notes)
    assert bag(V.jpeg_xmp(after), f"{{{DC}}}subject") == ["Straße", "写真"]


def test_no_keywords_asked_none_written_and_a_title_when_asked(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(H.jpeg([H.app1_exif(H.camera_exif())]))
    embed_description(photo, "a caption")
    assert bag(V.jpeg_xmp(photo.read_bytes()), f"{{{DC}}}subject") == []
    embed_description(photo, "a caption", title="Harbour, evening")
    assert V.lang_alt(V.jpeg_xmp(photo.read_bytes()), "dc:title") == {"x-default": "Harbour, evening"}


@pytest.mark.parametrize("flavour", ["darktable", "lightroom"])
def test_sidecar_keywords(tmp_path, flavour):
    sidecar = tmp_path / "raw.cr2.xmp"
    sidecar.write_bytes(H.xmp_sidecar(flavour))
    before = bag(sidecar.read_bytes(), f"{{{DC}}}subject")
    [written] = write_sidecar(tmp_path / "raw.cr2", "a caption", keywords=("new one",))
    assert written.status == WRITTEN
    assert bag(sidecar.read_bytes(), f"{{{DC}}}subject") == [*before, "new one"]


def test_write_captions_passes_keywords_to_photos_and_sidecars(tmp_path):
    jpg, gif = tmp_path / "a.jpg", tmp_path / "b.gif"
    jpg.write_bytes(H.jpeg([]))
    from PIL import Image
    Image.new("RGB", (8, 8)).save(gif)
    report = write_captions([WriteItem(jpg, "a.jpg", "cap a", keywords=("k1",)), WriteItem(gif, "b.gif", "cap b", keywords=("k2",))],
                            WriteOptions(ways=("embed",)))
    assert collections.Counter(o.status for o in report.outcomes) == collections.Counter({WRITTEN: 2, "sidecar instead": 1})
    assert read_keywords(jpg) == ("k1",)
    assert bag((tmp_path / "b.gif.xmp").read_bytes(), f"{{{DC}}}subject") == ["k2"]


def test_the_model_and_style_that_wrote_a_caption_are_recorded_beside_it_and_dropped_for_a_persons(tmp_path):
    """Issue 28: the written metadata says which model and style wrote each caption (XMP
    visioncap:Model and visioncap:Style, beside the digest), only on the model's captions."""
    photo = tmp_path / "lr.jpg"
    photo.write_bytes(H.jpeg([H.app1_exif(H.camera_exif()), H.app1_xmp(H.xmp_packet())]))
    item = WriteItem(photo, "lr.jpg", "a harbour at dusk", model="Florence-2 base", style="detailed")
    sidecar_item = WriteItem(tmp_path / "raw.cr2", "raw.cr2", "a quay", model="BLIP base")
    (tmp_path / "raw.cr2").write_bytes(b"II*\x00raw")
    report = write_captions([item], WriteOptions(("embed",), existing="replace"))  # over Lightroom's caption
    assert [o.status for o in report.outcomes] == [WRITTEN]
    packet = V.jpeg_xmp(photo.read_bytes())
    root = V.xmp_root(packet)
    ns = "{http://ns.visioncap.org/xmp/1.0/}"
    values = {el.tag: el.text for el in root.iter() if el.tag in (f"{ns}Model", f"{ns}Style")}
    attributes = {k: v for el in root.iter() for k, v in el.attrib.items() if k in (f"{ns}Model", f"{ns}Style")}
    assert {**values, **attributes} == {f"{ns}Model": "Florence-2 base", f"{ns}Style": "detailed"}
    lost, _ = V.xmp_lost_and_gained(V.jpeg_xmp(H.jpeg([H.app1_xmp(H.xmp_packet())])), packet,
                                    changing=("dc:description", "visioncap:DescriptionDigest",
                                              "visioncap:Model", "visioncap:Style"))
    assert not lost
    write_captions([sidecar_item], WriteOptions(("xmp",)))
    sidecar = (tmp_path / "raw.cr2.xmp").read_bytes()
    assert b"BLIP base" in sidecar and b"Style" not in sidecar  # a model without styles
    person = WriteItem(photo, "lr.jpg", "my own words", by_model=False)
    write_captions([person], WriteOptions(("embed",), existing="replace"))
    assert b"Florence-2 base" not in V.jpeg_xmp(photo.read_bytes())  # a person's caption carries no model
