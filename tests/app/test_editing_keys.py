"""Editing from the keyboard, in the real window offscreen, as a user would (issue 11's keyboard-
only review, issue 15's undo defects): both editors' keys, one undo step per committed edit,
Ctrl+Z/Ctrl+Y wherever the focus is, Page Up/Down, the search box and Tab into the gallery,
tag completion, edits during a run, and the run summary."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QAbstractItemView

from tests.app.fakes import FakeCaptioner, FakeResult
from tests.app.window_steps import focused, open_folder, run_captions
from visioncap_desktop.records import CaptionState
from visioncap_desktop.store import drafts_path, read_drafts
from visioncap_desktop.widgets.caption_edit import CaptionEdit, tag_prefix

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier


def inline_editor(view) -> CaptionEdit:
    assert view.state() == QAbstractItemView.State.EditingState
    editor = view.delegate.open_editor
    assert isinstance(editor, CaptionEdit) and editor.isVisible()
    return editor


def retype(qtbot, editor, text):
    editor.selectAll()
    qtbot.keyClicks(editor, text)


def test_two_enter_commits_in_the_gallery_are_two_undo_steps(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = focused(qtbot, window, window.gallery_view)
    record = window.current_record()
    for text in ("first words", "second words"):
        qtbot.keyClick(view, Qt.Key.Key_Return)
        editor = inline_editor(view)
        retype(qtbot, editor, text)
        qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda t=text: record.caption == t)
    assert window.undo_stack.count() == 2
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert record.caption == "first words"
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert (record.caption, record.state) == ("", CaptionState.PENDING)
    qtbot.keyClick(view, Qt.Key.Key_Y, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_Y, CTRL)
    assert record.caption == "second words"

    # Ctrl+Z in the open inline editor: what is typed is committed, then undone, like anywhere else
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = inline_editor(view)
    retype(qtbot, editor, "third words")
    qtbot.keyClick(editor, Qt.Key.Key_Z, CTRL)
    assert record.caption == "second words" and view.state() != QAbstractItemView.State.EditingState
    qtbot.keyClick(view, Qt.Key.Key_Y, CTRL)
    assert record.caption == "third words" and window.undo_stack.count() == 3


def test_side_panel_commits_are_separate_steps_and_ctrl_z_is_the_apps_undo(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    record = window.current_record()
    editor = focused(qtbot, window, window.side_panel.editor)
    for text in ("one", "two"):
        retype(qtbot, editor, text)
        qtbot.keyClick(editor, Qt.Key.Key_Return)  # Enter commits (no newline)
        assert record.caption == text
    assert window.undo_stack.count() == 2
    retype(qtbot, editor, "three, not yet committed")
    qtbot.keyClick(editor, Qt.Key.Key_Z, CTRL)  # commits what is typed, then undoes it
    assert record.caption == "two" and editor.toPlainText() == "two"
    qtbot.keyClick(editor, Qt.Key.Key_Z, CTRL)
    assert record.caption == "one" and editor.toPlainText() == "one"
    qtbot.keyClick(editor, Qt.Key.Key_Y, CTRL)
    qtbot.keyClick(editor, Qt.Key.Key_Z, CTRL | SHIFT)  # the other redo key
    assert record.caption == "three, not yet committed" and editor.toPlainText() == record.caption
    assert not window.undo_stack.canRedo() and window.undo_stack.count() == 3
    # the text box keeps no undo history of its own that could leave a state the app cannot undo
    assert not editor.isUndoRedoEnabled()


def test_inline_editor_is_multiline_and_grows(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = focused(qtbot, window, window.gallery_view)
    record = window.current_record()
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = inline_editor(view)
    short = editor.height()
    qtbot.keyClicks(editor, "a long caption that wraps over several lines in the narrow tile " * 3)
    assert editor.height() > short  # shows the whole caption
    qtbot.keyClick(editor, Qt.Key.Key_Return, SHIFT)  # a line break in the caption
    qtbot.keyClicks(editor, "second line")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: record.caption.endswith("\nsecond line"))
    assert view.state() != QAbstractItemView.State.EditingState


def test_commit_and_move_from_the_inline_editor(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = focused(qtbot, window, window.gallery_view)
    records = window.proxy_model.source_records()
    qtbot.keyClick(view, Qt.Key.Key_Return)
    editor = inline_editor(view)
    qtbot.keyClicks(editor, "zero")
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL)  # commit, edit the next image
    qtbot.waitUntil(lambda: view.currentIndex().row() == 1 and view.state() == QAbstractItemView.State.EditingState)
    editor = inline_editor(view)
    qtbot.keyClicks(editor, "one")
    qtbot.keyClick(editor, Qt.Key.Key_Down, ALT)
    qtbot.waitUntil(lambda: view.currentIndex().row() == 2 and view.state() == QAbstractItemView.State.EditingState)
    editor = inline_editor(view)
    qtbot.keyClicks(editor, "two")
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL | SHIFT)  # commit, back to the previous image
    qtbot.waitUntil(lambda: view.currentIndex().row() == 1 and view.state() == QAbstractItemView.State.EditingState)
    qtbot.keyClick(inline_editor(view), Qt.Key.Key_Up, ALT)
    qtbot.waitUntil(lambda: view.currentIndex().row() == 0)
    assert [r.caption for r in records[:3]] == ["zero", "one", "two"]
    assert window.undo_stack.count() == 3
    assert view.selectionModel().selectedIndexes() == [view.currentIndex()]


def test_commit_and_move_from_the_side_panel(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = window.gallery_view
    records = window.proxy_model.source_records()
    editor = focused(qtbot, window, window.side_panel.editor)
    qtbot.keyClicks(editor, "first")
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL)
    assert view.currentIndex().row() == 1 and window.side_panel.record is records[1]
    assert editor.hasFocus() and editor.toPlainText() == ""
    qtbot.keyClicks(editor, "second")
    qtbot.keyClick(editor, Qt.Key.Key_Down, ALT)
    assert view.currentIndex().row() == 2
    qtbot.keyClick(editor, Qt.Key.Key_Up, ALT)
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL | SHIFT)
    assert view.currentIndex().row() == 0 and editor.toPlainText() == "first"
    assert [r.caption for r in records[:2]] == ["first", "second"]
    assert window.undo_stack.count() == 2


def test_page_down_moves_a_screenful(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = focused(qtbot, window, window.gallery_view)
    for mode in ("grid", "list"):
        window.set_view_mode(mode)
        qtbot.keyClick(view, Qt.Key.Key_Home)
        qtbot.wait(50)
        start = view.visualRect(view.currentIndex())
        qtbot.keyClick(view, Qt.Key.Key_PageDown)
        row = view.currentIndex().row()
        moved = view.visualRect(view.currentIndex())
        assert row > 1, mode
        # a screenful down (at least the view's height less one row), same column
        assert moved.left() == start.left(), mode
        assert moved.top() - start.top() >= view.viewport().height() - 2 * start.height() or row == 23, mode
        qtbot.keyClick(view, Qt.Key.Key_PageUp)
        assert view.currentIndex().row() == 0, mode


def test_search_box_down_and_tab_reach_the_gallery(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = window.gallery_view
    search = focused(qtbot, window, window.search_edit)
    qtbot.keyClicks(search, "img_0001")
    qtbot.waitUntil(lambda: window.proxy_model.rowCount() < 24)
    qtbot.keyClick(search, Qt.Key.Key_Down)
    assert view.hasFocus() and view.currentIndex().isValid()
    row = view.currentIndex().row()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == row + 1  # arrows work at once

    # a filter that hides the current image, then Tab into the gallery: a current image again
    window.gallery_view.setCurrentIndex(window.proxy_model.index(0, 0))
    focused(qtbot, window, search)
    search.clear()
    qtbot.keyClicks(search, "img_0002")
    qtbot.waitUntil(lambda: window.proxy_model.rowCount() < 24)
    view.setCurrentIndex(view.model().index(-1, 0))
    assert not view.currentIndex().isValid()
    for _ in range(4):  # past the filter and sort boxes
        if view.hasFocus():
            break
        qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Tab)
    assert view.hasFocus()
    assert view.currentIndex().isValid()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == 1


def test_tag_completion_in_both_editors(qtbot, make_window, image_folder):
    assert tag_prefix("red car,  bl", 12) == "bl" and tag_prefix("red", 3) == "red"
    window = make_window()
    open_folder(qtbot, window, image_folder)
    tags = ["blue sky", "black cat", "red car"]

    window.side_panel.set_known_tags(tags)
    editor = focused(qtbot, window, window.side_panel.editor)
    qtbot.keyClicks(editor, "red car, bl")
    completer = editor.completer()
    qtbot.waitUntil(completer.popup().isVisible)
    assert completer.completionPrefix() == "bl" and completer.completionCount() == 2
    qtbot.keyClick(completer.popup(), Qt.Key.Key_Down)  # black cat, blue sky: the second
    qtbot.keyClick(completer.popup(), Qt.Key.Key_Return)
    assert editor.toPlainText() == "red car, blue sky"
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the list is closed: Enter commits
    assert window.current_record().caption == "red car, blue sky"

    view = window.gallery_view
    view.set_known_tags(tags)
    focused(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_F2)
    inline = inline_editor(view)
    qtbot.keyClicks(inline, "x, RE")
    qtbot.waitUntil(inline.completer().popup().isVisible)
    qtbot.keyClick(inline.completer().popup(), Qt.Key.Key_Return)
    assert inline.toPlainText() == "x, red car"
    assert view.state() == QAbstractItemView.State.EditingState  # Enter went to the list
    qtbot.keyClick(inline, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current_record().caption == "x, red car")


class FailingCaptioner(FakeCaptioner):
    def caption_batches(self, images, settings, batch_size=8):
        for batch in super().caption_batches(images, settings, batch_size):
            yield [FakeResult(r.source, error="cannot decode (fake)") for r in batch]


def test_run_summary_counts_failures_apart(qtbot, make_window, image_folder):
    window = make_window(model="fake", captioner_factory=lambda bundle, device: FailingCaptioner())
    open_folder(qtbot, window, image_folder)
    assert run_captions(qtbot, window) == (24, 24, "completed")
    summary = window.statusBar().currentMessage()
    assert summary.startswith("Captioned 0 images") and "24 failed (see Problems)" in summary
    problems = window.problems.model.problems()
    assert len(problems) == 24 and {(p.stage, p.kind, p.reason) for p in problems} == \
        {("captioning", "failed", "cannot decode (fake)")}


def test_edit_during_a_run_survives_undo_and_redo_of_the_run(qtbot, make_window, image_folder):
    gate = threading.Event()
    window = make_window(model="fake", captioner_factory=lambda bundle, device: FakeCaptioner(gate=gate))
    window.settings.set("batch_size", 4)
    open_folder(qtbot, window, image_folder)
    records = window.gallery_model.records()
    first, later = records[0], records[10]
    with qtbot.waitSignal(window.run_completed, timeout=10000):
        assert window.caption("all")
        qtbot.waitUntil(lambda: first.caption.startswith("fake caption"), timeout=10000)
        machine = first.caption
        window.edit_controller.commit_caption(first.path, "fixed by hand while the run goes on")
        window.edit_controller.commit_caption(later.path, "written before its result came")
        window.edit_controller.undo()  # refused while the run goes on
        assert first.caption == "fixed by hand while the run goes on"
        gate.set()
    assert later.caption == "written before its result came"  # the result did not replace it
    assert "1 skipped" in window.statusBar().currentMessage()
    assert window.undo_stack.count() == 3  # run, edit, edit
    window.edit_controller.undo()
    window.edit_controller.undo()
    assert first.caption == machine and later.state is CaptionState.PENDING
    window.edit_controller.undo()  # the run
    assert all(r.state is CaptionState.PENDING for r in records)
    for _ in range(3):
        window.edit_controller.redo()
    assert first.caption == "fixed by hand while the run goes on"
    assert later.caption == "written before its result came"
    assert sum(r.caption.startswith("fake caption") for r in records) == 22


def test_side_panel_commits_only_on_enter_or_leaving_and_esc_restores(qtbot, make_window, image_folder):
    """Issue 24: typing ", bo" and pausing made the half-word the caption and a tag; Esc did not
    drop it. The side panel now commits as the inline editor does."""
    window = make_window()
    open_folder(qtbot, window, image_folder)
    record = window.current_record()
    window.edit_controller.commit_caption(record.path, "sea")
    tags = ["boat", "book", "bottle"]
    window.side_panel.set_known_tags(tags)
    editor = focused(qtbot, window, window.side_panel.editor)
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, ", bo")
    completer = editor.completer()
    qtbot.waitUntil(completer.popup().isVisible)
    assert completer.completionCount() == 3  # the real suggestions, not the half-word alone
    # the pause: long enough for the draft to reach the disk, which is all typing does
    qtbot.waitUntil(lambda: read_drafts(drafts_path(image_folder)).get(record.name) == "sea, bo")
    assert record.caption == "sea" and window.undo_stack.count() == 1
    window.tag_controller.count_now()
    qtbot.waitUntil(lambda: not window.tag_controller.counting)
    assert "bo" not in window.tag_controller.counts and "bo" not in window.tag_controller.known

    qtbot.keyClick(completer.popup(), Qt.Key.Key_Escape)  # closes the list
    qtbot.waitUntil(lambda: not completer.popup().isVisible())
    qtbot.keyClick(editor, Qt.Key.Key_Escape)  # drops what was typed: the committed caption is back
    assert editor.toPlainText() == "sea" and record.caption == "sea"
    qtbot.waitUntil(lambda: read_drafts(drafts_path(image_folder)).get(record.name) in (None, "sea"))

    qtbot.keyClicks(editor, ", boat")
    focused(qtbot, window, window.gallery_view)  # leaving the field commits
    assert record.caption == "sea, boat" and window.undo_stack.count() == 2


def test_ctrl_z_in_the_search_boxes_is_the_windows_undo(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    record = window.current_record()
    window.edit_controller.commit_caption(record.path, "first")
    window.edit_controller.commit_caption(record.path, "second")
    search = focused(qtbot, window, window.search_edit)
    qtbot.keyClicks(search, "zzz")
    qtbot.keyClick(search, Qt.Key.Key_Z, CTRL)
    assert record.caption == "first" and search.text() == "zzz"  # the box's own typing is not undone
    qtbot.keyClick(search, Qt.Key.Key_Y, CTRL)
    assert record.caption == "second"
    qtbot.keyClick(search, Qt.Key.Key_Z, CTRL | SHIFT)  # already at the end: nothing to redo
    assert record.caption == "second" and search.text() == "zzz"
    tag_search = focused(qtbot, window, window.tag_panel.search)
    qtbot.keyClick(tag_search, Qt.Key.Key_Z, CTRL)
    assert record.caption == "first"


def test_the_caption_counter_estimates_clip_tokens(qtbot, make_window, image_folder, theme_reset):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from visioncap_desktop.theme import contrast_ratio, warning_colour
    from visioncap_desktop.token_count import CLIP_TEXT_TOKENS, estimate_clip_tokens

    assert estimate_clip_tokens("a red car, parked") == 5
    assert estimate_clip_tokens("photo of 2024") == 6  # every digit alone, as CLIP's tokenizer splits them
    assert estimate_clip_tokens("don't") == 2 and estimate_clip_tokens("") == 0
    assert estimate_clip_tokens("supercalifragilisticexpialidocious") == 4  # long words: more than one
    window = make_window()
    open_folder(qtbot, window, image_folder)
    panel = window.side_panel
    panel.editor.setPlainText("a red car, parked")
    assert panel.counter.text() == "≈ 5 of 75 CLIP tokens · 17 characters"
    panel.editor.setPlainText("word " * (CLIP_TEXT_TOKENS + 1))
    assert panel.counter.text().endswith("(CLIP would cut the rest)")
    for theme in ("light", "dark"):
        window.action_controller.set_theme(theme)
        colour = warning_colour(QApplication.palette())
        qtbot.waitUntil(lambda c=colour: c.name() in panel.counter.styleSheet())
        assert contrast_ratio(colour, QApplication.palette().color(QPalette.ColorRole.Window)) >= 4.5
