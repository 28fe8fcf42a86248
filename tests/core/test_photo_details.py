"""Keywords and titles a photo manager left in photos and sidecars, read for the app's "keywords
as tags" (issue 24): Lightroom's packet with IPTC, darktable's sidecar, Windows' XPTitle, and files
that cannot be read."""

import tests.hostile_files as H
from core.metadata.photo_details import read_details


def test_lightroom_photo_keywords_then_iptc_ones_and_its_title(tmp_path):
    photo = tmp_path / "lr.jpg"
    photo.write_bytes(H.jpeg([H.app0_jfif(), H.app1_exif(H.camera_exif()),
                              H.app1_xmp(H.xmp_packet(keywords=("harbour", "Café"))),
                              H.app13_iptc(H.iptc_iim("utf-8"))]))
    details = read_details(photo)
    assert details.keywords[:2] == ("harbour", "Café")
    assert len(details.keywords) == len(set(details.keywords)) > 2  # IPTC's own keywords follow, once each
    assert details.title == "Zürich" and details.problems == ()


def test_a_sidecar_adds_its_keywords_and_the_photo_title_wins(tmp_path):
    photo = tmp_path / "raw.cr2"
    photo.write_bytes(b"II*\x00not really a raw")  # not a format whose metadata VisionCap reads itself
    (tmp_path / "raw.cr2.xmp").write_bytes(H.xmp_sidecar("darktable"))
    assert read_details(photo).keywords == ("Café", "Straße")
    jpeg = tmp_path / "p.jpg"
    jpeg.write_bytes(H.jpeg([H.app1_xmp(H.xmp_packet(keywords=("boats",)))]))
    (tmp_path / "p.jpg.xmp").write_bytes(H.xmp_sidecar("lightroom"))
    details = read_details(jpeg)
    assert details.keywords == ("boats", "Café", "Straße") and details.title == "Zürich"


def test_windows_xptitle_when_there_is_no_xmp_title(tmp_path):
    photo = tmp_path / "win.jpg"
    photo.write_bytes(H.jpeg([H.app1_exif(H.camera_exif(xp={H.XP_TITLE: "Harbour at dusk"}))]))
    assert read_details(photo).title == "Harbour at dusk"


def test_nothing_there_and_unreadable_files_are_problems_not_errors(tmp_path):
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(H.jpeg())
    assert read_details(plain).keywords == () and read_details(plain).title == ""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(H.jpeg([H.app1_xmp(H.xmp_packet())])[:40])
    (tmp_path / "broken.jpg.xmp").write_bytes(b"<x:xmpmeta><!DOCTYPE x [<!ENTITY a 'b'>]>")
    details = read_details(broken)
    assert len(details.problems) == 2 and all(str(tmp_path) in p for p in details.problems)
