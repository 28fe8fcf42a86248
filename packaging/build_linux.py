"""The Linux artifacts: a .tar.zst and a .tar.gz of the one-folder app with install.sh,
uninstall.sh, a .desktop file, the icon and a README; the glibc the build needs (recorded into
the build so install.sh and the app can check it before anything else); and the check for the
xcb libraries that the build machine should have so the build can bundle them."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import platform
import re
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from build_contents import APP_NAME, BUILD_INFO, CLI_EXE, GUI_EXE, PACKAGING, ROOT, BuildError

APP_ICON_PNG = ROOT / "visioncap_desktop" / "assets" / "visioncap.png"
LINUX_FILES = PACKAGING / "linux"
ARCHIVE_FORMATS = ("zst", "gz")
ZSTD_LEVEL = 6  # benchmarks/packaging_archive.py compares the levels
GZIP_LEVEL = 6

# The glibc of each release of the distributions a Linux build names to its users: the first
# release of each family whose glibc is at least the build's requirement is "supported".
DISTRIBUTION_GLIBC = {
    "Debian": (("11", (2, 31)), ("12", (2, 36)), ("13", (2, 41))),
    "Ubuntu": (("20.04", (2, 31)), ("22.04", (2, 35)), ("24.04", (2, 39)), ("26.04", (2, 43))),
    "Fedora": (("36", (2, 35)), ("37", (2, 36)), ("38", (2, 37)), ("39", (2, 38)), ("40", (2, 39)),
               ("41", (2, 40)), ("42", (2, 41))),
    "RHEL": (("8", (2, 28)), ("9", (2, 34)), ("10", (2, 39))),
    "openSUSE Leap": (("15.6", (2, 38)), ("16.0", (2, 40))),
}
GLIBC_SYMBOL = re.compile(rb"GLIBC_(\d+)\.(\d+)(?:\.\d+)?")

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


def glibc_versions(objdump_output: bytes) -> set[tuple[int, int]]:
    """The glibc symbol versions (GLIBC_2.35 -> (2, 35)) in `objdump -p` output: what the
    file needs from libc, libm, libpthread, ... ("Version References")."""
    return {(int(major), int(minor)) for major, minor in GLIBC_SYMBOL.findall(objdump_output)}


def objdump_versions(path: Path) -> bytes:
    try:
        return subprocess.run(["objdump", "-p", str(path)], capture_output=True, check=False).stdout
    except OSError as exc:
        raise BuildError(f"objdump (binutils) is needed to read {path}'s glibc needs: {exc}") from exc


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def required_glibc(folder: Path, read: Callable[[Path], bytes] = objdump_versions) -> tuple[tuple[int, int], list[str]]:
    """The newest glibc version any ELF file in the build needs, and the files that need it
    (paths relative to `folder`). The bootloader and libpython come first: a system older than
    this cannot even start the frozen Python."""
    newest: tuple[int, int] = (0, 0)
    needing: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file() or not is_elf(path):
            continue
        versions = glibc_versions(read(path))
        if not versions:
            continue
        top = max(versions)
        if top > newest:
            newest, needing = top, []
        if top == newest:
            needing.append(path.relative_to(folder).as_posix())
    if newest == (0, 0):
        raise BuildError(f"{folder}: no ELF file needs glibc (is this a Linux build?)")
    return newest, needing


def supported_distributions(glibc: tuple[int, int]) -> str:
    """The oldest release of each distribution family whose glibc is at least `glibc`."""
    names = []
    for family, releases in DISTRIBUTION_GLIBC.items():
        first = next((release for release, version in releases if version >= glibc), None)
        if first is not None:
            names.append(f"{family} {first}")
    return ", ".join(names) + " or newer"


def record_glibc(folder: Path, read: Callable[[Path], bytes] = objdump_versions) -> dict:
    """Write what the build needs of the system's glibc into its build info (`glibc`,
    `glibc_needed_by`, `distributions`): install.sh reads it before it copies anything, and
    `--check-system` and the self-test report it. Returns the updated build info."""
    path = folder / "_internal" / BUILD_INFO
    info = json.loads(path.read_text(encoding="utf-8"))
    glibc, needing = required_glibc(folder, read)
    info["glibc"] = f"{glibc[0]}.{glibc[1]}"
    info["glibc_needed_by"] = needing[:5]
    info["distributions"] = supported_distributions(glibc)
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


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


def linux_archive_extras(folder: Path | None = None) -> dict[str, bytes]:
    """The files next to the app folder in the Linux archive."""
    info_path = folder / "_internal" / BUILD_INFO if folder else None
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path and info_path.is_file() else {}
    return {
        "install.sh": (LINUX_FILES / "install.sh").read_bytes(),
        "uninstall.sh": (LINUX_FILES / "uninstall.sh").read_bytes(),
        "visioncap.desktop": desktop_entry("@INSTALL_DIR@/" + GUI_EXE, "visioncap").encode(),
        "visioncap.png": APP_ICON_PNG.read_bytes(),
        "README.txt": linux_readme(info).encode(),
    }


class _Tee(io.RawIOBase):
    """A write-only stream that hands every block to several writers: one tar stream, packed
    into every format at once (the files are read once)."""

    def __init__(self, writers: list):
        super().__init__()
        self._writers = writers

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        for writer in self._writers:
            writer.write(data)
        return len(data)


def make_linux_archives(folder: Path, out_dir: Path, base_name: str,
                        formats: tuple[str, ...] = ARCHIVE_FORMATS) -> list[Path]:
    """`base_name.tar.zst` and/or `base_name.tar.gz` from one pass over the files: the one-folder
    app plus install.sh, uninstall.sh, .desktop file, icon and README.

    Everything sits under one top folder `base_name/`; symlinks and file modes are kept. zstd
    compresses on every core (the `zstandard` package) and unpacks several times faster; the
    .tar.gz is for systems without the `zstd` program (a minimal Debian has none), which `tar
    xf` needs for a .tar.zst.
    """
    unknown = [f for f in formats if f not in ARCHIVE_FORMATS]
    if unknown or not formats:
        raise BuildError(f"unknown archive format {', '.join(map(repr, unknown)) or 'none'}; "
                         f"choose from {', '.join(ARCHIVE_FORMATS)}")
    archives = [out_dir / f"{base_name}.tar.{archive_format}" for archive_format in formats]
    partials = [archive.with_name(archive.name + ".partial") for archive in archives]
    with contextlib.ExitStack() as stack:
        writers = []
        for archive_format, partial in zip(formats, partials):
            raw = stack.enter_context(open(partial, "wb"))
            if archive_format == "gz":
                writers.append(stack.enter_context(
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL)))
                continue
            try:
                import zstandard
            except ImportError as exc:
                raise BuildError("writing .tar.zst needs the zstandard package "
                                 "(pip install -e \".[packaging]\"), or pass --archive gz") from exc
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
            writers.append(stack.enter_context(compressor.stream_writer(raw, closefd=False)))
        tar = stack.enter_context(tarfile.open(fileobj=_Tee(writers), mode="w|"))
        tar.add(folder, arcname=f"{base_name}/{APP_NAME}")
        for name, data in linux_archive_extras(folder).items():
            info = tarfile.TarInfo(f"{base_name}/{name}")
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    for partial, archive in zip(partials, archives):
        partial.replace(archive)
    return archives


def linux_baseline(info: dict) -> str:
    """What a build needs of the system: the glibc recorded at build time (record_glibc) with the
    distributions that have it, else the build machine's own glibc."""
    if info.get("glibc"):
        return f"glibc {info['glibc']} or newer ({info['distributions']})"
    glibc = platform.libc_ver()[1] or "unknown"
    distro = "unknown distribution"
    os_release = Path("/etc/os-release")
    if os_release.is_file():
        match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', os_release.read_text(encoding="utf-8"), re.M)
        distro = match.group(1) if match else distro
    return f"glibc {glibc} ({distro}) or newer"


