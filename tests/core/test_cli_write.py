import csv
import json
import os
from pathlib import Path

import pytest

from core.cli.main import build_parser, main
from core.metadata.photo_metadata import read_embedded
from core.metadata.sidecars import read_sidecar
from tests.core.photos import make_photo


def rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return {Path(r["path"]).name: r for r in csv.DictReader(f)}


def test_headless_run_writes_captions_every_way(tmp_path, tiny_bundle):
    folder = tmp_path / "photos"
    folder.mkdir()
    jpg = make_photo(folder / "a.jpg")
    png = make_photo(folder / "b.png", seed=1)
    make_photo(folder / "c.gif", seed=2)  # exiv2 cannot write GIF: it gets a sidecar
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    os.utime(jpg, ns=(1_500_000_000_000_000_000,) * 2)
    out = tmp_path / "out.csv"
    code = main(["caption", str(folder), "--model", str(tiny_bundle), "--out", str(out), "--max-tokens", "5",
                 "--write", "xmp", "--write", "embed", "--write", "txt", "--write", "jsonl", "--keep-mtime"])
    assert code == 1  # broken.jpg failed; everything else was written
    captions = {name: row["caption"] for name, row in rows(out).items() if not row["error"]}
    assert set(captions) == {"a.jpg", "b.png", "c.gif"} and all(c.strip() for c in captions.values())
    for name, caption in captions.items():
        assert read_sidecar(folder / f"{name}.xmp").text == caption
        assert (folder / name).with_suffix(".txt").read_text(encoding="utf-8") == caption
    assert read_embedded(jpg).text == captions["a.jpg"] and read_embedded(png).text == captions["b.png"]
    assert jpg.stat().st_mtime_ns == 1_500_000_000_000_000_000
    lines = (folder / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["file_name"] for line in lines} == set(captions)
    assert not (folder / "broken.txt").exists() and not (folder / "broken.jpg.xmp").exists()


def test_sidecar_naming_option_and_resumed_rows_are_written_too(tmp_path, tiny_bundle):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "a.jpg")
    make_photo(folder / "b.jpg", seed=1)
    out = tmp_path / "out.csv"
    kept = folder / "a.jpg"
    out.write_text(f"path,caption,error,absolute_path\r\n{kept},kept from before,,{os.path.abspath(kept)}\r\n",
                   encoding="utf-8")
    assert main(["caption", str(folder), "--model", str(tiny_bundle), "--out", str(out), "--resume",
                 "--max-tokens", "4", "--write", "xmp", "--sidecar-name", "photo.xmp"]) == 0
    assert read_sidecar(folder / "a.xmp").text == "kept from before"
    assert (folder / "b.xmp").exists() and not (folder / "a.jpg.xmp").exists()


def test_write_choices_are_checked():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["caption", "x", "--model", "demo", "--write", "exif"])
    args = build_parser().parse_args(["caption", "x", "--model", "demo"])
    assert args.write == [] and args.sidecar_name == "photo.jpg.xmp" and not args.keep_mtime


def test_a_photo_that_cannot_be_written_makes_the_run_exit_1_and_is_named(tmp_path, tiny_bundle, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    locked = make_photo(folder / "locked.jpg")
    original = locked.read_bytes()
    locked.chmod(0o444)
    try:
        code = main(["caption", str(folder), "--model", str(tiny_bundle), "--out", str(tmp_path / "o.csv"),
                     "--max-tokens", "4", "--write", "embed"])
    finally:
        locked.chmod(0o644)
    assert code == 1
    assert f"not written: {locked}: the photo is read-only" in capsys.readouterr().err
    assert locked.read_bytes() == original
