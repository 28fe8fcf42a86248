"""`visioncap --screenshot out.png FOLDER`: open FOLDER, caption everything, wait for the run and
the visible thumbnails, save the window as PNG, quit. Works on the offscreen platform too.

Nothing waits for a person: app.py picks the model before the window exists (--model or the demo
model), and a question about the model fails the screenshot at once instead of opening a dialog.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

THUMBNAIL_WAIT_S = 15.0


class ScreenshotDriver(QObject):
    def __init__(self, window, folder: str, out: Path, timeout_s: float):
        super().__init__(window)
        self.window = window
        self.folder = folder
        self.out = out
        self.exit_code = 1
        self._deadline = QTimer(self, singleShot=True, interval=int(timeout_s * 1000))
        self._deadline.timeout.connect(lambda: self._fail(f"timed out after {timeout_s:.0f} s"))
        self._poll = QTimer(self, interval=100)
        self._poll.timeout.connect(self._grab_when_settled)
        self._settle_until = 0.0
        self._finished = False
        window.model_controller.choose_model = self._refuse_model_dialog

    def _refuse_model_dialog(self, first_run: bool = False) -> bool:
        self._fail("no usable model: pass --model BUNDLE")
        return False

    def start(self) -> None:
        self._deadline.start()
        self.window.folder_loaded.connect(self._on_folder_loaded)
        self.window.run_completed.connect(self._on_run_completed)
        if not self.window.open_folder(self.folder):
            self._fail(self.window.messages[-1][2] if self.window.messages else f"cannot open {self.folder}")

    def _on_folder_loaded(self, folder: str, count: int) -> None:
        if count == 0:
            self._fail(f"no images in {folder}")
        elif self.window.folder_controller.reading:  # captions in the files first: they may leave nothing to do
            self.window.folder_controller.reading_ended.connect(self._caption_all, Qt.ConnectionType.SingleShotConnection)
        else:
            self._caption_all()

    def _caption_all(self) -> None:
        if not self.window.caption("all") and not self._finished:
            self._wait_for_thumbnails()  # everything was already captioned, edited or in the files

    def _on_run_completed(self, done: int, total: int, outcome: str) -> None:
        if outcome != "completed":
            reasons = "; ".join(text for level, _, text in self.window.messages if level == "warning")
            self._fail(f"the captioning run {outcome} after {done} of {total} images. {reasons}")
            return
        self._wait_for_thumbnails()

    def _wait_for_thumbnails(self) -> None:
        model = self.window.proxy_model
        if model.rowCount():
            self.window.gallery_view.setCurrentIndex(model.index(0, 0))
        self._settle_until = time.monotonic() + THUMBNAIL_WAIT_S
        self._poll.start()

    def _grab_when_settled(self) -> None:
        idle = self.window.thumbnails.is_idle() and self.window.previews.is_idle()
        if not idle and time.monotonic() < self._settle_until:
            return
        self._poll.stop()
        QApplication.processEvents()  # paint the last thumbnails
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.window.grab().save(str(self.out), "PNG"):
            sys.stdout.write(f"screenshot saved to {self.out}\n")
            self.exit_code = 0
        else:
            sys.stderr.write(f"visioncap: could not write {self.out}\n")
            self.exit_code = 3
        self._quit()

    def _fail(self, reason: str) -> None:
        if self._finished:
            return
        sys.stderr.write(f"visioncap --screenshot failed: {reason}\n")
        self.exit_code = 2
        self._quit()

    def _quit(self) -> None:
        self._finished = True
        self._deadline.stop()
        self._poll.stop()
        self.window.close()
        QApplication.instance().exit(self.exit_code)
