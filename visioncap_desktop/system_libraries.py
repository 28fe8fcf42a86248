"""The system libraries Qt needs that a build cannot bring along (the graphics driver's
libGL/libEGL and the display's libxcb or Wayland libraries), checked before Qt is loaded so a
bare system gets one line per missing library with its install command instead of an
ImportError. No Qt and no torch here: the launcher, the app and the self-test all use it.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

MISSING_LIBRARIES_EXIT = 7


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
    """Report what is missing for `platforms` (stderr) and return the exit status to use; with
    `quiet=False` a complete system is reported too (stdout)."""
    missing = missing_libraries(platforms)
    if missing:
        sys.stderr.write(report_missing(missing, platforms) + "\n")
        return MISSING_LIBRARIES_EXIT
    if not quiet:
        sys.stdout.write(report_missing(missing, platforms) + "\n")
    return 0
