"""The checks for a bare system: missing system libraries (system_libraries, before Qt is
loaded), the fallback font, a self-test that names every failure, --screenshot that never waits
for a dialog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT
from visioncap_desktop import app as app_module
from visioncap_desktop import resources, selftest, system_libraries

EVERYTHING = {"libGL.so.1", "libEGL.so.1", "libxcb.so.1", "libwayland-client.so.0",
              "libwayland-cursor.so.0", "libwayland-egl.so.1"}


def loader_without(*missing: str):
    return lambda soname: soname in EVERYTHING - set(missing)


@pytest.fixture
def fake_loader(monkeypatch):
    """Make the libraries named afterwards look missing to every check."""
    state = {"missing": set()}
    monkeypatch.setattr(system_libraries, "can_load", lambda soname: soname not in state["missing"])
    monkeypatch.setattr(sys, "platform", "linux")

    def set_missing(*names: str) -> None:
        state["missing"] = set(names)

    return set_missing


# --- which Qt platform, which libraries -------------------------------------------------------


@pytest.mark.parametrize(("env", "qt_args", "expected"), [
    ({}, [], ["xcb"]),
    ({"DISPLAY": ":0"}, [], ["xcb"]),
    ({"XDG_SESSION_TYPE": "wayland"}, [], ["wayland", "xcb"]),
    ({"WAYLAND_DISPLAY": "wayland-0"}, [], ["wayland", "xcb"]),
    ({"QT_QPA_PLATFORM": "offscreen"}, [], ["offscreen"]),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, [], ["wayland", "xcb"]),
    ({"QT_QPA_PLATFORM": "xcb:nomitshm"}, [], ["xcb"]),
    ({"QT_QPA_PLATFORM": "xcb"}, ["-platform", "offscreen"], ["offscreen"]),
])
def test_qt_platforms_follow_qt_rules(env, qt_args, expected):
    assert system_libraries.qt_platforms(env, qt_args) == expected


def names(libraries) -> list[str]:
    return [lib.soname for lib in libraries]


def test_missing_gl_libraries_are_named_for_every_platform():
    loadable = loader_without("libGL.so.1", "libEGL.so.1")
    for platforms in (["offscreen"], ["xcb"], ["wayland", "xcb"]):
        assert names(system_libraries.missing_libraries(platforms, loadable, "linux")) == ["libGL.so.1", "libEGL.so.1"]


def test_platform_libraries_count_only_when_no_platform_can_start():
    no_xcb = loader_without("libxcb.so.1")
    assert names(system_libraries.missing_libraries(["xcb"], no_xcb, "linux")) == ["libxcb.so.1"]
    assert system_libraries.missing_libraries(["offscreen"], no_xcb, "linux") == []
    assert system_libraries.missing_libraries(["wayland", "xcb"], no_xcb, "linux") == []  # Wayland starts
    no_wayland = loader_without("libwayland-client.so.0")
    assert system_libraries.missing_libraries(["wayland", "xcb"], no_wayland, "linux") == []  # XWayland starts
    neither = loader_without("libwayland-egl.so.1", "libxcb.so.1")
    assert names(system_libraries.missing_libraries(["wayland", "xcb"], neither, "linux")) == [
        "libwayland-egl.so.1", "libxcb.so.1"]
    assert system_libraries.missing_libraries(["xcb"], loader_without(), "linux") == []


@pytest.mark.parametrize("system", ["win32", "darwin"])
def test_no_check_outside_linux(system):
    assert system_libraries.missing_libraries(["xcb"], lambda soname: False, system) == []


def test_each_missing_library_gets_one_line_with_three_install_commands():
    missing = system_libraries.missing_libraries(["xcb"], loader_without("libGL.so.1", "libxcb.so.1"), "linux")
    lines = system_libraries.report_missing(missing, ["xcb"]).splitlines()
    assert lines[0] == "VisionCap cannot start: 2 system libraries are missing"
    assert lines[1] == ("missing libGL.so.1: install it with `sudo apt install libgl1` (Debian, Ubuntu), "
                        "`sudo dnf install libglvnd-glx` (Fedora, RHEL) or `sudo zypper install libGL1` (openSUSE)")
    assert lines[2].startswith("missing libxcb.so.1: install it with `sudo apt install libxcb1`")
    assert "`sudo dnf install libxcb`" in lines[2] and "`sudo zypper install libxcb1`" in lines[2]
    assert len(lines) == 3
    assert system_libraries.report_missing([], ["xcb"]) == "system libraries: all found (Qt platform xcb)"


def test_can_load_tells_present_from_absent_libraries():
    if sys.platform.startswith("linux"):
        assert system_libraries.can_load("libc.so.6")
    assert not system_libraries.can_load("libvisioncap-no-such-library.so.7")


# --- the app's entry point --------------------------------------------------------------------


def test_check_system_option(fake_loader, capsys, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    fake_loader()
    assert app_module.run_app(["--check-system"]) == 0
    assert "all found (Qt platform xcb)" in capsys.readouterr().out
    fake_loader("libEGL.so.1", "libxcb.so.1")
    assert app_module.run_app(["--check-system"]) == system_libraries.MISSING_LIBRARIES_EXIT
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err[1:]] == ["missing libEGL.so.1", "missing libxcb.so.1"]


def test_the_window_is_not_attempted_without_its_libraries(fake_loader, capsys, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(app_module, "_run_gui", lambda *a: pytest.fail("Qt must not be loaded"))
    fake_loader("libxcb.so.1")
    assert app_module.run_app([]) == system_libraries.MISSING_LIBRARIES_EXIT
    assert "missing libxcb.so.1" in capsys.readouterr().err


# --- the self-test ----------------------------------------------------------------------------


def test_self_test_names_missing_libraries_instead_of_a_traceback(fake_loader, capsys):
    fake_loader("libGL.so.1")
    assert selftest.run_self_test(None) == system_libraries.MISSING_LIBRARIES_EXIT
    err = capsys.readouterr().err
    assert err.startswith("self-test FAILED at system libraries: 1 missing")
    assert "sudo apt install libgl1" in err and "Traceback" not in err


def test_any_error_in_a_step_becomes_its_failed_line(qapp, monkeypatch, capsys):
    def no_gl(samples):
        raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(selftest, "_check_qt_images", no_gl)
    assert selftest.run_self_test(None) == 3
    err = capsys.readouterr().err
    assert err == ("self-test FAILED at Qt image plugins: ImportError: libGL.so.1: cannot open shared object "
                   "file: No such file or directory\n")


def test_check_expected_needs_every_caption():
    expected = {"a.png": "a red circle", "b.png": "a blue square"}
    selftest.check_expected(dict(expected), expected)
    with pytest.raises(selftest.SelfTestError, match=r"1 of 2 demo captions differ \(b\.png: got 'a red square'") as info:
        selftest.check_expected({"a.png": "a red circle", "b.png": "a red square"}, expected)
    assert info.value.code == 5
    with pytest.raises(selftest.SelfTestError, match="2 of 2"):
        selftest.check_expected({}, expected)


def test_self_test_fails_when_one_demo_caption_of_four_differs(qapp, monkeypatch, capsys):
    """Issue #15 item 10: it used to pass with 1 of 4 right."""
    real = selftest._expected_demo_captions()
    assert len(real) == 4
    name = sorted(real)[0]
    monkeypatch.setattr(selftest, "_expected_demo_captions", lambda: {**real, name: "something else"})
    assert selftest.run_self_test(None) == 5
    captured = capsys.readouterr()
    assert "captions as expected for the demo model: 3 of 4" in captured.out
    assert f"self-test FAILED at captioning: 1 of 4 demo captions differ ({name}: got" in captured.err


