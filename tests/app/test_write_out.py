"""Writing captions out with control (issue 24): the selection, the filter or all; a dry run
that lists every file and what writing would do (core's own where core has one); a progress
dialog with the count, the time left from an injected clock, and Cancel."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import core.metadata.caption_writes
from core.metadata.caption_writes import WRITTEN, WriteReport
from core.metadata.sidecars import read_sidecar
from tests.app.window_steps import open_folder
from tests.core.photos import make_photo
from visioncap_desktop import export
from visioncap_desktop.widgets.write_progress import WriteProgressDialog, time_left


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        make_photo(folder / f"p{i}.jpg", i)
    return folder


def captioned_window(qtbot, make_window, folder):
    window = make_window()
    open_folder(qtbot, window, folder)
    qtbot.waitUntil(lambda: not window.folder_controller.reading)
    for i, record in enumerate(window.gallery_model.records()):
        window.edit_controller.commit_caption(record.path, f"caption {i}")
    return window


def select_rows(window, rows) -> None:
    from PySide6.QtCore import QItemSelectionModel

    selection = window.gallery_view.selectionModel()
    selection.clear()
    for row in rows:
        selection.select(window.proxy_model.index(row, 0), QItemSelectionModel.SelectionFlag.Select)


def test_the_dialog_writes_the_selection_the_filter_or_all(qtbot, make_window, photos):
    window = captioned_window(qtbot, make_window, photos)
    select_rows(window, [1, 3])
    window.action_controller.xmp_action.trigger()
    dialog = window.export_controller.write_dialog
    assert dialog.scope() == "selected"  # several images selected: those, by default
    assert [r.text() for r in dialog.scope_radios.values()] == [
        "Selected images (2)", "Images shown by the filter (6)", "All images (6)"]
    with qtbot.waitSignal(window.export_controller.files_written) as written:
        dialog.write_button.click()
    assert sorted(o.target.name for o in written.args[0].where(WRITTEN)) == ["p1.jpg.xmp", "p3.jpg.xmp"]
    assert window.export_controller.write_dialog is None  # the dialog closed when the writing started

    window.proxy_model.set_search_text("p5")
    window.action_controller.txt_action.trigger()
    dialog = window.export_controller.write_dialog
    dialog.scope_radios["filtered"].setChecked(True)
    assert dialog.scope_radios["filtered"].text() == "Images shown by the filter (1)"
    with qtbot.waitSignal(window.export_controller.files_written):
        dialog.write_button.click()
    assert sorted(p.name for p in photos.glob("*.txt")) == ["p5.txt"]


def test_a_dry_run_lists_every_file_and_writes_nothing(qtbot, make_window, photos, monkeypatch):
    monkeypatch.setattr(export, "core_dry_run", lambda: False)  # as long as core has none: the app's plan
    window = captioned_window(qtbot, make_window, photos)
    (photos / "p0.jpg.xmp").write_text("<not a real sidecar/>", encoding="utf-8")
    window.action_controller.xmp_action.trigger()
    dialog = window.export_controller.write_dialog
    assert dialog.scope() == "all"
    with qtbot.waitSignal(window.export_controller.writing_changed, check_params_cb=lambda on: not on):
        dialog.dry_run_button.click()
    assert dialog.plan.topLevelItemCount() == 6 and dialog.isVisible()
    rows = {dialog.plan.topLevelItem(i).text(0): dialog.plan.topLevelItem(i).text(2) for i in range(6)}
    assert rows["p1.jpg.xmp"] == "new file" and rows["p0.jpg.xmp"].startswith("exists")
    assert dialog.summary.text().startswith("Dry run, nothing written: 6 files will be written.")
    assert "cannot dry-run yet" in dialog.summary.text()
    assert sorted(p.name for p in photos.glob("*.xmp")) == ["p0.jpg.xmp"]  # nothing written
    assert window.export_controller.progress_dialog is None  # a dry run has no write progress


def test_the_dry_run_is_cores_where_core_has_one(qtbot, make_window, photos, monkeypatch):
    calls = []

    def write_captions(items, options, *, progress=None, cancelled=lambda: False, session=None, dry_run=False):
        calls.append(dry_run)
        report = WriteReport()
        for item in items:
            report.add(item.path, "xmp", Path(f"{item.path}.xmp"), "unchanged" if item.name == "p2.jpg" else WRITTEN)
        return report

    monkeypatch.setattr(core.metadata.caption_writes, "write_captions", write_captions)
    assert export.core_dry_run()
    window = captioned_window(qtbot, make_window, photos)
    window.action_controller.xmp_action.trigger()
    dialog = window.export_controller.write_dialog
    with qtbot.waitSignal(window.export_controller.writing_changed, check_params_cb=lambda on: not on):
        dialog.dry_run_button.click()
    assert calls == [True]
    assert dialog.summary.text() == ("Dry run, nothing written: 5 files will be written; "
                                     "1 file holds the caption already.")
    assert not list(photos.glob("*.xmp"))


def test_time_left_comes_from_the_clock():
    assert time_left(0, 10, 5.0) == "" and time_left(10, 10, 5.0) == ""
    assert time_left(5, 10, 10.0) == "about 0:10 left"
    assert time_left(1, 3601, 1.0) == "about 1:00:00 left"
    assert time_left(999, 1000, 1.0) == "less than a second left"


def test_the_progress_dialog_counts_shows_the_time_left_and_cancels(qtbot, make_window, photos, monkeypatch):
    now = [100.0]
    window = captioned_window(qtbot, make_window, photos)
    window.export_controller.clock = lambda: now[0]
    first_written, go_on = threading.Event(), threading.Event()
    write_sidecar = core.metadata.caption_writes.write_sidecar
    written = []

    def slow_sidecar(*args, **kwargs):
        result = write_sidecar(*args, **kwargs)
        written.append(result)
        if len(written) == 2:  # the second waits until the test has pressed Cancel
            first_written.set()
            assert go_on.wait(20)
        return result

    monkeypatch.setattr(core.metadata.caption_writes, "write_sidecar", slow_sidecar)
    with qtbot.waitSignal(window.export_controller.files_written) as finished:
        assert window.write_files("xmp")
        progress = window.export_controller.progress_dialog
        assert progress.isVisible() and progress.total == 6
        assert first_written.wait(20)
        qtbot.waitUntil(lambda: progress.bar.value() == 1)  # the first image reported: the clock starts
        now[0] = 110.0  # ten seconds on...
        progress.set_progress(2, 6)  # ...one more image: 10 s an image, four to go
        assert progress.label.text() == "Write XMP sidecars: 2 of 6 images"
        assert progress.eta.text() == "about 0:40 left"
        progress.cancel_button.click()
        assert not progress.cancel_button.isEnabled() and "stopping" in progress.eta.text()
        go_on.set()
    assert len(finished.args[0].where(WRITTEN)) == 2
    assert window.statusBar().currentMessage().startswith("Stopped after 2 of 6 images; wrote 2 XMP sidecars")
    assert read_sidecar(photos / "p1.jpg.xmp").text == "caption 1" and not (photos / "p2.jpg.xmp").exists()
    assert window.export_controller.progress_dialog is None


def test_the_progress_dialog_alone(qtbot):
    clock = iter([0.0, 30.0])
    dialog = WriteProgressDialog("Save captions as .txt files", 4, clock=lambda: next(clock))
    qtbot.addWidget(dialog)
    dialog.set_progress(1, 4)
    assert dialog.eta.text() == "measuring..."
    dialog.set_progress(3, 4)  # two images in 30 s since the first: one to go
    assert dialog.eta.text() == "about 0:15 left" and dialog.bar.value() == 3
    cancelled = []
    dialog.cancel_requested.connect(lambda: cancelled.append(True))
    dialog.reject()  # Esc
    assert cancelled == [True]


@pytest.mark.skipif(not export.core_dry_run(), reason="core.metadata.caption_writes has no dry run yet")
def test_cores_own_dry_run_says_which_file_keeps_someone_elses_caption(qtbot, make_window, photos):
    from core.metadata.sidecars import write_sidecar

    window = captioned_window(qtbot, make_window, photos)
    window.folder_controller.watch.stop()  # the sidecar stays news: the watch would read it in (see test_watch_and_imports)
    write_sidecar(photos / "p0.jpg", "a caption from Lightroom", own=False)  # after VisionCap read the folder
    before = sorted((p.name, p.stat().st_mtime_ns) for p in photos.iterdir())
    window.action_controller.xmp_action.trigger()
    dialog = window.export_controller.write_dialog
    with qtbot.waitSignal(window.export_controller.writing_changed, check_params_cb=lambda on: not on):
        dialog.dry_run_button.click()
    assert dialog.summary.text() == ("Dry run, nothing written: 5 files will be written; "
                                     "1 file holds someone else's caption, kept.")
    assert "cannot dry-run" not in dialog.summary.text()
    rows = {dialog.plan.topLevelItem(i).text(0): dialog.plan.topLevelItem(i).text(1) for i in range(6)}
    assert rows["p0.jpg.xmp"] == "kept: someone else's caption" and rows["p1.jpg.xmp"] == "will be written"
    assert sorted((p.name, p.stat().st_mtime_ns) for p in photos.iterdir()) == before  # nothing written
    dialog.replace_check.setChecked(True)  # replacing it is the user's choice: the dry run says so
    with qtbot.waitSignal(window.export_controller.writing_changed, check_params_cb=lambda on: not on):
        dialog.dry_run_button.click()
    assert dialog.summary.text() == "Dry run, nothing written: 6 files will be written."


def test_the_tags_go_into_the_photos_keywords_when_ticked(qtbot, make_window, photos):
    from core.metadata.photo_metadata import read_embedded, read_keywords

    window = captioned_window(qtbot, make_window, photos)
    record = window.gallery_model.records()[0]
    window.edit_controller.commit_caption(record.path, "harbour, dusk, boats")
    select_rows(window, [0])
    window.action_controller.embed_action.trigger()
    dialog = window.export_controller.write_dialog
    assert dialog.keywords_check.isVisible() and not dialog.keywords_check.isChecked()
    dialog.keywords_check.setChecked(True)
    with qtbot.waitSignal(window.export_controller.files_written):
        dialog.write_button.click()
    assert read_embedded(record.path).text == "harbour, dusk, boats"
    assert read_keywords(record.path) == ("harbour", "dusk", "boats")
