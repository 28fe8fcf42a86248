"""Off the GUI thread and watched (issue 24): an imported table is read in the reader's thread
with progress; a caption file changed outside the app is read again without F5, under the same
conflict rule, after the changes settle (debounced)."""

from __future__ import annotations

import json
import os

from PySide6.QtCore import QCoreApplication

from tests.app.gui_ticks import GuiTicks
from tests.core.photos import make_photo
from visioncap_desktop.folder_watch import FolderWatch
from visioncap_desktop.watching import FolderPhotos, caption_listing, changed_files
from visioncap_desktop.workers import caption_reader


def by_name(window):
    return {r.name: r for r in window.gallery_model.records()}


def read_folder(qtbot, window, folder) -> None:
    with qtbot.waitSignal(window.folder_controller.reading_ended):
        assert window.open_folder(folder)


def test_which_photos_a_caption_file_belongs_to(tmp_path):
    photos = FolderPhotos([(str(tmp_path / n), n) for n in ("a.jpg", "a.png", "b.jpg", "c.d.jpg")])
    names = lambda file: [name for _, name in photos.owners(file)]  # noqa: E731
    assert names("a.txt") == ["a.jpg", "a.png"] and names("a.caption") == ["a.jpg", "a.png"]
    assert names("b.jpg.xmp") == ["b.jpg"] and names("b.xmp") == ["b.jpg"]
    assert names("b.jpg.supplemental-metadata.json") == ["b.jpg"] and names("b.jpg.suppl.json") == ["b.jpg"]
    assert names("c.d.txt") == ["c.d.jpg"] and names("zzz.txt") == []
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    (tmp_path / "a.jpg").write_bytes(b"")
    before = caption_listing(str(tmp_path))
    assert list(before) == ["a.txt"]  # photos are not listed: no stat per photo
    (tmp_path / "a.txt").write_text("longer", encoding="utf-8")
    (tmp_path / "b.xmp").write_text("<x/>", encoding="utf-8")
    assert changed_files(before, caption_listing(str(tmp_path))) == ["a.txt", "b.xmp"]


def test_changes_are_reported_once_they_settle(qtbot, tmp_path):
    watch = FolderWatch()
    watch.watch(tmp_path)
    reported = []
    watch.folders_changed.connect(reported.append)
    for _ in range(50):  # a program writing fifty files at once...
        watch._changed(str(tmp_path))
        watch._changed(str(tmp_path / "sub"))
    assert reported == [] and watch.pending
    qtbot.waitUntil(lambda: bool(reported))  # ...is one report, after the quiet time
    QCoreApplication.processEvents()
    assert reported == [[str(tmp_path), str(tmp_path / "sub")]] and not watch.pending
    watch.stop()


def test_a_txt_edited_outside_the_app_is_read_again_without_f5(qtbot, make_window, tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    make_photo(folder / "b.jpg", 2)
    (folder / "a.txt").write_text("first version", encoding="utf-8")
    window = make_window()
    read_folder(qtbot, window, folder)
    record = by_name(window)["a.jpg"]
    assert record.caption == "first version"
    depth = window.undo_stack.count()
    txt = folder / "a.txt"
    with open(txt, "w", encoding="utf-8") as file:  # in place, as `echo > a.txt` does
        file.write("edited in another program")
    qtbot.waitUntil(lambda: record.caption == "edited in another program")
    assert window.undo_stack.count() == depth + 1  # one undo step, as any caption read from files
    (folder / "b.tmp").write_text("new caption for b", encoding="utf-8")
    os.replace(folder / "b.tmp", folder / "b.txt")  # an editor that saves by renaming
    qtbot.waitUntil(lambda: by_name(window)["b.jpg"].caption == "new caption for b")
    assert by_name(window)["b.jpg"].source == "txt"

    # VisionCap's own edit, newer than a change that arrives with an old date: kept, and said once
    window.edit_controller.commit_caption(record.path, "mine")
    txt.write_text("an old caption restored from a backup", encoding="utf-8")
    os.utime(txt, ns=(10**18, 10**18))
    qtbot.waitUntil(lambda: any(p.kind == "conflict" and p.name == "a.jpg" and "kept VisionCap's" in p.reason
                                for p in window.problems.model.problems()))
    assert record.caption == "mine"


def test_an_import_is_read_off_the_gui_thread_with_progress(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        make_photo(folder / f"p{i}.jpg", i)
    table = tmp_path / "metadata.jsonl"
    table.write_text("".join(json.dumps({"file_name": f"p{i}.jpg", "text": f"row {i}"}) + "\n" for i in range(3)),
                     encoding="utf-8")
    window = make_window()
    read_folder(qtbot, window, folder)
    ticks = GuiTicks()
    load_table = caption_reader.load_table

    def slow_load(path, where):  # a table of a million rows: the GUI thread must tick meanwhile
        ticks.wait_in_worker(ticks=3)
        return load_table(path, where)

    monkeypatch.setattr(caption_reader, "load_table", slow_load)
    monkeypatch.setattr(caption_reader, "BATCH_SECONDS", 0.0)  # a progress line for every photo
    said = []
    window.folder_controller.status.connect(lambda text, ms: said.append(text))
    ticks.start()
    with qtbot.waitSignal(window.folder_controller.reading_ended):
        assert window.folder_controller.import_table(table)
    ticks.stop()
    assert ticks.waits == [(True, True)]  # off the GUI thread, which kept handling events
    assert said[0] == "Importing captions from metadata.jsonl..."
    assert "Importing captions from metadata.jsonl: 3 of 3 images..." in said
    assert said[-1] == "Read 3 captions from metadata.jsonl"
    assert [r.caption for r in window.gallery_model.records()] == ["row 0", "row 1", "row 2"]
