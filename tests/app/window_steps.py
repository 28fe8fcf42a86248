"""Steps the window tests take and wait for: open a folder, run captions, focus a widget."""

from __future__ import annotations

# How long a test waits for something to happen before it fails: generous, since a loaded
# machine is slow and a wait that is met returns at once. Speed is measured in benchmarks/.
WAIT_MS = 60_000


def open_folder(qtbot, window, folder, **kwargs) -> int:
    """Open `folder` and wait for the scan; returns the number of images."""
    with qtbot.waitSignal(window.folder_loaded, timeout=WAIT_MS) as blocker:
        assert window.open_folder(folder, **kwargs)
    return blocker.args[1]


def run_captions(qtbot, window, scope: str = "all", timeout: int = WAIT_MS) -> tuple[int, int, str]:
    """Start a run and wait for it; returns (done, total, outcome)."""
    with qtbot.waitSignal(window.run_completed, timeout=timeout) as blocker:
        assert window.caption(scope)
    return tuple(blocker.args)


def focused(qtbot, window, widget):
    """Give `widget` the focus. Activation is asynchronous (offscreen too): a popup that just
    closed, such as the completer's, can take the window's activation after activateWindow(),
    so ask again until the focus is there."""

    def has_focus() -> bool:
        if not widget.hasFocus():
            window.activateWindow()
            widget.setFocus()
        return widget.hasFocus()

    qtbot.waitUntil(has_focus)
    return widget