def linux_readme(info: dict | None = None) -> str:
    """README.txt of the Linux archive: install, requirements, self-test, uninstall."""
    return (
        f"{APP_NAME} for Linux ({platform.machine()}). Needs {linux_baseline(info or {})};\n"
        "install.sh checks this first and installs nothing on an older system.\n\n"
        "Install for yourself (into ~/.local/opt/VisionCap, menu entry, visioncap-cli in ~/.local/bin):\n"
        "    ./install.sh\n"
        "Install for everyone (into /opt/VisionCap), as root:\n"
        "    sudo ./install.sh\n"
        "Or run it from this folder without installing:\n"
        f"    ./{APP_NAME}/{GUI_EXE}\n\n"
        "Two archives hold the same files: the .tar.zst unpacks faster but `tar xf` needs the zstd program\n"
        "for it (`sudo apt install zstd`, `sudo dnf install zstd`, `sudo zypper install zstd`); a minimal\n"
        "system without it unpacks the .tar.gz: `tar xzf FILE.tar.gz`.\n\n"
        "Besides what it bundles, VisionCap needs the graphics libraries libGL and libEGL and, for an X11\n"
        "window, libxcb (on a Wayland desktop the Wayland client libraries). Desktops have them; install.sh\n"
        f"checks, and `./{APP_NAME}/{CLI_EXE} --check-system` prints what is missing with the command that\n"
        "installs it, for example on a minimal Debian or Ubuntu:\n"
        "    sudo apt install libgl1 libegl1 libxcb1\n\n"
        f"Check an installation without a window:  ./{APP_NAME}/{CLI_EXE} --self-test\n\n"
        "Uninstall: ~/.local/opt/VisionCap/uninstall.sh (or sudo /opt/VisionCap/uninstall.sh);\n"
        "add --purge to delete your settings, caption stores, downloaded models and cache too (with sudo:\n"
        "those of the user who ran sudo). It lists what it removed and anything it left.\n"
    )
