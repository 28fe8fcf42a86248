"""Captions that live with the photos, in the window (issue 9): read from .txt files, sidecars
and the photos' metadata with their source, kept through renames and moved folders, written
from the Export menu; the conflict rule and its undo; nothing in a store ever lost."""

from __future__ import annotations

import json
import os
import shutil

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from core.metadata.photo_metadata import embed_description, read_embedded
from core.metadata.sidecars import read_sidecar
from tests.app.fakes import FakeCaptioner
from tests.app.window_steps import open_folder, run_captions
from tests.core.photos import make_photo, metadata, pixels
from visioncap_desktop.records import CaptionState
from visioncap_desktop.store import CaptionStore


def by_name(window):
    return {r.name: r for r in window.gallery_model.records()}


def open_and_read(qtbot, window, folder) -> list[str]:
    """Open `folder`, wait until its captions have been read; returns the status lines said."""
    said: list[str] = []
    window.folder_controller.status.connect(lambda text, ms: said.append(text))
    with qtbot.waitSignal(window.folder_controller.reading_ended, timeout=20000):
        assert window.open_folder(folder)
    return said


def stored(folder) -> dict:
    return json.loads(CaptionStore(folder).path.read_text(encoding="utf-8"))["images"]


def edit(window, name: str, caption: str) -> None:
    index = window.gallery_model.index_for_path(by_name(window)[name].path)
    assert window.gallery_model.setData(index, caption)


def fake_window(make_window):
    return make_window(model="fake", captioner_factory=lambda bundle, device: FakeCaptioner())


