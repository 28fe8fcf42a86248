"""The Problems panel and what the app says (issue 24): every per-file conflict, failure, refusal
and skip with its file and reason and a jump to the photo; a disagreement reported once per
change, not on every open; the log one menu away; messages that count right and say where
captions came from; unreadable stores and drafts kept aside while the folder opens."""

from __future__ import annotations

import json
import os

from PySide6.QtCore import Qt, QUrl

from tests.app.window_steps import focused, open_folder
from tests.core.photos import make_photo
from visioncap_desktop import paths
from visioncap_desktop.problems import Problem, write_problems
from visioncap_desktop.reading import reading_summary
from visioncap_desktop.records import CaptionSnapshot, CaptionState
from visioncap_desktop.store import CaptionStore, drafts_path
from visioncap_desktop.wording import plural, verb


def read_folder(qtbot, window, folder) -> list[str]:
    """Open `folder` and wait until its captions in files are read; the status lines said."""
    said: list[str] = []
    window.folder_controller.status.connect(lambda text, ms: said.append(text))
    with qtbot.waitSignal(window.folder_controller.reading_ended):
        assert window.open_folder(folder)
    return said


def by_name(window):
    return {r.name: r for r in window.gallery_model.records()}


def conflicts(window) -> list[Problem]:
    return [p for p in window.problems.model.problems() if p.kind == "conflict"]


def test_plural_and_verb():
    assert plural(1, "image") == "1 image" and plural(0, "image") == "0 images" and plural(2_000, "file") == "2,000 files"
    assert plural(3, "match") == "3 matches" and plural(2, "metadata.jsonl") == "2 metadata.jsonl files"
    assert verb(1, "has") == "has" and verb(2, "has") == "have" and verb(2, "disagrees") == "disagree"
    assert verb(2, "will") == "will" and verb(1, "holds") == "holds" and verb(2, "was") == "were"


def test_reading_summary_says_where_the_captions_came_from():
    txt = CaptionSnapshot("x", CaptionState.EDITED, source="txt")
    assert reading_summary({"a": txt, "b": txt}, 0, 0) == "Read 2 captions from .txt files"
    assert reading_summary({"a": txt}, 1, 2) == ("Read 1 caption from .txt files; 1 file disagrees with "
                                                 "VisionCap's caption; 2 files could not be read "
                                                 "(see Problems)")
    own = CaptionSnapshot("x", CaptionState.CAPTIONED)
    assert reading_summary({"a": own}, 0, 0) == "Read 1 caption from files VisionCap wrote earlier"
    assert reading_summary({}, 0, 0) == ""


