"""Photos are sacred (issue 21), beside the photo: XMP sidecars other programs wrote keep every
property, a caption someone wrote in one is kept unless asked, files that are not regular files
never block, `.txt` files shared by several photos belong to none; and the captions other
programs leave are read. Sidecars are compared with ElementTree (tests/core/photo_views), never
with VisionCap's own XMP parser."""

from __future__ import annotations

import contextlib
import json
import os
import threading

import pytest

import tests.core.photo_views as V
import tests.hostile_files as H
from core.fingerprint import file_state
from core.metadata.caption_io import Source, find_captions
from core.metadata.caption_writes import (
    KEPT,
    NOT_WRITTEN,
    SIDECAR_INSTEAD,
    WRITTEN,
    WriteItem,
    WriteOptions,
    write_captions,
)
from core.metadata.photo_metadata import read_embedded
from core.metadata.sidecars import read_sidecar, read_txt, write_sidecar
from core.safe_files import CAPS

JOIN_SECONDS = 60  # a reader blocked on a FIFO never returns: this only bounds the test


def make(folder, name: str, data: bytes | str = b""):
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def write(photo, caption: str, existing: str = "keep", ways=("xmp",)):
    return write_captions([WriteItem(photo, photo.name, caption)], WriteOptions(ways=ways, existing=existing))


def found(photo) -> list[tuple[Source, str]]:
    return [(f.source, f.text) for f in find_captions(photo, photo.name).found]


# ---- 8. sidecars other programs wrote ---------------------------------------------------------


