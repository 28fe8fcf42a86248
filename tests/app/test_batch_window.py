"""Batch edits and tags in the real window, offscreen, driven by keys as a user would."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.app.window_steps import focused, open_folder
from visioncap_desktop.gallery import batch_command
from visioncap_desktop.gallery.filter_proxy import filter_pattern
from visioncap_desktop.records import CaptionSnapshot, CaptionState

CTRL = Qt.KeyboardModifier.ControlModifier


def give_captions(window, captions: list[str], edited: set[int] = frozenset()) -> list:
    """Captions for the first len(captions) records, as a run (or the user, for `edited`) left them."""
    records = window.gallery_model.records()
    window.gallery_model.set_snapshots({
        r.path: CaptionSnapshot(c, CaptionState.EDITED if i in edited else CaptionState.CAPTIONED)
        for i, (r, c) in enumerate(zip(records, captions, strict=False))})
    return records[:len(captions)]


def open_batch_dialog(qtbot, window):
    focused(qtbot, window, window.gallery_view)
    qtbot.keyClick(window.gallery_view, Qt.Key.Key_H, CTRL)
    dialog = window.batch_edit_controller.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_find_replace_with_live_count_is_one_undo_step(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    records = give_captions(window, ["a dog, grass", "two dogs", "a cat"] * 8, edited={2})
    before = [r.caption for r in records]
    depth = window.undo_stack.count()
    dialog = open_batch_dialog(qtbot, window)
    assert dialog.scope() == "all"
    qtbot.waitUntil(dialog.find_edit.hasFocus)
    qtbot.keyClicks(dialog.find_edit, "DOG")
    qtbot.keyClicks(dialog.replace_edit, "puppy")
    qtbot.waitUntil(lambda: not dialog.counting)
    assert dialog.count_label.text() == "16 matches; 16 captions will change. The first ones:"
    assert dialog.preview.topLevelItemCount() == 5  # before and after, of the first changes
    assert (dialog.preview.topLevelItem(0).text(0), dialog.preview.topLevelItem(0).text(1)) == \
        ("a dog, grass", "a puppy, grass")
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished) as finished:
        qtbot.keyClick(dialog.replace_edit, Qt.Key.Key_Return)
    assert finished.args == [16]
    assert [r.caption for r in records[:3]] == ["a puppy, grass", "two puppys", "a cat"]
    assert records[0].state is CaptionState.EDITED
    assert window.undo_stack.count() == depth + 1
    assert "Replace “DOG” with “puppy” (16 captions)" in window.action_controller.undo_action.text()
    qtbot.waitUntil(lambda: dialog.count_label.text().startswith("0 match"))  # counted again after applying
    qtbot.keyClick(dialog.find_edit, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)

    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        qtbot.keyClick(window.gallery_view, Qt.Key.Key_Z, CTRL)
    assert [r.caption for r in records] == before
    assert records[0].state is CaptionState.CAPTIONED and records[2].state is CaptionState.EDITED
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        qtbot.keyClick(window.gallery_view, Qt.Key.Key_Y, CTRL)
    assert records[1].caption == "two puppys"


def test_protection_bad_regex_and_selection_scope(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    records = give_captions(window, ["dog"] * 6, edited={0, 1})
    dialog = open_batch_dialog(qtbot, window)
    dialog.regex_check.setChecked(True)
    qtbot.keyClicks(dialog.find_edit, "(dog")
    qtbot.waitUntil(lambda: not dialog.counting)
    assert dialog.error_label.text().startswith("Not a valid regular expression")
    assert not dialog.apply_button.isEnabled()
    qtbot.keyClick(dialog.find_edit, Qt.Key.Key_Home)
    qtbot.keyClick(dialog.find_edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(dialog.replace_edit, "cat")
    dialog.protect_check.setChecked(True)  # leave the two edited captions alone
    qtbot.waitUntil(lambda: not dialog.counting)
    assert dialog.error_label.text() == "" and "4 captions will change" in dialog.count_label.text()
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        dialog.apply_button.click()
    assert [r.caption for r in records] == ["dog", "dog", "cat", "cat", "cat", "cat"]
    assert "2 edited captions left as they were" in window.statusBar().currentMessage()

    dialog.close()
    window.gallery_view.selectAll()
    qtbot.keyClick(window.gallery_view, Qt.Key.Key_Right)  # one image current and selected
    qtbot.keyClick(window.gallery_view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    dialog = open_batch_dialog(qtbot, window)
    assert dialog.scope() == "selected" and dialog.scope_radios["selected"].text() == "Selected images (2)"
    dialog.operation.setCurrentIndex(dialog.operation.findData("prefix"))
    qtbot.keyClicks(dialog.add_edit, "ohwx, ")
    qtbot.waitUntil(lambda: not dialog.counting)
    assert dialog.count_label.text() == "0 captions will change."  # a batch's changes count as edits
    assert not dialog.preview.isVisible()
    dialog.protect_check.setChecked(False)
    qtbot.waitUntil(lambda: not dialog.counting)
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        qtbot.keyClick(dialog.add_edit, Qt.Key.Key_Return)
    assert [r.caption for r in records[:4]] == ["dog", "ohwx, dog", "ohwx, cat", "cat"]


def test_a_batch_larger_than_a_slice_under_a_filter_keeps_an_edit_made_meanwhile(
        qtbot, make_window, image_folder, monkeypatch):
    monkeypatch.setattr(batch_command, "STEP", 5)
    window = make_window()
    open_folder(qtbot, window, image_folder)
    records = give_captions(window, [f"photo {i}" for i in range(24)])
    window.proxy_model.set_search_text("photo")
    assert window.batch_edit_controller.change_captions(window.records_in_scope("filtered"), lambda c: c + "!", "Shout")
    assert window.batch_edit_controller.busy and not window.action_controller.undo_action.isEnabled()
    last = records[-1]
    window.edit_controller.commit_caption(last.path, "typed meanwhile")
    qtbot.waitUntil(lambda: not window.batch_edit_controller.busy)
    assert records[0].caption == "photo 0!" and records[-2].caption == "photo 22!"
    assert last.caption == "typed meanwhile!"  # the batch reached it after the edit
    window.undo_stack.undo()  # the batch
    qtbot.waitUntil(lambda: not window.batch_edit_controller.busy)
    assert records[0].caption == "photo 0" and last.caption == "typed meanwhile"
    window.gallery_model.set_snapshot(records[1].path, CaptionSnapshot("changed elsewhere", CaptionState.EDITED))
    window.undo_stack.redo()
    qtbot.waitUntil(lambda: not window.batch_edit_controller.busy)
    assert records[0].caption == "photo 0!" and records[1].caption == "changed elsewhere"


def test_tag_panel_counts_filters_renames_and_deletes(qtbot, make_window, image_folder):
    window = make_window()
    known = []
    window.side_panel.set_known_tags = known.append  # the editors' autocompletion (another branch)
    open_folder(qtbot, window, image_folder)
    records = give_captions(window, ["dog, grass", "dog, cat", "a dog runs across the wide green field"])
    panel = window.tag_panel
    qtbot.waitUntil(lambda: panel.tags() == ["dog", "cat", "grass"])
    qtbot.waitUntil(lambda: bool(known) and known[-1] == ["dog", "cat", "grass"])
    assert "1 caption without a tag" in panel.note.text() and "is not listed" in panel.note.text()

    panel.tree.setFocus()
    panel.select_tag("dog")
    qtbot.keyClick(panel.tree, Qt.Key.Key_Return)
    assert window.proxy_model.rowCount() == 2 and panel.active_label.isVisible()
    panel.scope.setCurrentIndex(panel.scope.findData("filtered"))
    qtbot.waitUntil(lambda: not window.tag_controller.counting)
    assert window.tag_controller.counts == {"dog": 2, "grass": 1, "cat": 1}

    depth = window.undo_stack.count()
    panel.ask_new_name = lambda tag: "puppy"
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        qtbot.keyClick(panel.tree, Qt.Key.Key_F2)
    assert [r.caption for r in records[:2]] == ["puppy, grass", "puppy, cat"]
    assert records[2].caption.startswith("a dog runs")  # a sentence is not a tag
    assert window.proxy_model.tag == "puppy" and window.proxy_model.rowCount() == 2  # the filter follows
    qtbot.waitUntil(lambda: "puppy" in panel.tags())
    panel.select_tag("cat")
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        qtbot.keyClick(panel.tree, Qt.Key.Key_Delete)
    assert records[1].caption == "puppy"
    assert window.undo_stack.count() == depth + 2
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        window.undo_stack.undo()
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        window.undo_stack.undo()
    assert [r.caption for r in records[:2]] == ["dog, grass", "dog, cat"]

    panel.choose("")  # "Show all"
    assert window.proxy_model.rowCount() == window.gallery_model.rowCount()

    # deleting the tag the gallery is filtered on shows all images, not an empty gallery
    panel.choose("grass")
    assert window.proxy_model.rowCount() == 1
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        panel.delete("grass")
    assert window.proxy_model.tag == "" and window.proxy_model.rowCount() == window.gallery_model.rowCount()
    # a filter that leaves nothing says why, and how to see the images again
    panel.choose("no such tag")
    window._update_counts()
    assert window.filter_hint.isVisible() and "“no such tag”" in window.filter_hint.text()
    assert "Show all" in window.filter_hint.text()
    panel.choose("no such tag")
    window._update_counts()
    assert not window.filter_hint.isVisible()


def test_tag_names_get_the_panels_width(qtbot, make_window, image_folder):
    window = make_window()
    window.tag_dock.resize(300, 400)
    window.tag_panel.set_counts(Counter({"a rather long tag name here": 3, "dog": 1200}), 0)
    tree = window.tag_panel.tree
    qtbot.waitUntil(lambda: tree.columnWidth(0) > 0)
    count_width = tree.columnWidth(1)
    assert tree.columnWidth(0) > 2 * count_width  # the name column takes the width, not the count
    assert count_width >= tree.header().sectionSizeHint(1) - 1


def test_prefix_with_a_separator_and_tag_operations_in_the_dialog(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    records = give_captions(window, ["landscape, sky", "sky, sky, cloud, sun"])
    dialog = open_batch_dialog(qtbot, window)
    dialog.operation.setCurrentIndex(dialog.operation.findData("prefix"))
    assert dialog.separator_edit.isVisible() and dialog.separator_edit.text() == ", "
    qtbot.keyClicks(dialog.add_edit, "mytrigger")
    qtbot.waitUntil(lambda: not dialog.counting)
    assert dialog.preview.topLevelItem(0).text(1) == "mytrigger, landscape, sky"
    dialog.separator_edit.setText(" ")
    qtbot.waitUntil(lambda: not dialog.counting)
    assert dialog.preview.topLevelItem(0).text(1) == "mytrigger landscape, sky"
    dialog.separator_edit.setText(", ")
    qtbot.waitUntil(lambda: not dialog.counting)
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        dialog.apply_button.click()
    assert records[0].caption == "mytrigger, landscape, sky"

    dialog.operation.setCurrentIndex(dialog.operation.findData("dedupe_tags"))
    assert not dialog.separator_edit.isVisible()
    qtbot.waitUntil(lambda: not dialog.counting)
    assert dialog.count_label.text() == "1 caption will change."
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        dialog.apply_button.click()
    assert records[1].caption == "mytrigger, sky, cloud, sun"
    dialog.operation.setCurrentIndex(dialog.operation.findData("keep_first"))
    assert dialog.count_spin.isVisible()
    dialog.count_spin.setValue(2)
    qtbot.waitUntil(lambda: not dialog.counting)
    with qtbot.waitSignal(window.batch_edit_controller.batch_finished):
        dialog.apply_button.click()
    assert [r.caption for r in records] == ["mytrigger, landscape", "mytrigger, sky"]
    assert "Keep the first 2 tags" in window.action_controller.undo_action.text()


def test_the_batch_dialogs_error_is_readable_in_both_themes(qtbot, make_window, image_folder, theme_reset):
    from PySide6.QtGui import QPalette

    from visioncap_desktop.theme import contrast_ratio, warning_colour

    window = make_window()
    open_folder(qtbot, window, image_folder)
    dialog = open_batch_dialog(qtbot, window)
    for theme in ("light", "dark"):
        window.action_controller.set_theme(theme)
        palette = QApplication.palette()
        colour = warning_colour(palette)
        qtbot.waitUntil(lambda c=colour: c.name() in dialog.error_label.styleSheet())  # on the palette change
        assert contrast_ratio(colour, palette.color(QPalette.ColorRole.Window)) >= 4.5, theme


def test_tags_menu_toggle_and_batch_action_state(qtbot, make_window):
    window = make_window()
    toggle = window.tag_dock.toggleViewAction()
    assert toggle in window.action_controller.view_menu.actions() and toggle.shortcut().toString() == "Ctrl+T"
    assert not window.action_controller.batch_action.isEnabled()  # no folder yet
    assert [s.toString() for s in window.action_controller.batch_action.shortcuts()] == ["Ctrl+H"]
    QApplication.processEvents()


def test_tag_filter_pattern_matches_whole_parts_with_their_case():
    from PySide6.QtCore import QRegularExpression

    def accepts(caption: str, tag: str, state: str = "all", needle: str = "") -> bool:
        pattern = QRegularExpression(filter_pattern(state, needle, tag),
                                     QRegularExpression.PatternOption.CaseInsensitiveOption)
        return pattern.match(f"captioned\nimg.jpg\n{caption}").hasMatch()

    assert accepts("dog, cat", "dog") and accepts("dog, cat", "cat") and accepts("red car", "red car")
    assert accepts("x ,  dog  , y", "dog")
    assert not accepts("dogs, cat", "dog") and not accepts("hot dog, cat", "dog")
    assert not accepts("Dog, cat", "dog")
    assert accepts("dog, a.b", "a.b") and not accepts("dog, axb", "a.b")
    assert accepts("dog, cat", "cat", needle="img") and not accepts("dog, cat", "cat", needle="zebra")
    assert not accepts("dog", "dog", state="edited")


def test_collections_resume_after_batches_counts_and_shutdown(qtbot, make_window, image_folder):
    import gc

    window = make_window()
    open_folder(qtbot, window, image_folder)
    give_captions(window, ["dog, cat"] * 4)
    window.tag_controller.count_now()
    assert not gc.isenabled()  # paused while the tags are counted
    window.batch_edit_controller.change_captions(window.gallery_model.records(), str.upper, "Upper")
    qtbot.waitUntil(lambda: not window.batch_edit_controller.busy and not window.tag_controller.counting)
    assert gc.isenabled()
    window.tag_controller.count_now()
    window.shutdown()
    assert gc.isenabled()
