"""What a system needs before the app can start, checked before Qt is loaded: the system's own
version (a frozen Linux build needs the glibc its files were linked against, recorded at build
time; macOS needs 14.0) and the system libraries Qt needs that a build cannot bring along (the
graphics driver's libGL/libEGL and the display's libxcb or Wayland libraries). A bare or too-old
system gets one line per problem with what to do instead of an ImportError. No Qt and no torch
here: the launcher, the app, the self-test and install.sh (which prints the same glibc line) all
say the same.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MISSING_LIBRARIES_EXIT = 7
TOO_OLD_EXIT = 8
BUILD_INFO = "visioncap-build.json"  # what packaging/visioncap.spec and build.py recorded
MACOS_MINIMUM = "14.0"  # torch 2.14's wheel is macosx_14_0 (packaging/build_contents.py: the same)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def build_info() -> dict:
    """The frozen build's record (glibc needed, distributions, variant); {} when running from
    source, where the Python that runs this has already started."""
    base = getattr(sys, "_MEIPASS", None)
    path = Path(base) / BUILD_INFO if base else None
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def glibc_version() -> str | None:
    """This system's glibc version (`2.36`), or None where the C library is not glibc."""
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    return found.split()[-1] if found.startswith("glibc") else None


def too_old(info: Mapping, system: str | None = None, glibc: str | None = None,
            macos: str | None = None) -> str | None:
    """One line saying what this system lacks to run the build `info` describes, or None.

    The Linux line is the one install.sh prints before it copies anything; a frozen Python on an
    older glibc fails while loading (`GLIBC_2.35 not found`) before it gets here, but the
    libraries loaded later (torch, Qt) are checked this way all the same.
    """
    system = system or sys.platform
    if system.startswith("linux") and info.get("glibc"):
        have = glibc if glibc is not None else glibc_version()
        if have is None or _version(have) < _version(info["glibc"]):
            found = f"glibc {have}" if have else "no glibc (another C library)"
            return (f"VisionCap needs glibc {info['glibc']} or newer ({info.get('distributions', '')}); "
                    f"this system has {found}")
    if system == "darwin":
        have = macos if macos is not None else platform.mac_ver()[0]
        if have and _version(have) < _version(MACOS_MINIMUM):
            return f"VisionCap needs macOS {MACOS_MINIMUM} or newer; this Mac has macOS {have}"
    return None


def system_report(info: Mapping, system: str | None = None, glibc: str | None = None) -> str | None:
    """The line --check-system and the self-test print for a system that is new enough, where
    the build recorded a requirement."""
    system = system or sys.platform
    if system.startswith("linux") and info.get("glibc"):
        have = glibc if glibc is not None else glibc_version()
        return f"system: glibc {have}, needs {info['glibc']} or newer: ok"
    if system == "darwin":
        return f"system: macOS {platform.mac_ver()[0]}, needs {MACOS_MINIMUM} or newer: ok"
    return None


@dataclass(frozen=True)
class SystemLibrary:
    """A shared library by soname, with the package that provides it on each distribution family."""

    soname: str
    debian: str
    fedora: str
    opensuse: str

    def advice(self) -> str:
        return (f"missing {self.soname}: install it with `sudo apt install {self.debian}` (Debian, Ubuntu), "
                f"`sudo dnf install {self.fedora}` (Fedora, RHEL) or `sudo zypper install {self.opensuse}` (openSUSE)")


# QtGui links these: even the offscreen platform (the self-test, --screenshot) needs them
QT_GUI_LIBRARIES = (
    SystemLibrary("libGL.so.1", "libgl1", "libglvnd-glx", "libGL1"),
    SystemLibrary("libEGL.so.1", "libegl1", "libglvnd-egl", "libEGL1"),
)
# what each Qt platform plug-in links beyond the libraries the build bundles
PLATFORM_LIBRARIES = {
    "xcb": (SystemLibrary("libxcb.so.1", "libxcb1", "libxcb", "libxcb1"),),
    "wayland": (
        SystemLibrary("libwayland-client.so.0", "libwayland-client0", "libwayland-client", "libwayland-client0"),
        SystemLibrary("libwayland-cursor.so.0", "libwayland-cursor0", "libwayland-cursor", "libwayland-cursor0"),
        SystemLibrary("libwayland-egl.so.1", "libwayland-egl1", "libwayland-egl", "libwayland-egl1"),
    ),
}


def qt_platforms(env: Mapping[str, str], qt_args: Sequence[str] = ()) -> list[str]:
    """The Qt platform plug-ins Qt will try, in order, as it decides them.

    `-platform NAME` wins over QT_QPA_PLATFORM (both may list several, `wayland;xcb`, and carry
    options after a colon); otherwise a Wayland session tries Wayland and then XWayland.
    """
    args = list(qt_args)
    spec = args[args.index("-platform") + 1] if "-platform" in args[:-1] else env.get("QT_QPA_PLATFORM", "")
    names = [entry.split(":", 1)[0].strip() for entry in spec.split(";") if entry.strip()]
    if names:
        return names
    if env.get("XDG_SESSION_TYPE") == "wayland" or env.get("WAYLAND_DISPLAY"):
        return ["wayland", "xcb"]
    return ["xcb"]


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds `soname` (and what it needs), as Qt's loading would."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(platforms: Sequence[str], loadable: Callable[[str], bool] | None = None,
                      system: str | None = None) -> list[SystemLibrary]:
    """The system libraries that keep Qt from starting with any of `platforms`, on Linux.

    QtGui's own libraries are always needed. A platform plug-in's libraries count only when no
    platform in the list has all of its own (a Wayland session with XWayland still starts).
    Windows and macOS builds bring everything they need: always an empty list there.
    """
    if not (system or sys.platform).startswith("linux"):
        return []
    loadable = loadable or can_load
    missing = [lib for lib in QT_GUI_LIBRARIES if not loadable(lib.soname)]
    per_platform = [[lib for lib in PLATFORM_LIBRARIES.get(name, ()) if not loadable(lib.soname)]
                    for name in platforms]
    if per_platform and all(per_platform):
        for libs in per_platform:
            missing += [lib for lib in libs if lib not in missing]
    return missing


def report_missing(missing: Sequence[SystemLibrary], platforms: Sequence[str]) -> str:
    """What `--check-system` and a failed start print: one line per missing library."""
    if not missing:
        return f"system libraries: all found (Qt platform {' or '.join(platforms)})"
    header = f"VisionCap cannot start: {len(missing)} system librar{'y is' if len(missing) == 1 else 'ies are'} missing"
    return "\n".join([header, *(lib.advice() for lib in missing)])


def check_system(platforms: Sequence[str], quiet: bool = True) -> int:
    """Report what is missing for `platforms` (stderr) and return the exit status to use: first
    the system's version (too_old), then the libraries; with `quiet=False` a complete system is
    reported too (stdout)."""
    info = build_info()
    problem = too_old(info)
    if problem:
        sys.stderr.write(problem + "\n")
        return TOO_OLD_EXIT
    missing = missing_libraries(platforms)
    if missing:
        sys.stderr.write(report_missing(missing, platforms) + "\n")
        return MISSING_LIBRARIES_EXIT
    if not quiet:
        report = system_report(info)
        sys.stdout.write((report + "\n" if report else "") + report_missing(missing, platforms) + "\n")
    return 0
