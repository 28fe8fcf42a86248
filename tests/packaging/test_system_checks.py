"""The installers check before they copy, and uninstalling removes what it says: install.sh
against a faked older glibc (a stand-in `getconf` on PATH), the app's own check of the same
requirement (--check-system, the self-test, macOS 14), `sudo uninstall.sh --purge` with a
stand-in user database, and the frozen entry keeping torch's and Qt's files in VisionCap's
folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import build_contents
import pytest

from tests.packaging.conftest import ROOT
from tests.packaging.test_packaging import fake_app, install
from visioncap_desktop import selftest, system_libraries

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="install.sh is for Linux")
REQUIREMENT = {"glibc": "2.36", "glibc_needed_by": ["VisionCap"],
               "distributions": "Debian 12, Ubuntu 24.04, Fedora 37, RHEL 10, openSUSE Leap 15.6 or newer"}
TOO_OLD_LINE = ("VisionCap needs glibc 2.36 or newer (Debian 12, Ubuntu 24.04, Fedora 37, RHEL 10, openSUSE Leap "
                "15.6 or newer); this system has glibc 2.31")


def stand_ins(folder: Path, tools: dict[str, str]) -> Path:
    """Shell scripts named after system tools, to put first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in tools.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def recorded_app(folder: Path) -> Path:
    app = fake_app(folder)
    (app / "_internal" / build_contents.BUILD_INFO).write_text(json.dumps({"variant": "cpu", **REQUIREMENT}, indent=2))
    return app


def run_install(tmp_path: Path, glibc_line: str | None) -> subprocess.CompletedProcess:
    """Unpack an archive of a fake app that records glibc 2.36 and run its install.sh on a
    system whose `getconf GNU_LIBC_VERSION` prints `glibc_line` (None: no glibc at all)."""
    home = tmp_path / "home"
    home.mkdir()
    getconf = f'[ "$1" = GNU_LIBC_VERSION ] && echo "{glibc_line}" && exit 0\nexit 1' if glibc_line else "exit 1"
    tools = stand_ins(tmp_path / "tools", {"getconf": getconf})
    recorded_app(tmp_path / "dist" / "VisionCap")
    import build_linux

    (archive,) = build_linux.make_linux_archives(tmp_path / "dist" / "VisionCap", tmp_path, "pkg", ("gz",))
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(tmp_path)], check=True)
    env = {"HOME": str(home), "PATH": f"{tools}:/usr/bin:/bin"}
    return subprocess.run(["sh", str(tmp_path / "pkg" / "install.sh"), "--prefix", str(home / "opt"),
                           "--share-dir", str(home / "share"), "--bin-dir", str(home / "bin")],
                          env=env, capture_output=True, text=True)


@linux_only
@pytest.mark.parametrize(("glibc_line", "found"), [("glibc 2.31", "glibc 2.31"), ("glibc 2.35", "glibc 2.35"),
                                                   (None, "no glibc (another C library)")])
def test_install_refuses_an_older_glibc_before_copying_anything(tmp_path, glibc_line, found):
    result = run_install(tmp_path, glibc_line)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"install.sh: {TOO_OLD_LINE.replace('glibc 2.31', found)}; nothing was installed"]
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == []


@linux_only
@pytest.mark.parametrize("glibc_line", ["glibc 2.36", "glibc 2.41", "glibc 3.0"])
def test_install_goes_ahead_on_the_glibc_the_build_needs_or_newer(tmp_path, glibc_line):
    result = run_install(tmp_path, glibc_line)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / "opt" / "VisionCap" / "VisionCap").is_file()


@linux_only
def test_install_of_an_archive_without_a_recorded_requirement_does_not_check(tmp_path):
    """Archives built before the requirement was recorded install as before."""
    home = tmp_path / "home"
    home.mkdir()
    tools = stand_ins(tmp_path / "tools", {"getconf": "echo 'glibc 2.17'"})
    install(tmp_path, {"HOME": str(home), "PATH": f"{tools}:/usr/bin:/bin"}, "--prefix", str(home / "opt"),
            "--share-dir", str(home / "share"), "--bin-dir", str(home / "bin"))
    assert (home / "opt" / "VisionCap" / "VisionCap").is_file()


