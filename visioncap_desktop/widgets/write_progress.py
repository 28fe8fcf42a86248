"""Progress of captions being written out to files: the count, the time left, and Cancel (or
Esc), which stops after the current image (what is written stays written, each file whole).

Not modal: the window stays usable, and its own Esc (Caption > Cancel) stops the writing too.
The time left comes from `clock` (time.monotonic unless a test passes its own), measured from
the first image done, so a slow start does not skew it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from visioncap_desktop.widgets.run_progress import format_duration
from visioncap_desktop.wording import plural


def time_left(done: int, total: int, elapsed: float) -> str:
    """"about 0:42 left" once `done` images took `elapsed` seconds; "" before there is a rate."""
    if done <= 0 or elapsed <= 0 or done >= total:
        return ""
    left = (total - done) * elapsed / done
    return "less than a second left" if left < 0.5 else f"about {format_duration(left)} left"


class WriteProgressDialog(QDialog):
    cancel_requested = Signal()

    def __init__(self, title: str, total: int, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self._clock = clock
        self._started: float | None = None
        self._first_done = 0
        self.total = total
        self.label = QLabel(f"{title}: 0 of {plural(total, 'image')}", self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, max(1, total))
        self.eta = QLabel("starting...", self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setToolTip("Stop after the current image; what is written stays written")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.label, self.bar, self.eta, buttons):
            layout.addWidget(widget)
        self._title = title

    def set_progress(self, done: int, total: int) -> None:
        now = self._clock()
        if self._started is None:  # the rate is measured from the first image done
            self._started, self._first_done = now, done
        self.total = total
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.label.setText(f"{self._title}: {done:,} of {plural(total, 'image')}")
        left = time_left(done - self._first_done, total - self._first_done, now - self._started)
        self.eta.setText(left or ("almost done" if done >= total else "measuring..."))

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.eta.setText("stopping after the current image...")

    def reject(self) -> None:
        """Cancel or Esc: ask to stop; the dialog closes when the writing has stopped."""
        if self.cancel_button.isEnabled():
            self.cancel_requested.emit()
