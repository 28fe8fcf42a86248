"""The controllers' Qt-free decisions, on plain records."""

from __future__ import annotations

import pytest

from visioncap_desktop.controllers.decisions import (
    chosen_bundle,
    counts_text,
    entries_to_save,
    folder_of_drop,
    records_to_caption,
    run_summary,
)
from visioncap_desktop.records import CaptionSnapshot, CaptionState, ImageRecord


def record(name, state=CaptionState.PENDING, caption=""):
    return ImageRecord(f"/photos/{name}", name, caption, state)


RECORDS = [
    record("new.jpg"),
    record("done.jpg", CaptionState.CAPTIONED, "a dog"),
    record("mine.jpg", CaptionState.EDITED, "my dog"),
    record("broken.jpg", CaptionState.ERROR),
]


def names(records):
    return [r.name for r in records]


def test_scopes_leave_edited_captions_alone_unless_asked():
    assert names(records_to_caption("all", RECORDS, [], False)) == ["new.jpg", "done.jpg", "broken.jpg"]
    assert names(records_to_caption("all", RECORDS, [], True)) == names(RECORDS)
    assert names(records_to_caption("uncaptioned", RECORDS, [], True)) == ["new.jpg", "broken.jpg"]
    selected = [RECORDS[2], RECORDS[1]]
    assert names(records_to_caption("selected", RECORDS, selected, False)) == ["done.jpg"]
    assert names(records_to_caption("selected", RECORDS, selected, True)) == ["mine.jpg", "done.jpg"]
    assert records_to_caption("selected", RECORDS, [], True) == []
    with pytest.raises(ValueError, match="scope must be one of"):
        records_to_caption("everything", RECORDS, [], False)


def test_chosen_bundle(tmp_path):
    demo, downloaded = tmp_path / "demo", tmp_path / "vit-gpt2-coco"
    assert chosen_bundle(None, "", "", demo, downloaded) is None  # first run: nothing chosen
    assert chosen_bundle(None, "demo", "", demo, None) == str(demo)
    assert chosen_bundle(None, "demo", "", None, None) is None  # a build without the demo
    assert chosen_bundle(None, "folder", "/my/bundle", demo, None) == "/my/bundle"
    assert chosen_bundle(None, "folder", "", demo, None) is None
    assert chosen_bundle(None, "download", "", demo, downloaded) == str(downloaded)
    assert chosen_bundle(None, "download", "", demo, None) is None  # not downloaded (completely) yet
    # --model wins over the saved choice
    assert chosen_bundle("/other", "demo", "", demo, None) == "/other"
    assert chosen_bundle("demo", "folder", "/my/bundle", demo, None) == str(demo)
    assert chosen_bundle("demo", "folder", "/my/bundle", None, None) is None


def test_folder_of_drop(tmp_path):
    photo = tmp_path / "a" / "photo.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"x")
    assert folder_of_drop([photo]) == photo.parent
    assert folder_of_drop([tmp_path / "missing", tmp_path]) == tmp_path
    assert folder_of_drop([tmp_path / "missing"]) is None
    assert folder_of_drop([]) is None


def test_a_save_keeps_captions_of_files_not_listed_now():
    stored = {
        "sub/hidden.jpg": CaptionSnapshot("kept while subfolders are off", CaptionState.EDITED),
        "done.jpg": CaptionSnapshot("an old caption", CaptionState.CAPTIONED),
    }
    entries = entries_to_save(stored, RECORDS)
    assert entries["sub/hidden.jpg"].caption == "kept while subfolders are off"
    assert entries["done.jpg"] == CaptionSnapshot("a dog", CaptionState.CAPTIONED)  # listed: its current state
    assert "new.jpg" not in entries  # nothing to keep
    assert set(entries) == {"sub/hidden.jpg", "done.jpg", "mine.jpg", "broken.jpg"}


def test_status_texts():
    assert run_summary("completed", 3, 3, "0:04") == "Captioned 3 images in 0:04."
    assert run_summary("completed", 1, 1, "0:01") == "Captioned 1 image in 0:01."
    assert run_summary("completed", 3, 3, "0:04", failed=1) == "Captioned 2 images in 0:04; 1 failed (see Problems)."
    assert "Cancelled after 1,200 of 5,000 images" in run_summary("cancelled", 1200, 5000, "1:00")
    assert run_summary("failed", 0, 8, "0:01") == "Captioning stopped after 0 of 8 images."
    counts = {CaptionState.CAPTIONED: 1, CaptionState.EDITED: 1, CaptionState.ERROR: 1, CaptionState.PENDING: 1}
    assert counts_text(4, 4, counts).startswith("4 images  |  1 captioned, 1 edited, 1 error, 1 pending")
    assert counts_text(1, 1, counts).startswith("1 image  |")
    assert counts_text(4, 1, counts).startswith("Showing 1 of 4 images")
