"""Work on many records in the GUI thread without stalling it: a generator run in time slices.

A SlicedJob advances its generator (each `next` is a small step, a few hundred records) until
SLICE_MS have passed, then returns to the event loop and continues at the next turn, so the
window repaints and reacts between slices. The generator's `return` value is the result.
Used where the work must touch the item model (batch edits) or where a thread would buy
nothing under the GIL (counting tags, counting matches).
"""

from __future__ import annotations

import time
from collections.abc import Generator

from PySide6.QtCore import QObject, QTimer, Signal

SLICE_MS = 15  # well under the app's 100 ms stall budget: room for the repaint after it, and for a busy machine


class SlicedJob(QObject):
    finished = Signal(object)  # the generator's return value

    def __init__(self, steps: Generator[object, None, object], parent: QObject | None = None):
        super().__init__(parent)
        self._steps = steps
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._run_slice)
        self.running = False

    def start(self) -> None:
        self.running = True
        self._timer.start()

    def cancel(self) -> None:
        """Stop where it is; `finished` is not emitted."""
        self._timer.stop()
        if self.running:
            self.running = False
            self._steps.close()

    def finish_now(self) -> None:
        """Run the rest at once (a folder closing, the app quitting)."""
        if self.running:
            self._timer.stop()
            self._run_slice(deadline=float("inf"))

    def _run_slice(self, deadline: float | None = None) -> None:
        deadline = time.perf_counter() + SLICE_MS / 1000 if deadline is None else deadline
        try:
            while time.perf_counter() < deadline:
                next(self._steps)
        except StopIteration as stop:
            self.running = False
            self.finished.emit(stop.value)
            return
        self._timer.start()
