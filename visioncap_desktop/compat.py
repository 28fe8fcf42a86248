"""A guard against PySide6 builds that drop references to None, True and False on Python < 3.12.

PySide6-Essentials 6.12.0's abi3 wheels return None from void methods (QRect.setWidth,
QPainter.setPen, ...) and True/False from bool methods without taking a reference: built against
the 3.12+ limited API, where these objects are immortal and their counts are never touched. On
Python 3.10 and 3.11 every such call lowers the object's reference count by one; None's starts
at a few thousand, so painting a gallery for a few seconds makes CPython abort with
"Fatal Python error: none_dealloc: deallocating None" (or bool_dealloc).

Until the environment moves to Python >= 3.12 or a fixed PySide6, `guard_singleton_refcounts()`
detects the bug and raises the counts far out of reach, then keeps them there with a timer.
Extra references to these objects are harmless: they are never freed anyway. Nothing is done on
Python 3.12+, on unaffected builds, or where a count cannot be read back to check the layout.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

TOP_UP = 1 << 40  # at a million lost references a second, about two weeks
LOW_WATER = 1 << 39
CHECK_INTERVAL_MS = 60_000
SINGLETONS = (None, True, False)

_installed = False


def pyside_drops_references() -> bool:
    """True if void or bool Qt methods lower None's or True's reference count (the bug above)."""
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QRect

    rect = QRect()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(8):
        rect.setWidth(0)
        rect.isNull()
    return sys.getrefcount(None) < none_before or sys.getrefcount(True) < true_before


def _refcount_cell(obj: object) -> ctypes.c_ssize_t | None:
    """`obj`'s ob_refcnt, if it sits where non-debug CPython keeps it (the first field)."""
    if hasattr(sys, "gettotalrefcount"):  # a debug build: another object layout
        return None
    cell = ctypes.c_ssize_t.from_address(id(obj))
    # getrefcount counts its own argument: the cell must read exactly one less
    return cell if cell.value == sys.getrefcount(obj) - 1 else None


def _top_up() -> None:
    for obj in SINGLETONS:
        cell = _refcount_cell(obj)
        if cell is not None and cell.value < LOW_WATER:
            cell.value += TOP_UP


def guard_singleton_refcounts() -> bool:
    """Install the guard if this Python/PySide6 pair needs it (idempotent). Call in the GUI
    thread once a QCoreApplication exists (the periodic top-up is a QTimer). True if active."""
    global _installed
    if _installed:
        return True
    if not pyside_drops_references():
        return False
    if any(_refcount_cell(obj) is None for obj in SINGLETONS):
        log.warning("PySide6 drops references to None/True/False on this Python and the guard cannot "
                    "be applied: the app may abort. Use Python 3.12 or newer.")
        return False
    from PySide6.QtCore import QCoreApplication, QTimer

    _top_up()
    app = QCoreApplication.instance()
    if app is not None:
        timer = QTimer(app)
        timer.timeout.connect(_top_up)
        timer.start(CHECK_INTERVAL_MS)
    _installed = True
    log.info("PySide6 drops references to None/True/False on Python %d.%d: guard installed",
             *sys.version_info[:2])
    return True
