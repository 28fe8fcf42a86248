"""CSV and .txt exports on their own: plain Python, temporary files, awkward text."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from core.fingerprint import FileState
from visioncap_desktop import export
from visioncap_desktop.records import CaptionState, ImageRecord

AWKWARD = 'a "quoted" dog, with commas\nand a second line; café 写真'


def records(folder):
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    return [
        ImageRecord(str(folder / "a.jpg"), "a.jpg", AWKWARD, CaptionState.CAPTIONED, model="tiny"),
        ImageRecord(str(folder / "sub" / "Ünï.png"), "sub/Ünï.png", "=SUM(A1:A9)", CaptionState.EDITED, model="tiny"),
        ImageRecord(str(folder / "c.gif"), "c.gif", "+1 -2 @home", CaptionState.CAPTIONED, model="tiny"),
        ImageRecord(str(folder / "d.bmp"), "d.bmp", "", CaptionState.ERROR, error="truncated image"),
    ]


def read(path, encoding="utf-8"):
    raw = path.read_bytes()
    text = raw.decode(encoding)
    return raw, list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_csv_round_trips_through_the_csv_module(tmp_path):
    out = tmp_path / "captions.csv"
    assert export.write_csv(out, records(tmp_path)) == 4
    raw, rows = read(out)
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM by default
    assert b"\r\n" in raw  # RFC 4180 line ends
    assert list(rows[0]) == list(export.CSV_COLUMNS)
    assert rows[0] == {"file_name": "a.jpg", "path": str(tmp_path / "a.jpg"), "caption": AWKWARD,
                       "title": "",
                       "edited": "false", "model": "tiny", "style": "", "error": ""}
    assert rows[1]["file_name"] == "sub/Ünï.png"  # relative, forward slashes
    assert rows[1]["edited"] == "true"
    assert rows[1]["caption"] == "'=SUM(A1:A9)"  # neutralised
    assert rows[2]["caption"] == "'+1 -2 @home"
    assert rows[3]["caption"] == "" and rows[3]["model"] == ""
    assert rows[3]["error"] == "truncated image"  # a failed image is not mistaken for an uncaptioned one


def test_csv_options_off(tmp_path):
    out = tmp_path / "plain.csv"
    export.write_csv(out, records(tmp_path), bom=False, guard_formulas=False)
    raw, rows = read(out)
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert rows[1]["caption"] == "=SUM(A1:A9)"


def test_csv_failure_leaves_the_earlier_file_intact(tmp_path, monkeypatch):
    out = tmp_path / "captions.csv"
    out.write_text("earlier export\n", encoding="utf-8")

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.atomic.os.replace", full_disk)
    with pytest.raises(OSError):
        export.write_csv(out, records(tmp_path))
    assert out.read_text(encoding="utf-8") == "earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["captions.csv"]


def test_csv_into_a_missing_folder_raises(tmp_path):
    with pytest.raises(OSError):
        export.write_csv(tmp_path / "no" / "such" / "folder.csv", records(tmp_path))


def test_write_items_carry_the_photo_state_and_the_files_known(tmp_path):
    recs = records(tmp_path)
    recs[0].fingerprint, recs[0].size, recs[0].mtime_ns = "v1:abc", 10, 20
    recs[0].seen = {"a.txt": FileState(3, 4, "v1:t"), "/elsewhere/metadata.jsonl": FileState(5, 6, "v1:j")}
    items = export.write_items(recs, tmp_path)
    assert [i.name for i in items] == ["a.jpg", "sub/Ünï.png", "c.gif"]  # no caption, no item
    assert items[0].photo_state == FileState(10, 20, "v1:abc") and items[1].photo_state is None
    assert items[0].known == {tmp_path / "a.txt": FileState(3, 4, "v1:t"),
                              Path("/elsewhere/metadata.jsonl"): FileState(5, 6, "v1:j")}
    assert [i.by_model for i in items] == [True, False, True]  # the edited one is the user's


def test_write_items_carry_the_captions_tags_as_keywords_when_asked(tmp_path):
    recs = [ImageRecord(str(tmp_path / "a.jpg"), "a.jpg", "beach, dog, a dog running after a ball in the surf at dusk",
                        CaptionState.CAPTIONED)]
    assert export.write_items(recs, tmp_path)[0].keywords == ()
    assert export.write_items(recs, tmp_path, keywords=True)[0].keywords == ("beach", "dog")  # sentences are not tags
