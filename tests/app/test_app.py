"""Entry points: the window before torch, --screenshot, --self-test, the last-resort exception
dialog, and the resource helper."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.app.images import make_images
from visioncap_desktop import app as app_module
from visioncap_desktop import resources, selftest

REPO = Path(__file__).resolve().parents[2]


def run_python(code_or_args: list[str], home: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VISIONCAP_HOME": str(home)}
    return subprocess.run([sys.executable, *code_or_args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_window_appears_before_torch_is_imported(app_home):
    # a saved model choice that resolves to nothing: no first-run dialog, no preloading
    config = app_home / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps({"model_source": "folder", "model_path": ""}), encoding="utf-8")
    code = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(["visioncap"])
def check():
    shown = [w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()]
    print("shown:", shown, "torch:", "torch" in sys.modules, flush=True)
    app.quit()
QTimer.singleShot(0, check)  # runs once the window is up
from visioncap_desktop.launcher import main
sys.exit(main([]))
"""
    result = run_python(["-c", code], app_home)
    assert result.returncode == 0, result.stderr
    assert "shown: ['VisionCap'] torch: False" in result.stdout


def test_screenshot_command(tmp_path, app_home, tiny_bundle):
    folder = tmp_path / "shots"
    make_images(folder, 6, size=(120, 90))
    out = tmp_path / "shot.png"
    result = run_python(["-m", "visioncap_desktop", "--screenshot", str(out), str(folder),
                         "--model", str(tiny_bundle)], app_home)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.size == app_module.SCREENSHOT_SIZE
    assert (app_home / "data" / "logs" / "visioncap.log").is_file()


def test_screenshot_of_a_folder_whose_captions_are_all_in_files(tmp_path, app_home, tiny_bundle):
    """Nothing is left to caption once the .txt files are read: the screenshot is still taken."""
    folder = tmp_path / "tagged"
    for image in make_images(folder, 3, size=(120, 90)):
        image.with_suffix(".txt").write_text(f"{image.stem}, tag", encoding="utf-8")
    out = tmp_path / "shot.png"
    result = run_python(["-m", "visioncap_desktop", "--screenshot", str(out), str(folder),
                         "--model", str(tiny_bundle), "--timeout", "60"], app_home)
    assert result.returncode == 0, result.stderr
    assert out.is_file()


def test_screenshot_fails_clearly_with_a_broken_model(tmp_path, app_home):
    folder = tmp_path / "shots"
    make_images(folder, 2, size=(32, 32))
    result = run_python(["-m", "visioncap_desktop", "--screenshot", str(tmp_path / "x.png"), str(folder),
                         "--model", str(tmp_path / "missing-bundle")], app_home)
    assert result.returncode == 2
    assert "missing-bundle" in result.stderr and not (tmp_path / "x.png").exists()


def test_self_test_passes_with_a_bundle(qapp, tiny_bundle, capsys):  # qapp: no bare QCoreApplication
    assert selftest.run_self_test(str(tiny_bundle)) == 0
    out = capsys.readouterr().out
    assert "Qt image plugins: ok" in out and "model: tiny-test" in out and "self-test passed" in out
    assert f"CSV: {len(resources.sample_images())} rows" in out
    assert "photo metadata: caption embedded in a copy of shapes_2_above.jpg (" in out


def test_self_test_fails_when_a_written_caption_does_not_read_back(qapp, tiny_bundle, capsys, monkeypatch):
    import core.metadata.photo_metadata

    monkeypatch.setattr(core.metadata.photo_metadata, "read_embedded", lambda path: None)
    assert selftest.run_self_test(str(tiny_bundle)) == 7
    err = capsys.readouterr().err
    assert "self-test FAILED at photo metadata" in err and "shapes_2_above.jpg" in err


def test_self_test_with_the_demo_model_checks_its_captions(qapp, capsys, monkeypatch):
    assert selftest.run_self_test(None) == 0
    assert "captions as expected for the demo model: 4 of 4" in capsys.readouterr().out
    # a model that gets every sample wrong fails the self-test, naming the step
    monkeypatch.setattr(selftest, "_expected_demo_captions", lambda: {s.name: "nothing like it"
                                                                      for s in resources.sample_images()})
    assert selftest.run_self_test(None) == 5
    assert "captioning" in capsys.readouterr().err


def test_self_test_names_what_failed(qapp, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(selftest, "demo_bundle_path", lambda: None)
    assert selftest.run_self_test(None) == 2
    assert "demo bundle is not installed" in capsys.readouterr().err
    assert selftest.run_self_test(str(tmp_path / "nope")) == 4
    assert "nope" in capsys.readouterr().err


def test_screenshot_needs_a_folder():
    with pytest.raises(SystemExit):
        app_module.run_app(["--screenshot", "x.png"])


def test_exception_hook_shows_a_dialog_and_logs(qtbot, monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    reporter = app_module.install_exception_hook(tmp_path / "visioncap.log")
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        with caplog.at_level(logging.CRITICAL):
            sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    dialog = reporter.dialog
    assert isinstance(dialog, QMessageBox)
    assert "boom in a slot" in dialog.text() and "visioncap.log" in dialog.text()
    assert "Traceback" in dialog.detailedText()
    assert "boom in a slot" in caplog.text
    dialog.close()
    assert reporter.dialog is None

    def worker():
        raise ValueError("boom in a thread")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    assert "boom in a thread" in reporter.dialog.text()
    reporter.dialog.close()
    assert reporter.dialog is None
    assert QApplication.instance() is not None


def test_resource_paths(monkeypatch, tmp_path):
    samples = resources.sample_images()
    assert 3 <= len(samples) <= 4
    assert all(p.stat().st_size < 30_000 for p in samples)
    assert resources.resource_path("assets", "samples") == samples[0].parent
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resource_path("assets") == tmp_path / "visioncap_desktop" / "assets"


def test_installed_pyside_keeps_references_to_none_and_bools(qapp):
    """PySide6 6.12.0 on Python < 3.12 drops a reference to None/True/False on every void or
    bool call, and CPython aborts once None's count reaches zero (pyproject excludes it)."""
    from PySide6.QtCore import QRect

    rect = QRect()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(10_000):
        rect.setWidth(1)
        rect.isNull()
    after = sys.getrefcount(None), sys.getrefcount(True)
    assert after[0] > before[0] - 1000 and after[1] > before[1] - 1000