@linux_only
def test_install_tells_a_failing_system_check_from_missing_libraries(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    app = fake_app(tmp_path / "dist" / "VisionCap")
    (app / "visioncap-cli").write_text('#!/bin/sh\n[ "$1" = --check-system ] && exit 8\nexit 0\n')
    import build_linux

    (archive,) = build_linux.make_linux_archives(app, tmp_path, "pkg", ("gz",))
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(tmp_path)], check=True)
    result = subprocess.run(["sh", str(tmp_path / "pkg" / "install.sh"), "--no-self-test", "--prefix",
                             str(home / "opt"), "--share-dir", str(home / "share"), "--bin-dir", str(home / "bin")],
                            env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert result.returncode == 0
    assert "the window needs the libraries above" not in result.stdout
    assert "its system check failed (exit 8, see above)" in result.stderr


# --- the app's own check: the same line ---------------------------------------------------------


@pytest.mark.parametrize(("system", "glibc", "macos", "expected"), [
    ("linux", "2.31", None, TOO_OLD_LINE),
    ("linux", None, None, TOO_OLD_LINE.replace("glibc 2.31", "no glibc (another C library)")),
    ("linux", "2.36", None, None),
    ("linux", "2.41", None, None),
    ("darwin", None, "13.6.1", "VisionCap needs macOS 14.0 or newer; this Mac has macOS 13.6.1"),
    ("darwin", None, "14.0", None),
    ("darwin", None, "15.3", None),
    ("win32", None, None, None),
])
def test_too_old_names_what_is_needed(system, glibc, macos, expected, monkeypatch):
    monkeypatch.setattr(system_libraries, "glibc_version", lambda: None)
    assert system_libraries.too_old(REQUIREMENT, system, glibc, macos) == expected


def test_from_source_there_is_no_glibc_requirement():
    assert system_libraries.build_info() == {}
    assert system_libraries.too_old({}, "linux", "2.17") is None


def test_macos_minimum_is_the_same_in_the_bundle_and_the_app():
    assert system_libraries.MACOS_MINIMUM == build_contents.MACOS_MINIMUM == "14.0"
    spec = (ROOT / "packaging" / "visioncap.spec").read_text(encoding="utf-8")
    assert '"LSMinimumSystemVersion": vc.MACOS_MINIMUM' in spec


@pytest.fixture
def frozen_info(monkeypatch, tmp_path):
    """Make the app see a frozen build that recorded glibc 2.36, on a system with `glibc`."""
    (tmp_path / system_libraries.BUILD_INFO).write_text(json.dumps(REQUIREMENT))
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(system_libraries, "can_load", lambda soname: True)

    def on_glibc(version: str | None) -> None:
        monkeypatch.setattr(system_libraries, "glibc_version", lambda: version)

    return on_glibc


def test_check_system_says_the_glibc_line_first(frozen_info, capsys):
    frozen_info("2.31")
    assert system_libraries.check_system(["xcb"], quiet=False) == system_libraries.TOO_OLD_EXIT
    assert capsys.readouterr().err == TOO_OLD_LINE + "\n"
    frozen_info("2.36")
    assert system_libraries.check_system(["xcb"], quiet=False) == 0
    assert capsys.readouterr().out.splitlines() == [
        "system: glibc 2.36, needs 2.36 or newer: ok", "system libraries: all found (Qt platform xcb)"]


def test_self_test_says_the_glibc_line_first(frozen_info, capsys):
    frozen_info("2.31")
    assert selftest.run_self_test(None) == system_libraries.TOO_OLD_EXIT
    assert capsys.readouterr().err == f"self-test FAILED at system: {TOO_OLD_LINE}\n"


# --- uninstalling under sudo --------------------------------------------------------------------


def user_data(home: Path) -> list[Path]:
    folders = [home / ".config" / "VisionCap", home / ".local" / "share" / "VisionCap", home / ".cache" / "VisionCap"]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "file").write_text("data")
    return folders


@linux_only
def test_sudo_purge_removes_the_invoking_users_data_and_lists_what_is_left(tmp_path):
    """sudo sets HOME to root's: the user's data is found through the user database (getent)."""
    alice, root_home, tmp = tmp_path / "alice", tmp_path / "root", tmp_path / "tmp"
    tools = stand_ins(tmp_path / "tools", {
        "id": 'case "$1" in -u) echo 0 ;; -un) echo root ;; *) exit 1 ;; esac',
        "getent": f'[ "$1 $2" = "passwd alice" ] && echo "alice:x:1000:1000:Alice:{alice}:/bin/sh"',
    })
    env = {"HOME": str(root_home), "PATH": f"{tools}:/usr/bin:/bin", "SUDO_USER": "alice", "TMPDIR": str(tmp)}
    install(tmp_path, env, "--no-self-test", "--prefix", str(tmp_path / "opt"), "--share-dir",
            str(tmp_path / "share"), "--bin-dir", str(tmp_path / "bin"))
    hers = user_data(alice)
    (alice / ".config" / "QtProject.conf").write_text("[FileDialog]\n")
    (tmp / "torchinductor_alice").mkdir(parents=True)
    roots = user_data(root_home)

    target = tmp_path / "opt" / "VisionCap"
    result = subprocess.run(["sh", str(target / "uninstall.sh"), "--purge"], env=env, capture_output=True,
                            text=True, check=True)
    lines = result.stdout.splitlines()
    assert not target.exists()
    assert not any(folder.exists() for folder in hers)
    assert all(folder.exists() for folder in roots)  # root's own: not the user who ran sudo
    for folder in hers:
        assert f"Removed {folder}" in lines
    # what every Qt and every PyTorch program shares stays, and is named with where it is
    left = [line for line in lines if line.startswith("Left:")]
    assert len(left) == 4
    assert left[0].startswith(f"Left: {alice}/.config/QtProject.conf (Qt's file-dialog settings")
    assert left[1].startswith(f"Left: {tmp}/torchinductor_alice (PyTorch's compile cache")
    assert "XDG_CONFIG_HOME" in left[2] and "other users' VisionCap data" in left[3]
    assert (alice / ".config" / "QtProject.conf").exists() and (tmp / "torchinductor_alice").exists()


