"""Proof that the GUI thread keeps handling events while a worker is busy, without timing
anything: the worker, in the middle of its work, waits for the GUI thread's timer to tick. If
the GUI thread were blocked (the work run on it, or the GUI waiting for the worker), no tick
would come and the wait would end unmet. How long the GUI thread stalls is measured by
benchmarks/app_gui_stall.py, never asserted."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QTimer

WAIT_S = 60.0  # how long a worker waits for the ticks: generous, only a stuck GUI thread runs out


class GuiTicks:
    """A QTimer in the GUI thread (the one that makes this object) counting its ticks. At each
    tick it also stores `sample()`, read in the GUI thread, as `sampled`, for a worker to wait on
    (workers never read Qt models themselves)."""

    def __init__(self, interval_ms: int = 10, sample: Callable[[], object] = lambda: None):
        self.gui_thread = threading.get_ident()
        self.count = 0
        self.sampled: object = None
        self._sample = sample
        self.waits: list[tuple[bool, bool]] = []  # per wait_in_worker: (off the GUI thread, met)
        self._ticked = threading.Condition()
        self._timer = QTimer(interval=interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        sampled = self._sample()
        with self._ticked:
            self.count += 1
            self.sampled = sampled
            self._ticked.notify_all()

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def wait_in_worker(self, ticks: int = 3, also: Callable[[], bool] = lambda: True) -> None:
        """Called by a worker thread while busy: wait until the GUI thread has ticked `ticks`
        more times and `also()` holds. Records whether the caller was off the GUI thread and
        whether the wait was met (the test asserts `waits`; an assert here would only end the
        worker's thread)."""
        off_gui = threading.get_ident() != self.gui_thread
        met = False
        if off_gui:  # on the GUI thread the ticks could never come
            with self._ticked:
                target = self.count + ticks
                met = self._ticked.wait_for(lambda: self.count >= target and also(), WAIT_S)
        self.waits.append((off_gui, met))
