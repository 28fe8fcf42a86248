"""The CLI on a folder of every kind of photo: new formats captioned, the rest reported."""

import csv
from pathlib import Path

from PIL import Image

from core.cli.main import main
from tests.photo_files import save_avif, save_dng, save_heic


def test_heic_avif_raw_are_captioned_and_left_out_files_reported(tiny_bundle, tmp_path, capsys):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    Image.new("RGB", (40, 30), "green").save(photos / "a.jpg")
    save_heic(photos / "b.HEIC")
    save_avif(photos / "c.avif")
    save_dng(photos / "sub" / "d.dng", preview="jpeg")
    (photos / "design.psd").write_bytes(b"8BPS")
    (photos / "notes.txt").write_text("not a picture", encoding="utf-8")
    out = tmp_path / "out.csv"

    code = main(["caption", str(photos), "--recursive", "--model", str(tiny_bundle), "--out", str(out),
                 "--max-tokens", "3"])

    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["path"]).relative_to(photos).as_posix() for r in rows] == ["a.jpg", "b.HEIC", "c.avif", "sub/d.dng"]
    assert all(r["caption"] and not r["error"] for r in rows)
    err = capsys.readouterr().err
    assert "captioned 4 of 4 images" in err
    assert "left out 1 file:" in err and "design.psd: Photoshop document (.psd)" in err
    assert code == 1  # a left-out file is not a silent success