def test_a_kept_disagreement_is_reported_once_per_change(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    txt = folder / "a.txt"
    txt.write_text("from the file", encoding="utf-8")
    window = make_window()
    said = read_folder(qtbot, window, folder)
    assert "Read 1 caption from .txt files" in said
    record = by_name(window)["a.jpg"]
    window.edit_controller.commit_caption(record.path, "mine, newer")
    assert window.folder_controller.save_now()

    def change_file(text: str) -> None:  # another program, but older than VisionCap's caption
        txt.write_text(text, encoding="utf-8")
        os.utime(txt, ns=(10**18, 10**18))  # 2001: before the caption was edited

    change_file("changed elsewhere")
    read_folder(qtbot, window, folder)
    [conflict] = conflicts(window)
    assert conflict.reason == "kept VisionCap's caption, newer than the different one in a.txt"
    assert (conflict.name, conflict.path, conflict.file) == ("a.jpg", record.path.replace(
        str(folder), str(folder.resolve())), str(txt.resolve()))
    assert by_name(window)["a.jpg"].caption == "mine, newer"
    assert window.folder_controller.save_now()
    for _ in range(2):  # opened again and again: nothing new, nothing said
        said = read_folder(qtbot, window, folder)
        assert conflicts(window) == [] and not any("disagrees with" in line for line in said), said
    change_file("changed elsewhere, again")
    said = read_folder(qtbot, window, folder)
    assert len(conflicts(window)) == 1 and any("1 file disagrees" in line and "(see Problems)" in line
                                               for line in said)


def test_activating_a_problem_selects_its_photo_even_when_filtered_out(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    target = window.gallery_model.records()[5]
    window.problems.add([Problem("captioning", "failed", target.name, "cannot decode", target.path)])
    window.proxy_model.set_search_text("img_0001")  # hides the image
    assert not window.proxy_model.mapFromSource(window.gallery_model.index_for_path(target.path)).isValid()
    window.problems_button.click()
    assert window.problems_dock.isVisible()
    table = focused(qtbot, window, window.problems.table)
    table.setCurrentIndex(window.problems.proxy.index(0, 0))
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert window.current_record() is target and window.selected_records() == [target]
    assert window.search_edit.text() == "" and window.proxy_model.rowCount() == 24
    assert window.problems.proxy.index(0, 2).data() == "cannot decode"
    assert window.problems.proxy.index(0, 0).data() == "Captioning: Failed"
    window.problems.stage.setCurrentIndex(window.problems.stage.findData("writing"))
    assert window.problems.proxy.rowCount() == 0
    window.open_folder(image_folder)  # another folder's (or a new read's) problems start empty
    assert window.problems.model.rowCount() == 0 and not window.problems_button.isVisibleTo(window)


def test_the_newest_problems_are_on_top_and_the_oldest_go_past_the_limit(qapp, monkeypatch):
    from visioncap_desktop.widgets import problems_panel

    monkeypatch.setattr(problems_panel, "MAX_ROWS", 3)
    model = problems_panel.ProblemModel()
    model.add([Problem("importing", "skipped", "", f"row {i}") for i in range(2)])
    model.add([Problem("reading", "conflict", "a.jpg", "changed outside")])
    assert [p.reason for p in model.problems()] == ["changed outside", "row 0", "row 1"]
    model.add([Problem("writing", "failed", "b.jpg", "read-only")])
    assert [p.reason for p in model.problems()] == ["read-only", "changed outside", "row 0"]


def test_write_outcomes_become_problems(tmp_path):
    from core.metadata.caption_writes import (
        KEPT,
        NOT_WRITTEN,
        SIDECAR_INSTEAD,
        UNCHANGED,
        WRITTEN,
        WriteReport,
    )

    image = tmp_path / "p.jpg"
    report = WriteReport()
    report.add(image, "xmp", tmp_path / "p.jpg.xmp", WRITTEN)
    report.add(image, "txt", tmp_path / "p.txt", UNCHANGED)
    report.add(image, "txt", tmp_path / "p.txt", KEPT, "already holds a different caption ('x'); kept")
    report.add(image, "embed", image, NOT_WRITTEN, "read-only")
    report.add(image, "embed", image, SIDECAR_INSTEAD, "HEIC cannot hold one")
    problems = write_problems(report, lambda path: "sub/p.jpg")
    assert [(p.kind, p.reason) for p in problems] == [
        ("refused", ".txt file not replaced: already holds a different caption ('x'); kept"),
        ("failed", "embedded caption not written: read-only"),
        ("skipped", "not embedded, an XMP sidecar instead: HEIC cannot hold one")]
    assert problems[0].where == "sub/p.jpg (p.txt)" and problems[1].where == "sub/p.jpg"


def test_help_opens_the_log_folder(qtbot, make_window):
    window = make_window()
    opened: list[QUrl] = []
    window.action_controller.open_url = lambda url: opened.append(url) or True
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.action_controller.log_action in help_menu.actions()
    window.action_controller.log_action.trigger()
    assert [u.toLocalFile() for u in opened] == [str(paths.log_file().parent)]
    assert paths.log_file().parent.is_dir()


def test_a_store_and_drafts_not_in_utf8_are_kept_aside_and_the_folder_opens(qtbot, make_window, image_folder):
    store = CaptionStore(image_folder)
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(json.dumps({"format": "visioncap-captions", "version": 1, "images": {
        "img_0001.jpg": {"caption": "café", "state": "edited"}}}).encode("utf-8").replace(b"\\u00e9", b"\xe9"))
    drafts = drafts_path(image_folder)
    drafts.write_bytes(b'{"format": "visioncap-drafts", "version": 1, "drafts": {"img_0001.jpg": "d\xe9j\xe0"}}')
    window = make_window()
    assert open_folder(qtbot, window, image_folder) == 24  # opens, no "Something went wrong"
    texts = [text for level, title, text in window.messages if level == "warning"]
    assert any("saved captions for this folder could not be read (not UTF-8 text" in t for t in texts)
    assert any("typed but not saved last time could not be read" in t and "kept as" in t for t in texts)
    kept = sorted(p.name for p in store.path.parent.glob("*.corrupt-*.json"))
    assert len(kept) == 2 and any(".drafts.corrupt-" in name for name in kept)
    assert not drafts.exists() and not store.path.exists()
    [problem] = window.problems.model.problems()
    assert problem.stage == "reading" and problem.file == str(store.path)


def test_rows_of_an_import_that_name_no_photo_are_problems(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    table = tmp_path / "metadata.jsonl"
    rows = [{"file_name": "a.jpg", "text": "here"}, {"file_name": "gone.jpg", "text": "not here"}]
    table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    window = make_window()
    read_folder(qtbot, window, folder)
    with qtbot.waitSignal(window.folder_controller.reading_ended):
        assert window.folder_controller.import_table(table)
    [problem] = window.problems.model.problems()
    assert (problem.stage, problem.kind, problem.file) == ("importing", "skipped", str(table))
    assert "“gone.jpg”: no image of that name" in problem.reason
    assert by_name(window)["a.jpg"].caption == "here"