def test_existing_captions_show_with_their_source_and_are_kept_from_runs(qtbot, make_window, tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    (folder / "a.txt").write_text("a caption from TagGUI, \"quoted\"\nsecond line", encoding="utf-8")
    make_photo(folder / "b.jpg", 2, xmp_description={"x-default": "Described in Lightroom ü"})
    make_photo(folder / "c.jpg", 3)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    records = by_name(window)
    assert records["a.jpg"].caption == "a caption from TagGUI, \"quoted\"\nsecond line"
    assert (records["a.jpg"].source, records["a.jpg"].state) == ("txt", CaptionState.EDITED)
    assert (records["b.jpg"].caption, records["b.jpg"].source) == ("Described in Lightroom ü", "embedded")
    assert records["c.jpg"].state is CaptionState.PENDING
    window.gallery_view.setCurrentIndex(window.proxy_model.mapFromSource(
        window.gallery_model.index_for_path(records["a.jpg"].path)))
    assert window.side_panel.details["state"].text() == "edited (from .txt file)"
    tooltip = window.gallery_model.index_for_path(records["b.jpg"].path).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.endswith("(from photo metadata)")

    assert run_captions(qtbot, window, "all") == (1, 1, "completed")  # only c: the others are protected
    assert records["a.jpg"].source == "txt" and records["b.jpg"].caption == "Described in Lightroom ü"
    assert records["c.jpg"].caption == "fake caption of c.jpg" and records["c.jpg"].source == ""
    assert window.undo_stack.command(0).text() == "Read 2 captions from files"
    window.undo_stack.undo()  # the run
    window.undo_stack.undo()  # reading the captions
    assert records["a.jpg"].state is CaptionState.PENDING and records["b.jpg"].caption == ""
    window.undo_stack.redo()
    assert window.folder_controller.save_now()
    entry = stored(folder)["a.jpg"]
    assert entry["source"] == "txt" and entry["seen"]["a.txt"]["size"] == (folder / "a.txt").stat().st_size
    assert entry["fingerprint"].startswith("v1:")

    open_and_read(qtbot, window, folder)  # reopening: the same files are in sync, nothing taken again
    assert window.undo_stack.count() == 0
    assert by_name(window)["a.jpg"].source == "txt"


def test_a_renamed_photo_keeps_its_caption(qtbot, make_window, tmp_path):
    folder = tmp_path / "trip"
    folder.mkdir()
    for i in range(3):
        make_photo(folder / f"img{i}.jpg", i)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    edit(window, "img1.jpg", "the harbour at dawn")
    assert window.folder_controller.save_now()
    (folder / "img1.jpg").rename(folder / "harbour.jpg")
    said = open_and_read(qtbot, window, folder)
    records = by_name(window)
    assert records["harbour.jpg"].caption == "the harbour at dawn" and records["harbour.jpg"].edited
    assert "kept the captions of 1 renamed image" in said
    assert set(stored(folder)) == {"harbour.jpg"}  # saved at once, under the new name


def test_a_moved_folder_reattaches_its_captions(qtbot, make_window, tmp_path):
    old = tmp_path / "Pictures" / "trip"
    old.mkdir(parents=True)
    for i in range(4):
        make_photo(old / f"img{i}.jpg", i)
    window = fake_window(make_window)
    open_and_read(qtbot, window, old)
    for i in range(3):
        edit(window, f"img{i}.jpg", f"caption {i}")
    assert window.folder_controller.save_now()
    old_store = CaptionStore(old).path.read_bytes()

    new = tmp_path / "Archive" / "2024 trip"
    new.parent.mkdir()
    shutil.move(old, new)
    said = open_and_read(qtbot, window, new)
    assert f"re-attached 3 captions from {old}" in said
    assert window.statusBar().currentMessage() == f"re-attached 3 captions from {old}"
    assert {n: r.caption for n, r in by_name(window).items() if r.caption} == {
        f"img{i}.jpg": f"caption {i}" for i in range(3)}
    assert {n: e["caption"] for n, e in stored(new).items()} == {f"img{i}.jpg": f"caption {i}" for i in range(3)}
    assert CaptionStore(old).path.read_bytes() == old_store  # the other store is never changed


def test_write_sidecars_from_the_export_menu(qtbot, make_window, tmp_path, settings):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        make_photo(folder / f"p{i}.jpg", i)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    edit(window, "p0.jpg", "line one\nline \"two\" ü")
    edit(window, "p1.jpg", "second")
    export_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "E&xport")
    actions = {a.text(): a for a in export_menu.actions()}
    actions["Sidecar Names: photo.xmp"].trigger()
    assert settings.get("sidecar_naming") == "photo.xmp"
    before = (folder / "p0.jpg").read_bytes()
    actions["Write &XMP Sidecars..."].trigger()
    with qtbot.waitSignal(window.export_controller.files_written, timeout=20000) as blocker:
        window.export_controller.write_dialog.write_button.click()
    report = blocker.args[0]
    assert report.ok and len(report.where("written", "xmp")) == 2
    assert read_sidecar(folder / "p0.xmp").text == "line one\nline \"two\" ü"
    assert not (folder / "p2.xmp").exists() and (folder / "p0.jpg").read_bytes() == before
    assert "p0.xmp" in by_name(window)["p0.jpg"].seen
    assert window.statusBar().currentMessage() == "Wrote 2 XMP sidecars."
    open_and_read(qtbot, window, folder)  # the sidecars just written are not news
    assert window.undo_stack.count() == 0 and by_name(window)["p0.jpg"].source == ""


def test_writing_out_can_be_cancelled_and_keeps_what_it_wrote(qtbot, make_window, tmp_path, monkeypatch):
    import threading

    import core.metadata.caption_writes

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        make_photo(folder / f"p{i}.jpg", i)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    for i in range(5):
        edit(window, f"p{i}.jpg", f"caption {i}")
    first_written, go_on = threading.Event(), threading.Event()
    write_sidecar = core.metadata.caption_writes.write_sidecar

    def slow_sidecar(*args, **kwargs):  # the first sidecar waits until the test has pressed Cancel
        written = write_sidecar(*args, **kwargs)
        first_written.set()
        assert go_on.wait(20)
        return written

    monkeypatch.setattr(core.metadata.caption_writes, "write_sidecar", slow_sidecar)
    actions = window.action_controller
    actions.xmp_action.trigger()
    with qtbot.waitSignal(window.export_controller.files_written, timeout=20000) as blocker:
        window.export_controller.write_dialog.write_button.click()
        assert first_written.wait(20)
        assert window.export_controller.progress_dialog.isVisible()
        assert actions.cancel_action.isEnabled() and not actions.xmp_action.isEnabled()
        QTest.keyClick(window, Qt.Key.Key_Escape)  # Esc, as a user would
        go_on.set()
    report = blocker.args[0]
    assert [o.target.name for o in report.where("written", "xmp")] == ["p0.jpg.xmp"]
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["p0.jpg.xmp"]
    assert read_sidecar(folder / "p0.jpg.xmp").text == "caption 0"
    assert window.statusBar().currentMessage() == "Stopped after 1 of 5 images; wrote 1 XMP sidecar."
    assert window.export_controller.progress_dialog is None
    assert not actions.cancel_action.isEnabled() and actions.xmp_action.isEnabled()


