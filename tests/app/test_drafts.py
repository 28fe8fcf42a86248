"""Text being typed is on disk within a second, while typing goes on and before Enter, and
survives the app being killed (issue 15, item 6): the drafts file, and drafts offered back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.app.window_steps import focused, open_folder
from visioncap_desktop.records import CaptionState
from visioncap_desktop.store import (
    StoreFormatError,
    drafts_path,
    read_drafts,
    store_path,
    write_drafts,
)

WITHIN_S = 1.0  # the promise: typed text is on disk this long after the keystroke
TEXT = "typed on and on without a pause, " * 12


def test_drafts_file_round_trip_and_errors(tmp_path):
    folder = tmp_path / "photos"
    path = drafts_path(folder, tmp_path / "data")
    assert path.parent == store_path(folder, tmp_path / "data").parent and path.name.endswith(".drafts.json")
    assert read_drafts(path) == {}
    drafts = {"a, b.jpg": "line one\nline two, \"quoted\"", "sub/写真.png": "ünïcödé"}
    write_drafts(path, folder, drafts)
    assert read_drafts(path) == drafts
    write_drafts(path, folder, {})
    assert not path.exists()
    for text in ("{not json", json.dumps({"format": "something else"}),
                 json.dumps({"format": "visioncap-drafts", "version": 1, "drafts": {"a.jpg": 3}})):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(StoreFormatError, match="drafts"):
            read_drafts(path)


def draft_on_disk(folder) -> str:
    """The one draft in the folder's drafts file ("" if none); the file is never half-written."""
    return next(iter(read_drafts(drafts_path(folder)).values()), "")


def test_inline_editor_text_is_on_disk_while_typing_goes_on(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = window.gallery_view
    focused(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = view.delegate.open_editor
    typed_at: list[float] = []
    worst = 0.0
    for char in TEXT[:70]:
        qtbot.keyClicks(editor, char)
        typed_at.append(time.monotonic())
        qtbot.wait(30)
        on_disk = len(draft_on_disk(image_folder))
        assert TEXT.startswith(draft_on_disk(image_folder))
        # everything typed more than WITHIN_S ago is on disk
        due = sum(t <= time.monotonic() - WITHIN_S for t in typed_at)
        assert on_disk >= due
        if on_disk < len(typed_at):
            worst = max(worst, time.monotonic() - typed_at[on_disk])
    assert len(draft_on_disk(image_folder)) > 20  # written during the typing, not only at its end
    record = window.current_record()
    assert record.caption == ""  # nothing committed yet: it is a draft
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: record.caption == TEXT[:70])
    # once the caption store has it, the draft goes
    qtbot.waitUntil(lambda: not drafts_path(image_folder).exists(), timeout=5000)
    assert worst < WITHIN_S


CHILD = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from visioncap_desktop.main_window import MainWindow
from visioncap_desktop.settings import Settings

folder, where, text = sys.argv[1], sys.argv[2], sys.argv[3]
app = QApplication([])
window = MainWindow(Settings.load())
window.show()
typed = [0]

def start(*_):
    if where == "panel":
        editor = window.side_panel.editor
        editor.setFocus()
    else:
        window.gallery_view.edit(window.gallery_view.currentIndex())
        editor = window.gallery_view.delegate.open_editor
    def type_one():
        QTest.keyClicks(editor, text[typed[0]])
        typed[0] += 1
        print(typed[0], time.monotonic(), flush=True)
    timer = QTimer(window, interval=40)
    timer.timeout.connect(type_one)
    timer.start()

window.session.folder_loaded.connect(lambda *_: QTimer.singleShot(0, start))
window.open_folder(folder)
app.exec()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("where", ["panel", "inline"])
def test_typed_text_survives_kill_9_and_is_offered_back(qtbot, make_window, image_folder, where):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(image_folder), where, TEXT], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    typed_at = {}
    try:
        for line in child.stdout:
            count, when = line.split()
            typed_at[int(count)] = float(when)
            if int(count) >= 60:  # 2.4 s of typing without a pause, no Enter
                break
        killed_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        _, errors = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, errors
    draft = draft_on_disk(image_folder)
    due = max((n for n, t in typed_at.items() if t <= killed_at - WITHIN_S), default=0)
    assert TEXT.startswith(draft) and len(draft) >= due > 20

    window = make_window()
    questions = []
    window.prompts.ask = lambda title, text, buttons, default: questions.append(text) or QMessageBox.StandardButton.Yes
    open_folder(qtbot, window, image_folder)
    record = window.gallery_model.records()[0]
    assert len(questions) == 1 and "1 caption(s)" in questions[0]
    assert (record.caption, record.state) == (draft, CaptionState.EDITED)
    assert window.undo_stack.count() == 1  # restoring is one step: undo takes it back
    window.editing.undo()
    assert record.caption == ""


def test_declined_drafts_are_discarded(qtbot, make_window, image_folder):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    record = window.gallery_model.records()[0]
    write_drafts(drafts_path(image_folder), image_folder, {record.name: "left behind", "elsewhere/x.jpg": "kept"})
    window.prompts.ask = lambda *args: QMessageBox.StandardButton.No
    open_folder(qtbot, window, image_folder)
    assert window.gallery_model.records()[0].caption == ""
    # the draft of a file not listed now (a subfolder left out) stays for later
    assert read_drafts(drafts_path(image_folder)) == {"elsewhere/x.jpg": "kept"}
