"""Progress of a captioning run for the status bar: count, images per second, time left, Cancel."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QStyle, QToolButton, QWidget


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate_text(done: int, total: int, elapsed: float) -> str:
    """'12.5 images/s, 0:42 left' once there is something to measure."""
    if done <= 0 or elapsed <= 0:
        return "starting..."
    rate = done / elapsed
    left = (total - done) / rate if rate > 0 else 0.0
    return f"{rate:.1f} images/s, {format_duration(left)} left"


class RunProgress(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._started = 0.0
        self.bar = QProgressBar(self)
        self.bar.setFormat("%v / %m")
        self.bar.setMinimumWidth(180)
        self.rate_label = QLabel(self)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserStop))
        self.cancel_button.setToolTip("Cancel the run (Esc); captions made so far are kept")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.rate_label)
        layout.addWidget(self.cancel_button)
        self.hide()

    def start(self, total: int) -> None:
        self._started = time.monotonic()
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(0)
        self.rate_label.setText("loading the model...")
        self.cancel_button.setEnabled(True)
        self.show()

    def set_progress(self, done: int, total: int) -> None:
        if done == 0:  # the model is loaded: measure speed from here
            self._started = time.monotonic()
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.rate_label.setText(rate_text(done, total, time.monotonic() - self._started))

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.rate_label.setText("cancelling after this batch...")

    def finish(self) -> None:
        self.hide()
