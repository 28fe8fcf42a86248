"""The whole window, offscreen, on the tiny bundle (or a fake where real weights are not the
point): open, caption, edit, undo, cancel, export, reopen."""

from __future__ import annotations

import csv
import io
import json
import threading

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QAbstractItemView

from tests.app.fakes import FakeCaptioner
from tests.app.gui_ticks import GuiTicks
from tests.app.images import make_images
from tests.app.window_steps import focused, open_folder, run_captions
from visioncap_desktop.records import CaptionState
from visioncap_desktop.settings import Settings
from visioncap_desktop.store import CaptionStore, drafts_path, read_drafts
from visioncap_desktop.widgets.caption_edit import CaptionEdit


def by_name(window):
    return {r.name: r for r in window.gallery_model.records()}


def test_window_title_toolbar_and_shortcuts(make_window):
    window = make_window()
    assert window.windowTitle() == "VisionCap"
    keys = {a.text().replace("&", ""): [s.toString() for s in a.shortcuts()] for a in window.findChildren(type(window.action_controller.open_action))}
    assert "Ctrl+O" in keys["Open Folder..."]
    assert "Ctrl+E" in keys["Export CSV..."]
    assert "Esc" in keys["Cancel Run"]
    assert {"Ctrl+Y", "Ctrl+Shift+Z"} <= set(keys["Redo"])
    assert "Ctrl+Z" in keys["Undo"]
    assert not window.action_controller.cancel_action.isEnabled()


def test_caption_all_with_broken_files(qtbot, make_window, problem_folder):
    window = make_window()
    assert open_folder(qtbot, window, problem_folder["folder"]) == 8  # notes.txt is not an image
    assert run_captions(qtbot, window) == (8, 8, "completed")
    records = by_name(window)
    for path in problem_folder["readable"]:
        record = records[path.name]
        assert record.state is CaptionState.CAPTIONED and record.caption and record.model == "tiny-test"
    assert records["corrupt.jpg"].state is CaptionState.ERROR and records["corrupt.jpg"].error
    assert records["empty.png"].state is CaptionState.ERROR and "empty" in records["empty.png"].error
    assert "Café Ünïcödé 写真.PNG" in records
    qtbot.waitUntil(lambda: "6 captioned" in window.counts_label.text() and "2 errors" in window.counts_label.text())
    assert "CPU" in window.model_label.text()


