"""How soon text typed in the app's editors is on disk (the drafts file), while typing goes on.

    QT_QPA_PLATFORM=offscreen python benchmarks/app_drafts.py [--seconds 5] [--interval-ms 40]

Types one character every --interval-ms without a pause, in the side panel and then in the
gallery's inline editor, never pressing Enter, and polls the drafts file every 5 ms. For each
character: the time from its keystroke to the first moment the file on disk holds it. Also the
time each drafts write takes in the GUI thread. Promise: under 1 s. Everything lives in a
temporary folder (VISIONCAP_HOME).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TEXT = "a caption typed without a pause, tag after tag, " * 40


def type_and_watch(app, editor, path: Path, current_name, args) -> tuple[int, list[float]]:
    """Type into `editor` without a pause; returns (characters typed, keystroke-to-disk
    milliseconds of each character seen on disk)."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtTest import QTest

    from visioncap_desktop.store import read_drafts

    typed_at: list[float] = []
    seen_at: dict[int, float] = {}
    last_mtime = [0]
    chars = int(args.seconds * 1000 / args.interval_ms)

    def type_one():
        if len(typed_at) < chars:
            QTest.keyClicks(editor, TEXT[len(typed_at)])
            typed_at.append(time.perf_counter())

    def poll():
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime != last_mtime[0]:
            last_mtime[0] = mtime
            now = time.perf_counter()
            for k in range(len(read_drafts(path).get(current_name(), ""))):
                seen_at.setdefault(k, now)

    typer = QTimer(interval=args.interval_ms)
    typer.timeout.connect(type_one)
    poller = QTimer(interval=5)
    poller.timeout.connect(poll)
    poller.start()
    typer.start()
    deadline = time.perf_counter() + args.seconds + 2
    while time.perf_counter() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    typer.stop()
    poller.stop()
    return len(typed_at), [(seen_at[k] - t) * 1000 for k, t in enumerate(typed_at) if k in seen_at]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--interval-ms", type=int, default=40)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="visioncap-drafts-bench-"))
    os.environ["VISIONCAP_HOME"] = str(work / "home")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from tests.app.images import make_images
    from visioncap_desktop.controllers import edit_controller
    from visioncap_desktop.main_window import MainWindow
    from visioncap_desktop.settings import Settings
    from visioncap_desktop.store import drafts_path

    write_times: list[float] = []
    real_write = edit_controller.write_drafts

    def timed_write(*a, **k):
        start = time.perf_counter()
        real_write(*a, **k)
        write_times.append((time.perf_counter() - start) * 1000)

    edit_controller.write_drafts = timed_write

    app = QApplication.instance() or QApplication([])
    folder = work / "photos"
    make_images(folder, 40, size=(64, 48))
    window = MainWindow(Settings.load())
    window.show()
    loop = QEventLoop()
    window.folder_loaded.connect(lambda *_: loop.quit())
    window.open_folder(folder)
    loop.exec()
    path = drafts_path(folder)

    rows = []
    for where in ("side panel", "inline editor"):
        view = window.gallery_view
        view.setCurrentIndex(view.model().index(len(rows) + 1, 0))
        if where == "side panel":
            editor = window.side_panel.editor
            editor.setFocus()
        else:
            view.edit(view.currentIndex())
            editor = view.delegate.open_editor
        write_times.clear()
        typed, lags = type_and_watch(app, editor, path, lambda: window.current_record().name, args)
        rows.append((where, typed, len(lags), max(lags), statistics.median(lags), len(write_times),
                     max(write_times), statistics.median(write_times)))
        if where == "inline editor":
            view.commit_editor()
    window.shutdown()

    print(f"typing one character every {args.interval_ms} ms for {args.seconds:g} s, no Enter; drafts file polled every 5 ms")
    print("| editor | characters typed | on disk | longest keystroke-to-disk | median | drafts writes | longest write | median write |")
    print("|---|---|---|---|---|---|---|---|")
    for where, typed, seen, worst, median, writes, wmax, wmed in rows:
        print(f"| {where} | {typed} | {seen} | {worst:.0f} ms | {median:.0f} ms | {writes} | {wmax:.1f} ms | {wmed:.1f} ms |")


if __name__ == "__main__":
    main()