def test_a_darktable_sidecar_with_a_description_someone_wrote_is_kept_byte_identical(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    sidecar = make(tmp_path, "photo.jpg.xmp", H.xmp_sidecar("darktable"))
    before = sidecar.read_bytes()
    report = write(photo, "A model's caption")
    [outcome] = report.outcomes
    assert (outcome.status, outcome.target) == (KEPT, sidecar) and H.CAPTION in outcome.reason
    assert sidecar.read_bytes() == before and not (tmp_path / "photo.xmp").exists()


@pytest.mark.parametrize("flavor", ["darktable", "lightroom", "xpacket"])
def test_replacing_a_sidecars_description_keeps_every_other_property(tmp_path, flavor):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    sidecar = make(tmp_path, "photo.jpg.xmp", H.xmp_sidecar(flavor))
    before = sidecar.read_bytes()
    report = write(photo, "A model's caption", existing="replace")
    assert [(o.status, o.target) for o in report.outcomes] == [(WRITTEN, sidecar)]
    after = sidecar.read_bytes()
    assert V.xmp_lost_and_gained(before, after) == ({}, {})
    old, new = V.lang_alt(before, "dc:description"), V.lang_alt(after, "dc:description")
    assert new == {**old, "x-default": "A model's caption"}
    history = [k for k in V.xmp_leaves(after) if V.q("darktable:history") in k[0]]
    assert len(history) == (18 if flavor == "darktable" else 0)


def test_a_lightroom_sidecar_shared_by_a_raw_and_its_jpeg_is_updated_and_no_second_one_made(tmp_path):
    raw = make(tmp_path, "photo.dng")
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    sidecar = make(tmp_path, "photo.xmp", H.xmp_sidecar("lightroom"))
    before = sidecar.read_bytes()
    report = write(photo, "A model's caption", existing="replace")
    assert [(o.status, o.target) for o in report.outcomes] == [(WRITTEN, sidecar)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.dng", "photo.jpg", "photo.xmp"]
    assert V.xmp_lost_and_gained(before, sidecar.read_bytes()) == ({}, {})
    assert V.lang_alt(sidecar.read_bytes(), "dc:description")["x-default"] == "A model's caption"
    report = write(raw, "The raw's caption", ways=("embed",))  # VisionCap's own caption there now
    assert [(o.way, o.status, o.target) for o in report.outcomes] == \
        [("embed", SIDECAR_INSTEAD, raw), ("xmp", WRITTEN, sidecar)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.dng", "photo.jpg", "photo.xmp"]
    assert V.xmp_lost_and_gained(before, sidecar.read_bytes()) == ({}, {})


def test_both_namings_present_are_both_updated(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    darktable = make(tmp_path, "photo.jpg.xmp", H.xmp_sidecar("darktable"))
    lightroom = make(tmp_path, "photo.xmp", H.xmp_sidecar("lightroom"))
    befores = {darktable: darktable.read_bytes(), lightroom: lightroom.read_bytes()}
    written = write_sidecar(photo, "A model's caption")
    assert sorted(w.path.name for w in written if w.written) == ["photo.jpg.xmp", "photo.xmp"]
    for path, before in befores.items():
        assert V.xmp_lost_and_gained(before, path.read_bytes()) == ({}, {})


def test_a_sidecar_with_a_repeated_property_is_read_and_written_without_losing_it(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    sidecar = make(tmp_path, "photo.jpg.xmp", H.xmp_duplicate_property())
    before = sidecar.read_bytes()
    assert read_sidecar(sidecar).text == H.CAPTION
    assert (Source.SIDECAR, H.CAPTION) in found(photo)
    report = write(photo, "A model's caption", existing="replace")
    assert [o.status for o in report.outcomes] == [WRITTEN]
    after = sidecar.read_bytes()
    assert V.xmp_lost_and_gained(before, after) == ({}, {})
    assert sum(n for k, n in V.xmp_leaves(after).items() if k[0] == (V.q("photoshop:Headline"),)) == 2


def test_a_new_sidecar_holds_the_caption_and_nothing_else(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    report = write(photo, 'Café "quoted" <b> & more\nsecond line')
    sidecar = tmp_path / "photo.jpg.xmp"
    assert [(o.status, o.target) for o in report.outcomes] == [(WRITTEN, sidecar)]
    leaves = V.xmp_leaves(sidecar.read_bytes())
    assert {k[0][0] for k in leaves} == {"rdf:about", V.q("dc:description"), V.q("visioncap:DescriptionDigest")}
    assert V.lang_alt(sidecar.read_bytes(), "dc:description") == {"x-default": 'Café "quoted" <b> & more\nsecond line'}


def test_every_sidecar_written_is_reported_when_another_is_kept(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    own = write_sidecar(photo, "VisionCap's earlier caption")[0].path  # photo.jpg.xmp, VisionCap's own
    person = make(tmp_path, "photo.xmp", H.xmp_sidecar("lightroom", caption="A person's caption"))
    befores = {own: own.read_bytes(), person: person.read_bytes()}
    report = write(photo, "A model's caption")
    assert person.read_bytes() == befores[person]
    assert any(o.target == person and o.status == KEPT for o in report.outcomes)
    for path, before in befores.items():
        if path.read_bytes() != before:
            assert any(o.target == path and o.status == WRITTEN for o in report.outcomes), f"{path.name} unreported"
            assert path in report.states


def test_knowing_one_sidecar_does_not_license_replacing_the_other(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    own = write_sidecar(photo, "A model's caption")[0].path
    person = make(tmp_path, "photo.xmp", H.xmp_sidecar("lightroom", caption="A person's caption"))
    before = person.read_bytes()
    item = WriteItem(photo, photo.name, "A model's caption", known={own: file_state(own)})
    report = write_captions([item], WriteOptions(ways=("xmp",)))
    assert person.read_bytes() == before
    assert [(o.target, o.status) for o in report.outcomes if o.target == person] == [(person, KEPT)]


# ---- 9. files that are not regular files, or too large ----------------------------------------


def in_thread(function):
    """function() in a daemon thread; (finished, result or exception)."""
    box = {}

    def run():
        try:
            box["result"] = function()
        except BaseException as exc:
            box["result"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(JOIN_SECONDS)
    return not thread.is_alive(), box.get("result")


FIFO_NAMES = ("photo.jpg.xmp", "photo.txt", "photo.caption", "photo.jpg.json")


@pytest.fixture
def fifos(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    paths = {name: tmp_path / name for name in FIFO_NAMES}
    for path in paths.values():
        os.mkfifo(path)
    yield photo, paths
    for path in paths.values():  # a reader still blocked on one is released by a writer opening it
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def test_fifos_never_block_find_captions(fifos):
    photo, paths = fifos
    finished, findings = in_thread(lambda: find_captions(photo, photo.name))
    assert finished, "find_captions blocked on a FIFO"
    assert findings.found == []
    for path in paths.values():
        assert any(str(path) in problem and "FIFO" in problem for problem in findings.problems), path


def test_fifos_never_block_write_captions_and_are_left_alone(fifos):
    photo, paths = fifos
    finished, report = in_thread(lambda: write(photo, "A caption", ways=("xmp", "txt")))
    assert finished, "write_captions blocked on a FIFO"
    assert sorted((o.way, o.status, o.target) for o in report.outcomes) == \
        [("txt", NOT_WRITTEN, paths["photo.txt"]), ("xmp", NOT_WRITTEN, paths["photo.jpg.xmp"])]
    assert all("FIFO" in o.reason for o in report.outcomes)
    assert all(os.path.exists(p) and not os.path.isfile(p) for p in paths.values())


def test_a_fifo_named_like_a_photo_never_blocks_and_is_left_alone(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    photo = tmp_path / "photo.jpg"
    os.mkfifo(photo)
    try:
        finished, findings = in_thread(lambda: find_captions(photo, photo.name))
        assert finished and findings.found == [] and any("FIFO" in p for p in findings.problems)
        finished, report = in_thread(lambda: write(photo, "A caption", ways=("embed",)))
        assert finished and [(o.status, o.target) for o in report.outcomes] == [(NOT_WRITTEN, photo)]
        assert "FIFO" in report.outcomes[0].reason and not os.path.isfile(photo)
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(photo, os.O_WRONLY | os.O_NONBLOCK))


def test_an_oversized_txt_is_reported_not_read_and_not_overwritten(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    big = make(tmp_path, "photo.txt", b"x" * (CAPS["caption"] + 1))
    findings = find_captions(photo, photo.name)
    assert findings.found == [] and any("photo.txt" in p for p in findings.problems)
    report = write(photo, "A caption", ways=("txt",))
    assert [o.status for o in report.outcomes] == [NOT_WRITTEN]
    assert big.stat().st_size == CAPS["caption"] + 1


def test_a_txt_someone_wrote_is_kept_unless_replacing_is_asked(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    txt = make(tmp_path, "photo.txt", "a person's caption\n")
    assert [(o.status, o.target) for o in write(photo, "A model's caption", ways=("txt",)).outcomes] == [(KEPT, txt)]
    assert txt.read_bytes() == b"a person's caption\n"
    assert [o.status for o in write(photo, "a person's caption", ways=("txt",)).outcomes] == ["unchanged"]
    assert txt.read_bytes() == b"a person's caption\n"
    assert [o.status for o in write(photo, "A model's caption", "replace", ways=("txt",)).outcomes] == [WRITTEN]
    assert read_txt(txt) == "A model's caption"


# ---- 10. .txt files several photos share --------------------------------------------------------


def test_a_txt_shared_by_several_pictures_belongs_to_none_and_is_reported(tmp_path):
    pictures = [make(tmp_path, name) for name in ("photo.png", "photo.tif", "photo.webp")]
    txt = make(tmp_path, "photo.txt", "whose caption is this?")
    for picture in pictures:
        findings = find_captions(picture, picture.name, embedded=False)
        assert findings.found == []
        assert any("photo.txt" in p and "also belongs to" in p for p in findings.problems)
    report = write(pictures[0], "A caption", ways=("txt",))
    [outcome] = report.outcomes
    assert (outcome.status, outcome.target) == (NOT_WRITTEN, txt) and "photo.tif" in outcome.reason
    assert txt.read_text(encoding="utf-8") == "whose caption is this?"


def test_a_new_txt_is_not_made_for_several_pictures_either(tmp_path):
    photo = make(tmp_path, "photo.png", H.png())
    make(tmp_path, "photo.jpg", H.jpeg())
    report = write(photo, "A caption", ways=("txt",))
    assert [o.status for o in report.outcomes] == [NOT_WRITTEN]
    assert not (tmp_path / "photo.txt").exists()


def test_a_raw_and_its_jpeg_share_their_txt(tmp_path):
    raw = make(tmp_path, "IMG_1.CR2")
    jpeg = make(tmp_path, "IMG_1.JPG", H.jpeg())
    make(tmp_path, "IMG_1.txt", "the same shot\n")
    for photo in (raw, jpeg):
        assert (Source.TXT, "the same shot") in found(photo)


# ---- 12. reading what other programs leave ----------------------------------------------------


@pytest.mark.parametrize("name", ["photo.jpg.json", "photo.jpg.supplemental-metadata.json",
                                  "photo.jpg.supplemental-metad.json"])
def test_google_takeout_descriptions_are_read(tmp_path, name):
    photo = make(tmp_path, "photo.jpg", H.jpeg())
    make(tmp_path, name, json.dumps({"title": "photo.jpg", "description": "From Google Photos",
                                     "photoTakenTime": {"timestamp": "1720980202"}}))
    assert found(photo) == [(Source.TAKEOUT, "From Google Photos")]


def test_a_caption_file_and_the_order_of_preference(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg([H.app1_exif(H.camera_exif(description="embedded"))]))
    make(tmp_path, "photo.caption", "from the .caption file")
    make(tmp_path, "photo.jpg.xmp", H.xmp_sidecar("darktable", caption="from the sidecar"))
    make(tmp_path, "photo.jpg.json", json.dumps({"description": "from Takeout"}))
    assert found(photo) == [(Source.CAPTION_FILE, "from the .caption file"), (Source.SIDECAR, "from the sidecar"),
                            (Source.TAKEOUT, "from Takeout"), (Source.EMBEDDED, "embedded")]


def test_spaces_around_a_txt_caption_are_kept_line_breaks_dropped(tmp_path):
    txt = make(tmp_path, "photo.txt", "\ufeff  two spaces around  \r\n\n")
    assert read_txt(txt) == "  two spaces around  "


@pytest.mark.parametrize(("exif", "expected"), [
    ({"xp": {H.XP_COMMENT: "from Windows"}}, ("from Windows", "Windows XPComment")),
    ({"xp": {H.XP_SUBJECT: "subject", H.XP_TITLE: "title"}}, ("subject", "Windows XPSubject")),
    ({"comment": H.user_comment("from the UserComment", "unicode", "MM"), "byte_order": "MM"},
     ("from the UserComment", "EXIF UserComment")),
    ({"comment": H.user_comment("an ascii comment", "ascii")}, ("an ascii comment", "EXIF UserComment")),
    ({"comment": H.user_comment("GCM_TAG", "ascii")}, None),  # a camera's settings, not a caption
    ({"comment": H.user_comment("R:  139 G:  255 B:  189 X:39852", "ascii")}, None),
    ({"comment": H.user_comment("", "undefined") + b"   "}, None),  # Canon's blank comment
])
def test_windows_fields_and_user_comment_are_read_when_nothing_else_is_there(tmp_path, exif, expected):
    photo = make(tmp_path, "photo.jpg", H.jpeg([H.app1_exif(H.camera_exif(**exif))]))
    caption = read_embedded(photo)
    assert (None if caption is None else (caption.text, caption.field)) == expected


def test_a_language_alternative_without_x_default_is_read_in_english(tmp_path):
    photo = make(tmp_path, "photo.jpg", H.jpeg([H.app1_xmp(H.xmp_no_x_default())]))
    assert read_embedded(photo).text == "A café in Zurich"
    sidecar = make(tmp_path, "other.jpg.xmp", H.xmp_no_x_default(caption_en="English", caption_fr="Français"))
    assert read_sidecar(sidecar).text == "English"
