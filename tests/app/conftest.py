"""Fixtures for the desktop app's tests: an isolated VISIONCAP_HOME, windows that are shut down
(threads stopped) after each test, folders of generated images, and fake captioners."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.app.images import make_images, make_problem_folder


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
        assert not window.run_control.thread.isRunning()
        assert not window.session.thread.isRunning()


def open_folder(qtbot, window, folder, **kwargs) -> int:
    """Open `folder` and wait for the scan; returns the number of images."""
    with qtbot.waitSignal(window.folder_loaded, timeout=15000) as blocker:
        assert window.open_folder(folder, **kwargs)
    return blocker.args[1]


def run_captions(qtbot, window, scope: str = "all", timeout: int = 30000) -> tuple[int, int, str]:
    """Start a run and wait for it; returns (done, total, outcome)."""
    with qtbot.waitSignal(window.run_completed, timeout=timeout) as blocker:
        assert window.caption(scope)
    return tuple(blocker.args)


class FakeResult:
    def __init__(self, source, caption=None, error=None):
        self.source, self.caption, self.error = source, caption, error


class FakeCaptioner:
    """Stands in for core.captioner.Captioner where real weights are not the point.

    `oom_above`: on devices starting with `oom_on`, batches larger than this raise
    torch.OutOfMemoryError (0: always).
    `gate`: if set, every batch after the first waits for it (to cancel mid-run reliably).
    """

    def __init__(self, device: str = "cpu", oom_above: int | None = None, gate: threading.Event | None = None,
                 oom_on: str = "cuda"):
        self.name = "fake-captioner"
        self.device = device
        self.oom_above = oom_above
        self.oom_on = oom_on
        self.gate = gate
        self.batch_sizes: list[tuple[str, int]] = []
        self.moves: list[str] = []

    def to(self, device):
        self.moves.append(str(device))
        self.device = str(device)
        return self

    def caption_batches(self, images, settings, batch_size=8):
        import torch

        images = [str(i) for i in images]
        for start in range(0, len(images), batch_size):
            self.batch_sizes.append((self.device, batch_size))
            if self.device.startswith(self.oom_on) and self.oom_above is not None and batch_size > self.oom_above:
                raise torch.OutOfMemoryError("CUDA out of memory (fake)")
            if start and self.gate is not None:
                assert self.gate.wait(10), "test never released the gate"
            yield [FakeResult(p, caption=f"fake caption of {Path(p).name}") for p in images[start:start + batch_size]]