def test_embedding_asks_first_and_declined_writes_nothing(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = make_photo(folder / "p.jpg", 1)
    mtime = photo.stat().st_mtime_ns
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    edit(window, "p.jpg", "a red boat")
    before = photo.read_bytes()
    window.action_controller.embed_action.trigger()
    dialog = window.export_controller.write_dialog
    assert dialog.isVisible() and "modifies the photo files" in dialog.findChildren(QLabel)[0].text()
    assert dialog.write_button.text() == "Modify Photos" and not dialog.write_button.isDefault()
    dialog.reject()  # Close
    assert photo.read_bytes() == before and not window.export_controller.writing

    fields = metadata(photo)
    original_pixels = pixels(photo)
    window.action_controller.embed_action.trigger()
    dialog = window.export_controller.write_dialog
    dialog.keep_mtime_check.setChecked(True)
    with qtbot.waitSignal(window.export_controller.files_written, timeout=20000):
        dialog.write_button.click()
    assert read_embedded(photo).text == "a red boat"
    assert photo.stat().st_mtime_ns == mtime  # the option keeps the modification time
    assert pixels(photo) == original_pixels
    assert metadata(photo)["Exif.Image.Model"] == fields["Exif.Image.Model"]
    record = by_name(window)["p.jpg"]
    assert record.size == photo.stat().st_size and record.seen["p.jpg"].fingerprint == record.fingerprint
    said = open_and_read(qtbot, window, folder)  # the photo just written does not come back as changed
    assert window.undo_stack.count() == 0 and not any("p.jpg:" in line for line in said)


def test_an_existing_description_replaced_and_restored_by_undo(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = make_photo(folder / "p.jpg", 1, exif_description="old description")
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    assert by_name(window)["p.jpg"].caption == "old description"
    edit(window, "p.jpg", "my caption")
    assert window.folder_controller.save_now()
    embed_description(photo, "changed in another app later", own=False)  # newer than VisionCap's caption
    os.utime(photo, ns=(photo.stat().st_atime_ns, photo.stat().st_mtime_ns + 10**9))
    said = open_and_read(qtbot, window, folder)
    record = by_name(window)["p.jpg"]
    assert (record.caption, record.source) == ("changed in another app later", "embedded")
    assert "Read 1 caption from photo metadata; 1 file disagrees with VisionCap's caption (see Problems)" in said
    conflict = window.problems.model.problems()[0]  # the newest on top
    assert (conflict.stage, conflict.kind, conflict.name) == ("reading", "conflict", "p.jpg")
    assert conflict.reason == "took the caption from p.jpg, changed since VisionCap's (Undo restores VisionCap's)"
    window.edit_controller.undo()
    assert (record.caption, record.source) == ("my caption", "")


def test_a_store_entry_is_never_lost_when_its_file_vanishes(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a", "b"):
        make_photo(folder / f"{name}.jpg", ord(name))
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    edit(window, "a.jpg", "kept a")
    edit(window, "b.jpg", "kept b")
    assert window.folder_controller.save_now()
    (folder / "b.jpg").unlink()
    open_and_read(qtbot, window, folder)
    edit(window, "a.jpg", "changed a")
    assert window.folder_controller.save_now()
    assert {n: e["caption"] for n, e in stored(folder).items()} == {"a.jpg": "changed a", "b.jpg": "kept b"}


def test_import_captions_from_metadata_jsonl(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    make_photo(folder / "b.jpg", 2)
    table = tmp_path / "metadata.jsonl"
    table.write_text(json.dumps({"file_name": "a.jpg", "text": "from the dataset"}) + "\n", encoding="utf-8")
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    with qtbot.waitSignal(window.folder_controller.reading_ended, timeout=20000):
        assert window.folder_controller.import_table(table)
    records = by_name(window)
    assert (records["a.jpg"].caption, records["a.jpg"].source) == ("from the dataset", "jsonl")
    assert records["b.jpg"].state is CaptionState.PENDING
    (tmp_path / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    with qtbot.waitSignal(window.folder_controller.reading_ended, timeout=20000):
        assert window.folder_controller.import_table(tmp_path / "bad.jsonl")  # read in the reader's thread
    assert window.messages[-1][1] == "Cannot import captions" and "bad.jsonl" in window.messages[-1][2]


def test_scan_report_in_the_status_bar(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    (folder / "gone.jpg").symlink_to(folder / "nowhere.jpg")
    window = fake_window(make_window)
    with qtbot.waitSignal(window.folder_loaded, timeout=15000):
        window.open_folder(folder)
    status = window.statusBar()
    assert status.currentMessage() == f"1 image in {folder}; left out 1 file (see Problems)"
    assert "gone.jpg" in status.toolTip()
    [problem] = window.problems.model.problems()
    assert (problem.stage, problem.kind, problem.name, problem.path) == ("scanning", "skipped", "gone.jpg", "")
    assert window.problems_button.isVisibleTo(window) and window.problems_button.text().endswith("1 problem")


def test_store_keeps_sources_and_file_facts_and_reads_old_stores(tmp_path):
    from core.fingerprint import FileState
    from visioncap_desktop.records import CaptionSnapshot, FileFacts
    from visioncap_desktop.store import dump_store, parse_facts, parse_store

    entries = {"a.jpg": CaptionSnapshot("from a file", CaptionState.EDITED, source="txt"),
               "b.jpg": CaptionSnapshot("by the model", CaptionState.CAPTIONED, model="tiny")}
    facts = {"a.jpg": FileFacts("v1:ab", 10, 20, 30, {"a.txt": FileState(3, 4, "v1:cd")})}
    data = json.loads(dump_store(tmp_path, entries, facts))
    assert parse_store(data) == entries and parse_facts(data) == facts
    assert "fingerprint" not in data["images"]["b.jpg"] and "source" not in data["images"]["b.jpg"]
    old = {"format": "visioncap-captions", "version": 1, "images": {"a.jpg": {"caption": "c", "state": "edited"}}}
    assert parse_store(old)["a.jpg"].source == "" and parse_facts(old) == {}
    data["images"]["a.jpg"]["seen"] = {"a.txt": {"size": "big"}}  # a hand-edited value: unknown, not an error
    assert parse_facts(data)["a.jpg"].seen == {}


def test_a_run_asked_for_while_files_are_read_waits_for_them(qtbot, make_window, tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    (folder / "a.txt").write_text("the dataset's caption", encoding="utf-8")
    make_photo(folder / "b.jpg", 2)
    window = fake_window(make_window)
    open_folder(qtbot, window, folder)  # the scan is done, the files are not read yet
    assert window.folder_controller.reading
    assert run_captions(qtbot, window, "all") == (1, 1, "completed")
    records = by_name(window)
    assert (records["a.jpg"].caption, records["a.jpg"].source) == ("the dataset's caption", "txt")
    assert records["b.jpg"].caption == "fake caption of b.jpg"


def test_the_models_own_caption_read_back_is_the_models_and_a_persons_is_theirs(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    embed_description(make_photo(folder / "mine.jpg", 1), "written by the model earlier")
    embed_description(make_photo(folder / "theirs.jpg", 2), "typed by a person", own=False)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)  # a fresh store: only the files say whose caption it is
    records = by_name(window)
    assert (records["mine.jpg"].state, records["mine.jpg"].source) == (CaptionState.CAPTIONED, "")
    assert (records["theirs.jpg"].state, records["theirs.jpg"].source) == (CaptionState.EDITED, "embedded")
    assert run_captions(qtbot, window, "all") == (1, 1, "completed")  # the model's may be replaced
    assert records["mine.jpg"].caption == "fake caption of mine.jpg"
    assert records["theirs.jpg"].caption == "typed by a person"