def test_edits_survive_later_runs_and_undo_redo(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    run_captions(qtbot, window)
    first = window.gallery_model.records()[0]
    machine_caption = first.caption
    index = window.gallery_model.index_for_path(first.path)
    assert window.gallery_model.setData(index, "my own caption, with care")
    assert first.state is CaptionState.EDITED

    run_captions(qtbot, window)  # caption all again: the edit is left alone
    assert first.caption == "my own caption, with care" and first.state is CaptionState.EDITED
    # greedy decoding gave the same captions again: a run that changed nothing adds no undo step
    assert window.undo_stack.count() == 2

    window.undo_stack.undo()  # the edit
    assert (first.caption, first.state) == (machine_caption, CaptionState.CAPTIONED)
    window.undo_stack.undo()  # the first run: back to no captions at all
    assert all(r.state is CaptionState.PENDING for r in window.gallery_model.records())
    window.undo_stack.redo()
    window.undo_stack.redo()
    assert first.caption == "my own caption, with care"
    assert all(r.caption for r in window.gallery_model.records())

    window.action_controller.overwrite_action.setChecked(True)  # explicitly asked: now it is replaced
    run_captions(qtbot, window)
    assert first.state is CaptionState.CAPTIONED and first.caption == machine_caption


def test_caption_selected_and_uncaptioned(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    for row in (2, 5):
        window.gallery_view.selectionModel().select(
            window.proxy_model.index(row, 0), window.gallery_view.selectionModel().SelectionFlag.Select)
    assert run_captions(qtbot, window, "selected")[:2] == (3, 3)  # the current item counts too
    assert run_captions(qtbot, window, "uncaptioned")[:2] == (21, 21)
    assert not window.caption("uncaptioned")  # nothing left


def test_keyboard_edit_and_undo(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = window.gallery_view
    focused(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == 1
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert view.state() == QAbstractItemView.State.EditingState
    editor = view.viewport().findChild(CaptionEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "typed by hand")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next event loop turn
    record = window.current_record()
    qtbot.waitUntil(lambda: record.caption == "typed by hand")
    assert record.state is CaptionState.EDITED
    assert window.side_panel.editor.toPlainText() == "typed by hand"
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert record.state is CaptionState.PENDING
    qtbot.keyClick(view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert record.caption == "typed by hand"
    qtbot.keyClick(view, Qt.Key.Key_F2)
    assert view.state() == QAbstractItemView.State.EditingState


def test_side_panel_edit(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    record = window.current_record()
    panel = window.side_panel
    assert panel.record is record and panel.details["name"].text() == record.name
    qtbot.waitUntil(lambda: panel.details["dimensions"].text() == "64 x 48")
    committed = []
    panel.caption_committed.connect(lambda path, text: committed.append(text))
    panel.editor.setPlainText("written in the side panel")
    # typing is a draft on disk, never the caption by itself (issue 24: no commit after a pause)
    qtbot.waitUntil(lambda: read_drafts(drafts_path(image_folder)).get(record.name) == "written in the side panel")
    assert committed == [] and record.caption == "" and window.undo_stack.count() == 0
    panel.commit()  # what Enter and leaving the editor do
    assert committed == ["written in the side panel"]
    assert (record.caption, record.state) == ("written in the side panel", CaptionState.EDITED)
    window.undo_stack.undo()
    assert record.caption == "" and panel.editor.toPlainText() == ""


def test_export_csv_from_the_window(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    run_captions(qtbot, window)
    records = window.gallery_model.records()
    model = window.gallery_model
    model.setData(model.index_for_path(records[0].path), '=HYPERLINK("x"), "quoted"\nsecond line, café')
    out = tmp_path / "out" / "captions.csv"
    out.parent.mkdir()
    assert window.export_controller.export_csv(out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == len(records)
    assert rows[0] == {"file_name": records[0].name, "path": records[0].path,
                       "caption": '\'=HYPERLINK("x"), "quoted"\nsecond line, café', "title": "",
                       "edited": "true", "model": "tiny-test", "style": "", "error": ""}
    assert [r["file_name"] for r in rows] == [r.name for r in records]
    assert all(r["edited"] == "false" for r in rows[1:])

    window.gallery_view.setCurrentIndex(window.proxy_model.index(3, 0))
    assert window.export_controller.export_csv(out, "selected", bom=False)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert [r["file_name"] for r in rows] == [records[3].name]


def test_export_failure_keeps_the_earlier_file(qtbot, make_window, image_folder, tmp_path, monkeypatch):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    out = tmp_path / "captions.csv"
    out.write_text("earlier\n", encoding="utf-8")
    monkeypatch.setattr("core.atomic.os.replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    assert not window.export_controller.export_csv(out)
    assert out.read_text(encoding="utf-8") == "earlier\n"
    level, _title, text = window.messages[-1]
    assert level == "warning" and "No space left" in text and "unchanged" in text


def test_txt_files_keep_or_replace_existing_ones(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    run_captions(qtbot, window)
    first = window.gallery_model.records()[0]
    existing = image_folder / (first.name.rsplit(".", 1)[0] + ".txt")
    window.folder_controller.watch.stop()  # "keep me" stays someone else's: the watch would read it in as the caption
    existing.write_text("keep me", encoding="utf-8")

    window.action_controller.txt_action.trigger()  # Export > Save Captions as .txt Files
    dialog = window.export_controller.write_dialog
    assert dialog.isVisible() and dialog.existing_label.text() == "1 .txt file of these images already exists."
    dialog.reject()

    def write(existing_files: str):
        with qtbot.waitSignal(window.export_controller.files_written) as written:
            assert window.write_files("txt", existing=existing_files)
        return written.args[0]

    report = write("keep")
    assert len(report.where("written")) == 23 and [o.target for o in report.where("kept")] == [existing]
    assert existing.read_text(encoding="utf-8") == "keep me"
    assert [(p.kind, p.name) for p in window.problems.model.problems()] == [("refused", first.name)]
    assert "1 kept someone else's caption (see Problems)" in window.statusBar().currentMessage()
    write("replace")
    assert existing.read_text(encoding="utf-8") == first.caption


def test_cancel_keeps_the_captions_made(qtbot, make_window, image_folder):
    gate = threading.Event()
    window = make_window(model="fake", captioner_factory=lambda bundle, device: FakeCaptioner(gate=gate))
    window.settings.set("batch_size", 4)
    open_folder(qtbot, window, image_folder)
    with qtbot.waitSignal(window.run_completed, timeout=10000) as finished:
        assert window.caption("all")
        # the first batch is in; the worker waits at the gate before the second
        qtbot.waitUntil(lambda: sum(bool(r.caption) for r in window.gallery_model.records()) == 4, timeout=10000)
        assert window.action_controller.cancel_action.isEnabled() and window.run_controller.is_running
        window.action_controller.cancel_action.trigger()  # Esc
        gate.set()
    done, total, outcome = finished.args
    assert outcome == "cancelled" and total == 24 and done in (4, 8)
    captioned = [r for r in window.gallery_model.records() if r.caption]
    assert len(captioned) == done
    assert window.undo_stack.count() == 1  # the partial run is one undoable step
    assert not window.action_controller.cancel_action.isEnabled() and not window.run_controller.is_running
    window.undo_stack.undo()
    assert not any(r.caption for r in window.gallery_model.records())


def test_results_of_a_run_the_window_moved_on_from_are_dropped(qtbot, make_window, image_folder):
    """A caption, failure or progress signal of an earlier run (cancelled, replaced) that arrives
    during a newer run is not applied to it: no caption changes, nothing counted as skipped."""
    gate = threading.Event()
    window = make_window(model="fake", captioner_factory=lambda bundle, device: FakeCaptioner(gate=gate))
    window.settings.set("batch_size", 4)
    open_folder(qtbot, window, image_folder)
    with qtbot.waitSignal(window.run_completed, timeout=60000) as finished:
        assert window.caption("all")
        qtbot.waitUntil(lambda: sum(bool(r.caption) for r in window.gallery_model.records()) == 4, timeout=60000)
        current = window.run_controller._run.run_id
        untouched = next(r for r in window.gallery_model.records() if not r.caption)
        worker = window.run_controller.worker
        worker.caption_ready.emit(current - 1, untouched.path, "a stale caption")  # an earlier run's
        worker.caption_failed.emit(current - 1, untouched.path, "a stale failure")
        worker.progress.emit(current - 1, 99, 99)
        assert untouched.caption == "" and not untouched.error
        gate.set()
    assert finished.args[2] == "completed"
    assert all(r.caption.startswith("fake caption") for r in window.gallery_model.records())
    assert "skipped" not in window.statusBar().currentMessage()


def test_gui_keeps_processing_events_during_a_run(qtbot, make_window, tmp_path):
    """The real model on the worker thread. Before handing over each batch, the worker waits
    until the GUI thread's timer has ticked and the gallery shows every batch before it, so the
    run can only finish if the GUI thread handled its events all along (tests/app/gui_ticks.py).
    How long it may stall is benchmarks/app_gui_stall.py's figure, not asserted here."""
    from visioncap_desktop.workers.caption_worker import load_captioner

    folder = tmp_path / "run"
    make_images(folder, 60, size=(96, 72))
    shown = []  # captions in the gallery when the worker handed over each batch

    def watched(bundle, device):
        captioner = load_captioner(bundle, device)
        real = captioner.caption_batches

        def caption_batches(*args, **kwargs):
            for results in real(*args, **kwargs):
                ticks.wait_in_worker(also=lambda: ticks.sampled >= 4 * len(shown))
                shown.append(ticks.sampled)
                yield results

        captioner.caption_batches = caption_batches
        return captioner

    window = make_window(captioner_factory=watched)
    ticks = GuiTicks(sample=lambda: sum(bool(r.caption) for r in window.gallery_model.records()))
    window.settings.set("batch_size", 4)
    open_folder(qtbot, window, folder)
    ticks.start()
    assert run_captions(qtbot, window) == (60, 60, "completed")
    ticks.stop()
    assert len(ticks.waits) == 15 and all(off_gui and met for off_gui, met in ticks.waits), ticks.waits
    assert shown == list(range(0, 60, 4))  # shown batch by batch while the worker went on


def test_captions_are_saved_and_restored(qtbot, make_window, image_folder, settings):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    run_captions(qtbot, window)
    records = window.gallery_model.records()
    window.gallery_model.setData(window.gallery_model.index_for_path(records[1].path), "edited, then saved")
    store = CaptionStore(image_folder)
    # saved automatically, without closing
    qtbot.waitUntil(lambda: store.path.exists() and "edited, then saved" in store.path.read_text(encoding="utf-8"))
    expected = {r.name: (r.caption, r.state) for r in records}
    window.close()

    again = make_window(settings=Settings.load())
    open_folder(qtbot, again, image_folder)
    assert {r.name: (r.caption, r.state) for r in again.gallery_model.records()} == expected
    assert by_name(again)[records[1].name].state is CaptionState.EDITED


def test_close_saves_immediately(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    record = window.gallery_model.records()[0]
    window.gallery_model.setData(window.gallery_model.index_for_path(record.path), "just before closing")
    window.close()  # no waiting for the save timer
    assert CaptionStore(image_folder).load().entries[record.name].caption == "just before closing"


def test_corrupt_store_is_kept_aside_and_reported(qtbot, make_window, image_folder):
    store = CaptionStore(image_folder)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{ this is not json", encoding="utf-8")
    window = make_window()
    open_folder(qtbot, window, image_folder)
    level, _title, text = window.messages[0]
    assert level == "warning" and "could not be read" in text
    kept = list(store.path.parent.glob("*.corrupt-*.json"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "{ this is not json"
    run_captions(qtbot, window)
    window.close()
    assert kept[0].read_text(encoding="utf-8") == "{ this is not json"
    assert json.loads(store.path.read_text(encoding="utf-8"))["images"]


def test_settings_persist_across_windows(qtbot, make_window, image_folder, settings):
    window = make_window()
    open_folder(qtbot, window, image_folder, include_subfolders=True)
    window.set_view_mode("list")
    window.resize(900, 640)
    window.close()
    saved = Settings.load()
    assert saved.get("include_subfolders") is True
    assert saved.get("view_mode") == "list"
    assert saved.get("last_folder") == str(image_folder.resolve())
    assert saved.get("recent_folders")[0] == str(image_folder.resolve())
    assert saved.get("window_geometry")
    again = make_window(settings=saved)
    assert again.gallery_view.mode == "list" and again.action_controller.subfolders_action.isChecked()


def test_subfolders_toggle(qtbot, make_window, image_folder):
    make_images(image_folder / "nested", 2, size=(16, 16), start=100)
    window = make_window()
    assert open_folder(qtbot, window, image_folder) == 24
    with qtbot.waitSignal(window.folder_loaded, timeout=10000) as loaded:
        window.action_controller.subfolders_action.trigger()
    assert loaded.args[1] == 26
    assert "nested/img_00100.jpg" in by_name(window)


def test_filters_and_search_in_the_window(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    model = window.gallery_model
    model.setData(model.index_for_path(model.records()[0].path), "a zebra")
    window.filter_combo.setCurrentIndex(window.filter_combo.findData("edited"))
    assert window.proxy_model.rowCount() == 1
    window.filter_combo.setCurrentIndex(window.filter_combo.findData("all"))
    window.search_edit.setText("ZEBRA")
    qtbot.waitUntil(lambda: window.proxy_model.rowCount() == 1)
    qtbot.waitUntil(lambda: "Showing 1 of 24" in window.counts_label.text())


def test_drop_a_folder_opens_it(qtbot, make_window, image_folder):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_folder / "img_00000.jpg"))])  # a file: its folder opens
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.folder_loaded, timeout=10000) as loaded:
        window.dropEvent(event)
    assert loaded.args == [str(image_folder.resolve()), 24]


def test_missing_folder_and_vanishing_folder(qtbot, make_window, tmp_path):
    window = make_window()
    assert not window.open_folder(tmp_path / "nowhere")
    assert "does not exist" in window.messages[-1][2]
    folder = tmp_path / "vanishing"
    make_images(folder, 2, size=(8, 8))
    open_folder(qtbot, window, folder)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    qtbot.waitUntil(lambda: any("no longer" in t or "moved, deleted" in t for _, _, t in window.messages))


def test_broken_model_gives_a_message_and_the_app_keeps_running(qtbot, make_window, image_folder, tmp_path):
    window = make_window(model=str(tmp_path / "no-such-bundle"))
    open_folder(qtbot, window, image_folder)
    assert run_captions(qtbot, window)[2] == "failed"
    assert any(title == "Could not load the model" and "no-such-bundle" in text
               for _, title, text in window.messages)
    assert window.action_controller.caption_all_action.isEnabled()


def test_cuda_oom_fallback_is_reported_in_the_window(qtbot, make_window, image_folder):
    window = make_window(model="fake", captioner_factory=lambda b, d: FakeCaptioner(device="cuda", oom_above=0))
    open_folder(qtbot, window, image_folder)
    assert run_captions(qtbot, window) == (24, 24, "completed")
    assert any("continues on the CPU" in text for _, _, text in window.messages)
    assert "Device: CPU" in window.model_label.text()
