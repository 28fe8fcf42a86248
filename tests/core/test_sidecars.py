import pytest

from core.cli.output import read_caption_csv
from core.csvio import write_csv_atomic
from core.errors import MetadataError
from core.metadata.sidecars import (
    read_sidecar,
    read_txt,
    sidecar_path,
    write_sidecar,
    write_txt,
)
from tests.core.photos import metadata

DARKTABLE_SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:vendor="http://example.com/vendor/1.0/"
   xmp:Rating="4"
   darktable:xmp_version="5"
   vendor:flag="kept">
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:operation="exposure" darktable:enabled="1" darktable:params="0000a0"/>
     <rdf:li darktable:operation="crop" darktable:enabled="1" darktable:params="cafe"/>
    </rdf:Seq>
   </darktable:history>
   <dc:subject><rdf:Bag><rdf:li>beach</rdf:li><rdf:li>dog</rdf:li></rdf:Bag></dc:subject>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">old caption</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


@pytest.mark.parametrize(("naming", "name"), [("photo.jpg.xmp", "photo.jpg.xmp"), ("photo.xmp", "photo.xmp")])
def test_new_sidecar_both_namings(tmp_path, naming, name):
    caption = 'Ünïcödé "quoted" <b> & more\nsecond line'
    [result] = write_sidecar(tmp_path / "photo.jpg", caption, naming)
    assert result.path == tmp_path / name == sidecar_path(tmp_path / "photo.jpg", naming) and result.written
    assert read_sidecar(result.path).text == caption and read_sidecar(result.path).own
    assert not (tmp_path / "photo.jpg").exists()  # a sidecar never needs or touches the photo


def test_updating_a_sidecar_keeps_every_other_property(tmp_path):
    path = tmp_path / "raw.cr2.xmp"
    path.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    before = {k: v for k, v in metadata(path).items() if k.startswith("Xmp.")}
    original = path.read_bytes()
    [kept] = write_sidecar(tmp_path / "raw.cr2", "new caption", may_replace=lambda path, old: False)
    assert (kept.status, kept.existing) == ("kept", "old caption")  # someone wrote it: kept unless asked
    assert path.read_bytes() == original
    write_sidecar(tmp_path / "raw.cr2", "new caption")
    after = {k: v for k, v in metadata(path).items() if k.startswith("Xmp.")}
    assert read_sidecar(path).text == "new caption"
    changed = ("Xmp.dc.description", "Xmp.visioncap.DescriptionDigest")
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed}
    assert after["Xmp.darktable.history[2]/darktable:params"] == "cafe"
    assert after["Xmp.vendor.flag"] == "kept" and after["Xmp.dc.subject"] == "beach, dog"


def test_a_file_in_the_way_that_is_not_xmp_is_left_alone(tmp_path):
    path = tmp_path / "photo.jpg.xmp"
    path.write_bytes(b"not xmp at all")
    with pytest.raises(MetadataError, match=r"photo\.jpg\.xmp"):
        write_sidecar(tmp_path / "photo.jpg", "caption")
    assert path.read_bytes() == b"not xmp at all"
    with pytest.raises(MetadataError):
        read_sidecar(path)


def test_bad_naming_is_refused(tmp_path):
    with pytest.raises(ValueError, match="naming"):
        sidecar_path(tmp_path / "a.jpg", "a.XMP")


def test_txt_round_trip_bom_and_blank(tmp_path):
    path = write_txt(tmp_path / "a.jpg", "line one\nline two ü").path
    assert path == tmp_path / "a.txt"
    assert read_txt(path) == "line one\nline two ü"
    path.write_bytes("\ufeff  with a BOM  \r\n".encode())
    assert read_txt(path) == "  with a BOM  "  # spaces as written; the line break is the file's
    path.write_text("  \n", encoding="utf-8")
    assert read_txt(path) is None
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(MetadataError, match=r"a\.txt"):
        read_txt(path)


def test_cli_csv_matched_by_relative_path(tmp_path):
    csv_path = tmp_path / "out.csv"
    rows = [
        {"path": "a.jpg", "caption": "a cat", "error": ""},
        {"path": "sub/b.png", "caption": "a dog", "error": ""},
        {"path": "broken.jpg", "caption": "", "error": "truncated"},
    ]
    write_csv_atomic(csv_path, ("path", "caption", "error"), rows, bom=False, guard_formulas=False)
    assert read_caption_csv(csv_path, tmp_path) == {"a.jpg": "a cat", "sub/b.png": "a dog"}


def test_app_export_csv_matched_by_file_name_or_absolute_path(tmp_path):
    folder = tmp_path / "photos"
    csv_path = tmp_path / "export.csv"
    rows = [
        {"file_name": "a.jpg", "path": str(folder / "a.jpg"), "caption": "=1+1 is not a formula", "edited": True},
        {"file_name": "", "path": str(folder / "sub" / "c.jpg"), "caption": "by path", "edited": False},
        {"file_name": "", "path": str(tmp_path / "elsewhere.jpg"), "caption": "outside", "edited": False},
    ]
    write_csv_atomic(csv_path, ("file_name", "path", "caption", "edited"), rows)  # BOM, guarded
    assert read_caption_csv(csv_path, folder) == {"a.jpg": "=1+1 is not a formula", "sub/c.jpg": "by path"}


def test_csv_without_caption_column_is_refused(tmp_path):
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("name,value\na,b\n", encoding="utf-8")
    with pytest.raises(MetadataError, match="caption"):
        read_caption_csv(csv_path, tmp_path)