@linux_only
def test_plain_uninstall_says_where_the_kept_data_is(tmp_path):
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    home.mkdir()
    install(tmp_path, env, "--no-self-test", "--prefix", str(home / "opt"), "--share-dir", str(home / "share"),
            "--bin-dir", str(home / "bin"))
    mine = user_data(home)
    result = subprocess.run(["sh", str(home / "opt" / "VisionCap" / "uninstall.sh")], env=env,
                            capture_output=True, text=True, check=True)
    assert f"Kept your settings, caption stores and models in {' '.join(map(str, mine))}; " \
           "run with --purge to delete them too." in result.stdout
    assert all(folder.exists() for folder in mine)


# --- the frozen entry keeps torch's and Qt's files in VisionCap's folders -----------------------


def test_entry_points_torch_and_qt_into_visioncaps_folders(tmp_path):
    code = (
        "import os, sys; sys.path.insert(0, 'packaging'); import visioncap_entry as e\n"
        "print(e.keep_caches_in_our_folders())\n"
        "print(e.keep_qt_settings_in_our_folder())\n"
        "from PySide6.QtCore import QSettings\n"
        "print(QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, 'QtProject').fileName())\n"
        "os.environ['TORCHINDUCTOR_CACHE_DIR'] = '/elsewhere'; print(e.keep_caches_in_our_folders())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    env["VISIONCAP_HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True, timeout=120)
    inductor, qt, conf, kept = result.stdout.splitlines()
    assert inductor == str(tmp_path / "cache" / "torchinductor")
    assert qt == str(tmp_path / "config" / "qt")
    assert conf == str(tmp_path / "config" / "qt" / "QtProject.conf")
    assert kept == "/elsewhere"  # a cache folder the user chose wins


def test_frozen_entry_stops_on_a_too_old_system_before_torch_or_qt(tmp_path):
    (tmp_path / system_libraries.BUILD_INFO).write_text(json.dumps(REQUIREMENT))
    code = (
        f"import sys; sys._MEIPASS = {str(tmp_path)!r}; sys.argv = ['visioncap-cli', 'caption', '--help']\n"
        "sys.path.insert(0, 'packaging')\n"
        "import visioncap_desktop.system_libraries as s; s.glibc_version = lambda: '2.31'\n"
        "import visioncap_entry; code = visioncap_entry.main()\n"
        "assert 'torch' not in sys.modules and 'PySide6.QtCore' not in sys.modules, 'loaded too much'\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "VISIONCAP_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    if not sys.platform.startswith("linux"):
        pytest.skip("the glibc requirement is checked on Linux")
    assert (result.returncode, result.stdout, result.stderr) == (system_libraries.TOO_OLD_EXIT, "", TOO_OLD_LINE + "\n")


@linux_only
def test_sudo_purge_for_a_user_the_database_does_not_know_says_what_is_left(tmp_path):
    tools = stand_ins(tmp_path / "tools", {"id": 'case "$1" in -u) echo 0 ;; -un) echo root ;; *) exit 1 ;; esac',
                                           "getent": "exit 2"})
    root_home = tmp_path / "root"
    env = {"HOME": str(root_home), "PATH": f"{tools}:/usr/bin:/bin", "SUDO_USER": "bob"}
    install(tmp_path, env, "--no-self-test", "--prefix", str(tmp_path / "opt"), "--share-dir",
            str(tmp_path / "share"), "--bin-dir", str(tmp_path / "bin"))
    roots = user_data(root_home)
    result = subprocess.run(["sh", str(tmp_path / "opt" / "VisionCap" / "uninstall.sh"), "--purge"], env=env,
                            capture_output=True, text=True, check=True)
    assert "Left: the data of bob, whose home folder the user database does not know: remove " \
           "~/.config/VisionCap ~/.local/share/VisionCap ~/.cache/VisionCap as that user" in result.stdout
    assert all(folder.exists() for folder in roots) and not (tmp_path / "opt" / "VisionCap").exists()
