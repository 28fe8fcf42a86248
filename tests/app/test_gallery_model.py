"""The gallery model and its filter proxy: Qt's model tester, sorting, filters, undoable edits."""

from __future__ import annotations

from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtGui import QUndoStack

from visioncap_desktop.gallery.filter_proxy import GalleryFilterProxy
from visioncap_desktop.gallery.item_model import ROLE_RECORD, ROLE_STATE, GalleryModel
from visioncap_desktop.gallery.undo_commands import CaptionRunCommand
from visioncap_desktop.records import CaptionSnapshot, CaptionState, ImageRecord


def sample_records():
    return [
        ImageRecord("/p/img10.jpg", "img10.jpg", "a red bus", CaptionState.CAPTIONED, model="m"),
        ImageRecord("/p/img2.jpg", "img2.jpg", "my own words", CaptionState.EDITED, model="m"),
        ImageRecord("/p/Img1.png", "Img1.png"),
        ImageRecord("/p/bad.jpg", "bad.jpg", state=CaptionState.ERROR, error="truncated image"),
    ]


def make_model(records=None):
    model = GalleryModel()
    model.add_records(records or sample_records())
    return model


def names(model):
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def test_model_passes_qt_model_tester(qtmodeltester):
    model = make_model()
    qtmodeltester.check(model)
    model.add_records([ImageRecord("/p/new.jpg", "new.jpg")])
    model.sort_records("state")
    model.set_snapshot("/p/new.jpg", CaptionSnapshot("new", CaptionState.CAPTIONED))
    qtmodeltester.check(model)


def test_proxy_passes_qt_model_tester(qtmodeltester):
    proxy = GalleryFilterProxy()
    proxy.setSourceModel(make_model())
    proxy.set_search_text("bus")
    qtmodeltester.check(proxy)


def test_roles(qtbot):
    model = make_model()
    index = model.index(0, 0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "img10.jpg"
    assert index.data(Qt.ItemDataRole.EditRole) == "a red bus"
    assert index.data(ROLE_STATE) == "captioned"
    assert index.data(ROLE_RECORD).path == "/p/img10.jpg"
    assert index.data(Qt.ItemDataRole.DecorationRole) is None  # no thumbnail loader here
    assert model.flags(index) & Qt.ItemFlag.ItemIsEditable


def test_duplicate_paths_are_not_added_twice():
    model = make_model()
    model.add_records(sample_records())
    assert model.rowCount() == 4


def test_natural_sort_and_sort_keys(qtbot):
    model = make_model()
    model.sort_records("name")
    assert names(model) == ["bad.jpg", "Img1.png", "img2.jpg", "img10.jpg"]
    model.sort_records("name_desc")
    assert names(model) == ["img10.jpg", "img2.jpg", "Img1.png", "bad.jpg"]
    model.sort_records("state")
    assert names(model)[0] == "bad.jpg"
    model.sort_records("caption")
    assert names(model)[-1] == "img2.jpg"  # "my own words" sorts last
    assert model.index_for_path("/p/img2.jpg").row() == 3


def test_filters_by_state_and_text(qtbot):
    model = make_model()
    proxy = GalleryFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_state_filter("uncaptioned")
    assert sorted(r.name for r in proxy.source_records()) == ["Img1.png", "bad.jpg"]
    proxy.set_state_filter("edited")
    assert [r.name for r in proxy.source_records()] == ["img2.jpg"]
    proxy.set_state_filter("errors")
    assert [r.name for r in proxy.source_records()] == ["bad.jpg"]
    proxy.set_state_filter("all")
    proxy.set_search_text("  RED ")  # captions, any case
    assert [r.name for r in proxy.source_records()] == ["img10.jpg"]
    proxy.set_search_text("img")  # names
    assert proxy.rowCount() == 3
    # dynamic: a row that starts to match appears
    model.set_snapshot("/p/bad.jpg", CaptionSnapshot("an img of a cat", CaptionState.CAPTIONED))
    assert proxy.rowCount() == 4


def test_set_data_is_an_undoable_edit(qtbot):
    model = make_model()
    stack = QUndoStack()
    model.undo_stack = stack
    index = model.index_for_path("/p/img10.jpg")
    with qtbot.waitSignal(model.dataChanged):
        assert model.setData(index, "a blue bus")
    record = model.record_for_path("/p/img10.jpg")
    assert (record.caption, record.state, record.model) == ("a blue bus", CaptionState.EDITED, "m")
    model.setData(index, "a blue bus, parked")  # a second committed edit is its own step (issue 15)
    assert stack.count() == 2
    stack.undo()
    assert record.caption == "a blue bus"
    stack.undo()
    assert (record.caption, record.state) == ("a red bus", CaptionState.CAPTIONED)
    stack.redo()
    stack.redo()
    assert record.caption == "a blue bus, parked"
    assert model.setData(index, "a blue bus, parked")  # unchanged: no new command
    assert stack.count() == 2
    assert model.counts()[CaptionState.EDITED] == 2


def test_results_never_replace_edits_unless_asked():
    model = make_model()
    new = CaptionSnapshot("machine words", CaptionState.CAPTIONED, "", "m2")
    assert model.apply_result("/p/img2.jpg", new) is None
    assert model.record_for_path("/p/img2.jpg").caption == "my own words"
    before, after = model.apply_result("/p/img2.jpg", new, overwrite_edited=True)
    assert before.caption == "my own words" and after == new
    assert model.apply_result("/p/elsewhere.jpg", new) is None


def test_run_command_undoes_a_whole_run(qtbot):
    model = make_model()
    stack = QUndoStack()
    command = CaptionRunCommand(model)
    for path in ("/p/Img1.png", "/p/bad.jpg", "/p/img10.jpg"):
        change = model.apply_result(path, CaptionSnapshot(f"run {path}", CaptionState.CAPTIONED, "", "m"))
        command.add(path, *change)
    stack.push(command)  # the first redo does nothing: the run already applied its results
    assert model.record_for_path("/p/Img1.png").caption == "run /p/Img1.png"
    stack.undo()
    assert model.record_for_path("/p/Img1.png").state is CaptionState.PENDING
    assert model.record_for_path("/p/bad.jpg").error == "truncated image"
    assert model.record_for_path("/p/img10.jpg").caption == "a red bus"
    stack.redo()
    assert model.record_for_path("/p/bad.jpg").caption == "run /p/bad.jpg"
    assert model.counts()[CaptionState.CAPTIONED] == 3


def test_adopt_order_from_the_scanner(qtbot):
    from visioncap_desktop.workers.folder_scanner import NameOrder

    model = make_model()
    persistent = QPersistentModelIndex(model.index_for_path("/p/img2.jpg"))
    order = NameOrder.of(model.records())
    assert model.adopt_order(order.records, order.rows)
    assert names(model) == ["bad.jpg", "Img1.png", "img2.jpg", "img10.jpg"]
    assert persistent.row() == 2 and model.index_for_path("/p/img10.jpg").row() == 3
    assert not model.adopt_order(order.records[:2], order.rows)  # not the records held
    model.sort_records("state")
    assert not model.adopt_order(order.records, order.rows)  # another order chosen
