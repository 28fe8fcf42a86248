"""Fixtures for the desktop app's tests: an isolated VISIONCAP_HOME, windows that are shut down
(threads stopped) after each test, folders of generated images, qtbot with generous waits.
Helpers that tests import live in plain modules: window_steps.py (open a folder, run captions),
fakes.py (a fake captioner) and gui_ticks.py (the GUI thread handled events meanwhile)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tests.app.images import make_images, make_problem_folder
from tests.app.window_steps import WAIT_MS


@pytest.fixture
def qtbot(qtbot):
    """pytest-qt's qtbot, whose waits give up after WAIT_MS (window_steps.py) instead of 5 s,
    unless a test names its own timeout."""
    for name in ("waitUntil", "waitSignal", "waitSignals", "waitCallback"):
        setattr(qtbot, name, functools.partial(getattr(type(qtbot), name), qtbot, timeout=WAIT_MS))
    return qtbot


@pytest.fixture(autouse=True)
def app_home(tmp_path, monkeypatch) -> Path:
    """Settings, caption stores, thumbnails and logs go under tmp_path, never the real home."""
    home = tmp_path / "visioncap-home"
    monkeypatch.setenv("VISIONCAP_HOME", str(home))
    return home


@pytest.fixture
def settings(app_home):
    from visioncap_desktop.settings import Settings

    return Settings.load()


@pytest.fixture
def problem_folder(tmp_path) -> dict[str, list[Path]]:
    folder = tmp_path / "photos"
    files = make_problem_folder(folder)
    files["folder"] = folder
    return files


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "images"
    make_images(folder, 24, size=(64, 48))
    return folder


@pytest.fixture
def make_window(qtbot, settings, tiny_bundle):
    """make_window(**kwargs) -> a shown MainWindow on the tiny bundle; shut down afterwards,
    with a check that its worker threads have stopped."""
    from visioncap_desktop.main_window import MainWindow

    windows = []

    def make(model: str | None = str(tiny_bundle), **kwargs):
        window = MainWindow(kwargs.pop("settings", settings), model_override=model, **kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()
        assert not window.run_controller.thread.isRunning()
        assert not window.folder_controller.thread.isRunning()


@pytest.fixture
def theme_reset():
    from visioncap_desktop.theme import apply_theme

    yield
    apply_theme("system")  # the palette is the application's: leave it as the other tests expect