# --- the fallback font ------------------------------------------------------------------------


def test_fallback_font_decision():
    assert app_module.needs_fallback_font([])
    # what Qt lists on a system without fonts (seen in a minimal Debian root)
    assert app_module.needs_fallback_font(["Monospace", "Sans Serif", "Serif"])
    assert not app_module.needs_fallback_font(["DejaVu Sans", "Monospace", "Sans Serif", "Serif"])


def test_fallback_font_on_a_system_without_fonts(tmp_path):
    """fontconfig with a configuration that names no font folder: Qt then lists only generic
    aliases and draws boxes; the app's own font must take over."""
    config = tmp_path / "fonts.conf"
    config.write_text('<?xml version="1.0"?><fontconfig></fontconfig>')
    code = """
from PySide6.QtGui import QFontDatabase, QFontInfo
from PySide6.QtWidgets import QApplication
from visioncap_desktop.app import install_fallback_font
app = QApplication([])
print("before:", sorted(QFontDatabase.families()), repr(QFontInfo(app.font()).family()))
print("fallback:", install_fallback_font(app), QFontInfo(app.font()).family())
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FONTCONFIG_FILE": str(config), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "before: ['Monospace', 'Sans Serif', 'Serif'] ''" in result.stdout
    assert "fallback: DejaVu Sans DejaVu Sans" in result.stdout


def test_fallback_font_is_bundled_with_its_licence():
    font = resources.resource_path(*app_module.FALLBACK_FONT)
    assert font.read_bytes()[:4] == b"\x00\x01\x00\x00"  # a TrueType file
    licence = (font.parent / "LICENSE-DejaVu.txt").read_text(encoding="utf-8")
    assert "Bitstream" in licence and "DejaVu changes are in public domain" in licence


def test_fallback_font_is_registered_only_without_system_fonts(qapp):
    before = qapp.font()
    try:
        assert app_module.install_fallback_font(qapp, families=["Some Font"]) is None
        assert qapp.font() == before
        assert app_module.install_fallback_font(qapp, families=[]) == "DejaVu Sans"
        assert qapp.font().family() == "DejaVu Sans"
    finally:
        qapp.setFont(before)


# --- --screenshot never asks ------------------------------------------------------------------


def test_screenshot_model_is_decided_before_the_window(monkeypatch, capsys, tmp_path):
    assert app_module.screenshot_model("/some/bundle") == "/some/bundle"
    assert app_module.screenshot_model(None) == "demo"  # the tree ships the demo bundle
    monkeypatch.setattr(app_module, "demo_bundle_path", lambda: None)
    assert app_module.screenshot_model(None) is None
    monkeypatch.setattr(app_module, "_run_gui", lambda *a: pytest.fail("no window without a model"))
    assert app_module.run_app(["--screenshot", str(tmp_path / "x.png"), str(tmp_path)]) == 2
    assert "no model: pass --model BUNDLE" in capsys.readouterr().err


def test_screenshot_without_model_uses_the_demo_model_with_a_fresh_home(tmp_path):
    from tests.app.images import make_images

    folder = tmp_path / "shots"
    make_images(folder, 2, size=(64, 48))
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VISIONCAP_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "visioncap_desktop", "--screenshot", str(out), str(folder),
                             "--timeout", "240"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert Path(out).is_file()


def test_screenshot_errors_are_logged_not_shown(qapp, monkeypatch, caplog):
    import logging
    import threading

    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    app_module.install_logging_exception_hook()
    try:
        raise RuntimeError("boom during a screenshot")
    except RuntimeError:
        with caplog.at_level(logging.CRITICAL):
            sys.excepthook(*sys.exc_info())
    qapp.processEvents()
    assert "boom during a screenshot" in caplog.text and "Traceback" in caplog.text
    assert not [w for w in qapp.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
