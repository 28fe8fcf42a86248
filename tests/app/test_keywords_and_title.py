"""Keywords and titles for photographers, in the window (issue 24): a Title field in the side
panel, kept through edits, runs, undo and the store, written with the caption; and Edit > Add
Keywords and Titles from Photos, which turns the keywords Lightroom and darktable left into tags."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import tests.hostile_files as H
from core.metadata.photo_metadata import read_fields
from tests.app.fakes import FakeCaptioner
from tests.app.window_steps import focused, run_captions
from visioncap_desktop.records import CaptionState
from visioncap_desktop.store import CaptionStore


def by_name(window):
    return {r.name: r for r in window.gallery_model.records()}


def fake_window(make_window):
    return make_window(model="fake", captioner_factory=lambda bundle, device: FakeCaptioner())


def open_and_read(qtbot, window, folder) -> None:
    with qtbot.waitSignal(window.folder_controller.reading_ended, timeout=20000):
        assert window.open_folder(folder)


def show(qtbot, window, name: str):
    window.show_image(by_name(window)[name].path)
    qtbot.waitUntil(lambda: window.side_panel.record is not None and window.side_panel.record.name == name)
    return window.side_panel


def type_title(qtbot, window, panel, text: str, key=Qt.Key.Key_Return) -> None:
    edit = focused(qtbot, window, panel.title_edit)
    edit.selectAll()
    QTest.keyClicks(edit, text)
    QTest.keyClick(edit, key)


def photo_folder(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "lr.jpg").write_bytes(H.jpeg([H.app0_jfif(), H.app1_exif(H.camera_exif()),
                                            H.app1_xmp(H.xmp_packet(keywords=("harbour", "boats")))], seed=1))
    (folder / "plain.jpg").write_bytes(H.jpeg(seed=2))
    (folder / "dt.jpg").write_bytes(H.jpeg(seed=3))
    (folder / "dt.jpg.xmp").write_bytes(H.xmp_sidecar("darktable", caption="A street at night"))
    return folder


def test_title_typed_enter_commits_esc_drops_undo_restores_and_the_store_keeps_it(qtbot, make_window, tmp_path):
    folder = photo_folder(tmp_path)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    panel = show(qtbot, window, "plain.jpg")
    assert panel.title_edit.text() == "" and panel.title_edit.isEnabled()
    type_title(qtbot, window, panel, "Harbour, evening")
    record = by_name(window)["plain.jpg"]
    assert record.title == "Harbour, evening" and record.state is CaptionState.PENDING
    assert window.undo_stack.undoText() == "Edit title of plain.jpg"
    type_title(qtbot, window, panel, "half typed", key=Qt.Key.Key_Escape)
    assert panel.title_edit.text() == "Harbour, evening" and record.title == "Harbour, evening"
    window.edit_controller.undo()
    assert record.title == "" and panel.title_edit.text() == ""
    window.edit_controller.redo()
    assert record.title == "Harbour, evening" and panel.title_edit.text() == "Harbour, evening"
    window.folder_controller.save_now()
    entry = CaptionStore(folder).load().entries["plain.jpg"]
    assert entry.title == "Harbour, evening" and entry.state is CaptionState.PENDING  # kept without a caption
    open_and_read(qtbot, window, folder)  # opened again: the title comes back from the store
    assert by_name(window)["plain.jpg"].title == "Harbour, evening"


def test_a_run_and_a_caption_edit_keep_the_title_and_embedding_writes_it(qtbot, make_window, tmp_path):
    folder = photo_folder(tmp_path)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    panel = show(qtbot, window, "plain.jpg")
    type_title(qtbot, window, panel, "Quay")
    run_captions(qtbot, window)
    record = by_name(window)["plain.jpg"]
    assert record.state is CaptionState.CAPTIONED and record.caption and record.title == "Quay"
    assert window.gallery_model.setData(window.gallery_model.index_for_path(record.path), "boats, quay")
    assert record.title == "Quay" and record.caption == "boats, quay"
    with qtbot.waitSignal(window.export_controller.files_written, timeout=20000):
        assert window.export_controller.write_files("embed", [record], folder) is not None
    written = read_fields(folder / "plain.jpg")
    assert written is not None and written.title == "Quay" and written.xmp == "boats, quay"


def test_keywords_and_titles_from_the_photos_become_tags_and_titles_in_one_undo_step(qtbot, make_window, tmp_path):
    folder = photo_folder(tmp_path)
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    records = by_name(window)
    lr, dt, plain = records["lr.jpg"], records["dt.jpg"], records["plain.jpg"]
    assert lr.caption == H.CAPTION and dt.caption == "A street at night"  # read from the photo and the sidecar
    panel = show(qtbot, window, "lr.jpg")
    type_title(qtbot, window, panel, "My own title")  # a title the user typed stays
    photo_bytes = {p.name: p.read_bytes() for p in folder.iterdir()}
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished, timeout=20000) as done:
        window.action_controller.details_action.trigger()
    assert done.args == [2]
    assert lr.caption == f"{H.CAPTION}, harbour, boats" and lr.title == "My own title"
    assert dt.caption == "A street at night, Café, Straße" and dt.title == ""
    assert plain.caption == "" and plain.title == ""
    assert lr.state is CaptionState.EDITED
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == photo_bytes  # no photo changed
    window.edit_controller.undo()
    qtbot.waitUntil(lambda: lr.caption == H.CAPTION and dt.caption == "A street at night")
    assert lr.title == "My own title"


def test_an_unreadable_photo_is_a_problem_and_the_others_are_read(qtbot, make_window, tmp_path):
    folder = photo_folder(tmp_path)
    (folder / "dt.jpg.xmp").write_bytes(b"<x:xmpmeta><!DOCTYPE x [<!ENTITY a 'b'>]>")
    window = fake_window(make_window)
    open_and_read(qtbot, window, folder)
    window.problems.clear()
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished, timeout=20000):
        window.action_controller.details_action.trigger()
    assert by_name(window)["lr.jpg"].caption.endswith("harbour, boats")
    rows = window.problems.model.problems()
    assert [(p.name, p.file.endswith("dt.jpg.xmp")) for p in rows] == [("dt.jpg", True)]
