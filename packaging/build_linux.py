"""The Linux artifact: a .tar.zst (or .tar.gz) holding the one-folder app with install.sh,
uninstall.sh, a .desktop file, the icon and a README; and the check for the xcb libraries that
the build machine should have so the build can bundle them."""

from __future__ import annotations

import contextlib
import io
import platform
import re
import subprocess
import tarfile
import time
from pathlib import Path

from build_contents import APP_NAME, CLI_EXE, GUI_EXE, PACKAGING, ROOT, BuildError

APP_ICON_PNG = ROOT / "visioncap_desktop" / "assets" / "visioncap.png"
LINUX_FILES = PACKAGING / "linux"
ARCHIVE_FORMATS = ("zst", "gz")
ZSTD_LEVEL = 6  # benchmarks/packaging_archive.py compares the levels

# Libraries Qt's xcb platform plug-in needs that few systems have, as Debian packages and as
# sonames. PyInstaller bundles them when the build machine has them installed; otherwise the
# user's system must provide them (the app's library check then names them).
LINUX_SYSTEM_LIBS = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
}


def missing_linux_libs() -> list[str]:
    """The LINUX_SYSTEM_LIBS packages this (Linux) build machine lacks, by `ldconfig -p`."""
    try:
        cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    except OSError:
        try:
            cache = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
        except OSError:
            return []
    return [package for package, soname in LINUX_SYSTEM_LIBS.items() if soname not in cache]


def desktop_entry(exec_path: str, icon: str) -> str:
    """A freedesktop .desktop file for the app menu (install.sh fills in the install folder)."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        f"Name={APP_NAME}",
        "GenericName=Image Captioner",
        "Comment=Caption folders of photos on your own computer",
        f"Exec=\"{exec_path}\" %f",
        f"TryExec={exec_path}",
        f"Icon={icon}",
        "Terminal=false",
        "Categories=Graphics;Photography;Viewer;",
        "Keywords=caption;photo;image;dataset;",
        f"StartupWMClass={APP_NAME}",
        "",
    ])


def linux_archive_extras() -> dict[str, bytes]:
    """The files next to the app folder in the Linux archive."""
    return {
        "install.sh": (LINUX_FILES / "install.sh").read_bytes(),
        "uninstall.sh": (LINUX_FILES / "uninstall.sh").read_bytes(),
        "visioncap.desktop": desktop_entry("@INSTALL_DIR@/" + GUI_EXE, "visioncap").encode(),
        "visioncap.png": APP_ICON_PNG.read_bytes(),
        "README.txt": linux_readme().encode(),
    }


def make_linux_archive(folder: Path, out_dir: Path, base_name: str, archive_format: str = "zst") -> Path:
    """`base_name.tar.zst` (or `.tar.gz`): the one-folder app plus install.sh, uninstall.sh,
    .desktop file and icon.

    Everything sits under one top folder `base_name/`; symlinks and file modes are kept. zstd
    compresses on every core (the `zstandard` package); `tar xf` unpacks it where `zstd` is
    installed.
    """
    if archive_format not in ARCHIVE_FORMATS:
        raise BuildError(f"unknown archive format {archive_format!r}; choose from {', '.join(ARCHIVE_FORMATS)}")
    archive = out_dir / f"{base_name}.tar.{archive_format}"
    partial = archive.with_name(archive.name + ".partial")
    with contextlib.ExitStack() as stack:
        if archive_format == "gz":
            tar = stack.enter_context(tarfile.open(partial, "w:gz", compresslevel=6))
        else:
            try:
                import zstandard
            except ImportError as exc:
                raise BuildError("writing .tar.zst needs the zstandard package "
                                 "(pip install -e \".[packaging]\"), or pass --archive gz") from exc
            raw = stack.enter_context(open(partial, "wb"))
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
            stream = stack.enter_context(compressor.stream_writer(raw, closefd=False))
            tar = stack.enter_context(tarfile.open(fileobj=stream, mode="w|"))
        tar.add(folder, arcname=f"{base_name}/{APP_NAME}")
        for name, data in linux_archive_extras().items():
            info = tarfile.TarInfo(f"{base_name}/{name}")
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    partial.replace(archive)
    return archive


def linux_baseline() -> str:
    """The build machine's glibc and distribution, which a Linux build needs at least."""
    glibc = platform.libc_ver()[1] or "unknown"
    distro = "unknown distribution"
    os_release = Path("/etc/os-release")
    if os_release.is_file():
        match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', os_release.read_text(encoding="utf-8"), re.M)
        distro = match.group(1) if match else distro
    return f"glibc {glibc} ({distro})"


def linux_readme() -> str:
    """README.txt of the Linux archive: install, requirements, self-test, uninstall."""
    return (
        f"{APP_NAME} for Linux ({platform.machine()}). Runs on distributions at least as new as the one\n"
        f"it was built on: {linux_baseline()} or newer.\n\n"
        "Install for yourself (into ~/.local/opt/VisionCap, menu entry, visioncap-cli in ~/.local/bin):\n"
        "    ./install.sh\n"
        "Install for everyone (into /opt/VisionCap), as root:\n"
        "    sudo ./install.sh\n"
        "Or run it from this folder without installing:\n"
        f"    ./{APP_NAME}/{GUI_EXE}\n\n"
        "Unpack .tar.zst archives with `tar xf FILE` (needs zstd: `sudo apt install zstd`, `sudo dnf\n"
        "install zstd` or `sudo zypper install zstd`).\n\n"
        "Besides what it bundles, VisionCap needs the graphics libraries libGL and libEGL and, for an X11\n"
        "window, libxcb (on a Wayland desktop the Wayland client libraries). Desktops have them; install.sh\n"
        f"checks, and `./{APP_NAME}/{CLI_EXE} --check-system` prints what is missing with the command that\n"
        "installs it, for example on a minimal Debian or Ubuntu:\n"
        "    sudo apt install libgl1 libegl1 libxcb1\n\n"
        f"Check an installation without a window:  ./{APP_NAME}/{CLI_EXE} --self-test\n\n"
        "Uninstall: ~/.local/opt/VisionCap/uninstall.sh (or sudo /opt/VisionCap/uninstall.sh);\n"
        "add --purge to delete your settings, caption stores and downloaded models too.\n"
    )
