import csv
import errno
import os

import pytest

from core.csvio import (
    CsvRowWriter,
    escape_text,
    neutralise_formula,
    read_csv_rows,
    unescape_text,
    write_csv_atomic,
)
from core.errors import FileError

TRICKY = [
    {"path": "a,b.jpg", "caption": 'she said "hi", then left', "edited": True},
    {"path": "línea\nnueva.png", "caption": "两只猫 sur le canapé", "edited": False},
    {"path": "f.jpg", "caption": "=HYPERLINK(\"http://x\")", "edited": False},
    {"path": "g.jpg", "caption": "+1 -2 @me", "edited": False},
    {"path": "h.jpg", "caption": None, "edited": False},
]


def test_round_trip_with_commas_quotes_newlines_and_unicode(tmp_path):
    out = tmp_path / "c.csv"
    write_csv_atomic(out, ["path", "caption", "edited"], TRICKY, bom=True, guard_formulas=False)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw  # RFC 4180 line ends
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == [r["path"] for r in TRICKY]
    assert rows[0]["caption"] == 'she said "hi", then left'
    assert rows[1]["caption"] == "两只猫 sur le canapé"
    assert rows[0]["edited"] == "true" and rows[1]["edited"] == "false"
    assert rows[4]["caption"] == ""


def test_formula_guard(tmp_path):
    out = tmp_path / "c.csv"
    write_csv_atomic(out, ["path", "caption"], TRICKY, guard_formulas=True)
    _, rows = read_csv_rows(out)
    assert rows[2]["caption"] == "'=HYPERLINK(\"http://x\")"
    assert rows[3]["caption"] == "'+1 -2 @me"
    assert rows[0]["caption"] == 'she said "hi", then left'
    assert neutralise_formula("-5") == "'-5" and neutralise_formula("@x") == "'@x"
    assert neutralise_formula("a=b") == "a=b"


def test_failed_write_leaves_the_earlier_file_intact(tmp_path, monkeypatch):
    out = tmp_path / "c.csv"
    out.write_text("precious", encoding="utf-8")

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_csv_atomic(out, ["path"], [{"path": "x"}])
    assert out.read_text(encoding="utf-8") == "precious"
    assert list(tmp_path.iterdir()) == [out], "the temporary file is removed"


def test_unwritable_destination_raises(tmp_path):
    with pytest.raises(OSError):
        write_csv_atomic(tmp_path / "missing-folder" / "c.csv", ["path"], [{"path": "x"}])


def test_streamed_rows_and_a_line_cut_by_a_crash(tmp_path):
    out = tmp_path / "s.csv"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = CsvRowWriter(f, ["path", "caption", "error"])
        writer.write_header()
        writer.write_rows([{"path": "a.jpg", "caption": "one"}, {"path": "b.jpg", "caption": "two\nlines"}])
    with open(out, "a", encoding="utf-8", newline="") as f:
        f.write('c.jpg,"half a capt')  # the process died here
    columns, rows = read_csv_rows(out)
    assert columns == ["path", "caption", "error"]
    assert [r["path"] for r in rows] == ["a.jpg", "b.jpg"]
    assert rows[1]["caption"] == "two\nlines"


@pytest.mark.parametrize("text", [
    "caf\udce9.png",  # a Latin-1 byte in a Linux file name, as Python holds it
    "\udcff\udcfe",
    "x\ud800y",  # a lone surrogate, possible in Windows names
    "C:\\Photos\\xab.jpg",  # a literal backslash-x-hex stays itself
    "\\x5c\\u00e9\\ud800",
    "plain \\ back\\slash \\x4",
])
def test_escaping_round_trips_and_writes_valid_utf8(tmp_path, text):
    out = tmp_path / "c.csv"
    write_csv_atomic(out, ["path", "caption"], [{"path": text, "caption": "ok"}], bom=False, guard_formulas=False)
    out.read_bytes().decode("utf-8")
    _, rows = read_csv_rows(out)
    assert rows[0]["path"] == text
    assert escape_text(text).encode("utf-8") and unescape_text(escape_text(text)) == text


def test_escaping_leaves_ordinary_text_alone():
    for text in ("two cats on a sofa", "C:\\Photos\\2024\\IMG_1.jpg", "两只猫", "a\r\nb"):
        assert escape_text(text) == text


def test_carriage_returns_in_cells_are_read_back_exactly(tmp_path):
    out = tmp_path / "c.csv"
    rows = [{"path": "a\rb.png"}, {"path": "c\r\nd.png"}, {"path": "e\nf.png"}]
    write_csv_atomic(out, ["path"], rows, bom=False, guard_formulas=False)
    assert read_csv_rows(out)[1] == rows


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    out = tmp_path / "c.csv"
    out.write_bytes(b"path\r\ncaf\xe9\r\n")
    with pytest.raises(FileError, match=r"c\.csv: not UTF-8 text \(byte 0xe9"):
        read_csv_rows(out)
