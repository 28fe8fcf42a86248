"""The caption store on its own: plain Python, temporary files."""

from __future__ import annotations

import json

import pytest

from visioncap_desktop.records import CaptionSnapshot, CaptionState
from visioncap_desktop.store import STORE_FORMAT, STORE_VERSION, CaptionStore, store_path

CAPTIONED = CaptionSnapshot('a dog, a "cat"\nand = signs, café 写真', CaptionState.CAPTIONED, "", "tiny")
EDITED = CaptionSnapshot("=HYPERLINK(x)", CaptionState.EDITED, "", "tiny")
FAILED = CaptionSnapshot("", CaptionState.ERROR, "truncated image", "")


def test_round_trip_keeps_captions_edits_and_errors(tmp_path):
    folder = tmp_path / "Fotos del viaje"
    folder.mkdir()
    store = CaptionStore(folder, root=tmp_path / "stores")
    entries = {"a.jpg": CAPTIONED, "sub/b.png": EDITED, "c.gif": FAILED, "d.jpg": CaptionSnapshot()}
    store.save(entries)

    loaded = CaptionStore(folder, root=tmp_path / "stores").load()
    assert loaded.problem is None
    assert loaded.entries == {k: v for k, v in entries.items() if k != "d.jpg"}  # pending is not stored
    data = json.loads(store.path.read_text(encoding="utf-8"))
    assert data["format"] == STORE_FORMAT and data["version"] == STORE_VERSION
    assert data["folder"] == str(folder.resolve())


def test_missing_store_is_empty(tmp_path):
    result = CaptionStore(tmp_path, root=tmp_path / "stores").load()
    assert result.entries == {} and result.problem is None


def test_store_file_is_keyed_by_the_resolved_folder(tmp_path):
    (tmp_path / "one" / "photos").mkdir(parents=True)
    (tmp_path / "two" / "photos").mkdir(parents=True)
    first = store_path(tmp_path / "one" / "photos", tmp_path)
    assert first != store_path(tmp_path / "two" / "photos", tmp_path)  # same name, other folder
    assert first == store_path(tmp_path / "one" / "x" / ".." / "photos", tmp_path)
    assert first.name.startswith("photos-") and first.suffix == ".json"


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "Expecting property name"),
        (json.dumps({"format": STORE_FORMAT, "version": STORE_VERSION + 1, "images": {}}), "newer VisionCap"),
        (json.dumps({"format": "something else", "version": 1, "images": {}}), "not a VisionCap caption store"),
        (json.dumps({"format": STORE_FORMAT, "version": 1, "images": {"a.jpg": {"caption": 3}}}), "malformed entry"),
        (json.dumps({"format": STORE_FORMAT, "version": 1, "images": {"a.jpg": {"state": "odd"}}}), "unknown state"),
    ],
)
def test_unreadable_store_is_kept_aside_never_overwritten(tmp_path, content, reason):
    store = CaptionStore(tmp_path, root=tmp_path / "stores")
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content, encoding="utf-8")

    result = store.load()
    assert result.entries == {}
    assert reason in result.problem and str(result.kept_aside) in result.problem
    assert result.kept_aside.read_text(encoding="utf-8") == content
    assert ".corrupt-" in result.kept_aside.name and result.kept_aside.suffix == ".json"
    assert not store.path.exists()

    store.save({"a.jpg": CAPTIONED})  # a fresh store; the kept-aside file stays as it was
    assert result.kept_aside.read_text(encoding="utf-8") == content
    assert CaptionStore(tmp_path, root=tmp_path / "stores").load().entries == {"a.jpg": CAPTIONED}


def test_two_corrupt_stores_in_the_same_second_both_survive(tmp_path):
    store = CaptionStore(tmp_path, root=tmp_path / "stores")
    store.path.parent.mkdir(parents=True)
    kept = []
    for text in ("{bad one", "{bad two"):
        store.path.write_text(text, encoding="utf-8")
        kept.append(store.load().kept_aside)
    assert kept[0] != kept[1]
    assert {p.read_text(encoding="utf-8") for p in kept} == {"{bad one", "{bad two"}


def test_save_failure_raises_and_keeps_the_old_store(tmp_path, monkeypatch):
    store = CaptionStore(tmp_path, root=tmp_path / "stores")
    store.save({"a.jpg": CAPTIONED})
    before = store.path.read_bytes()

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.atomic.os.replace", full_disk)
    with pytest.raises(OSError):
        store.save({"a.jpg": EDITED})
    assert store.path.read_bytes() == before
    assert [p.name for p in store.path.parent.iterdir()] == [store.path.name]  # no temporary left


def test_store_that_cannot_be_moved_aside_is_not_written(tmp_path, monkeypatch):
    store = CaptionStore(tmp_path, root=tmp_path / "stores")
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{corrupt", encoding="utf-8")
    monkeypatch.setattr("visioncap_desktop.store.os.replace", lambda *a: (_ for _ in ()).throw(PermissionError(13, "denied")))
    result = store.load()
    assert "will not be saved" in result.problem
    with pytest.raises(OSError):
        store.save({"a.jpg": CAPTIONED})
    assert store.path.read_text(encoding="utf-8") == "{corrupt"
