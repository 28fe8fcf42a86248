"""Build VisionCap's installer for the OS this runs on.

    python packaging/build.py                         # CPU variant, demo bundle inside
    python packaging/build.py --variant cuda          # keeps the CUDA libraries torch loads on a GPU
    python packaging/build.py --bundle-model BUNDLE   # ship this bundle as the built-in model
    python packaging/build.py --no-model              # no model inside: the app offers a download
    python packaging/build.py --self-test             # also run the frozen app's --self-test
    python packaging/build.py --skip-pyinstaller      # wrap the existing dist/VisionCap again

Step 1 runs PyInstaller with packaging/visioncap.spec: a one-folder app in dist/VisionCap with two
executables, `VisionCap` (windowed) and `visioncap-cli` (console), sharing one _internal folder; on
Linux, where the two would be identical, `visioncap-cli` is a link to `VisionCap`.
Step 2 wraps that folder the way the OS expects:

- Linux:   dist/VisionCap-<version>-linux-<arch>-<variant>.tar.zst (or .tar.gz with --archive gz)
           holding the folder, install.sh, uninstall.sh, a .desktop file and the icon;
- Windows: an Inno Setup installer from packaging/windows/visioncap.iss when ISCC.exe is found,
           otherwise a .zip of the folder;
- macOS:   dist/VisionCap.app (the spec's BUNDLE), packed into a .dmg with hdiutil.

PyInstaller keeps its cache in build/pyinstaller; both variants share it (they differ only after
the analysis), so the second variant and a rebuild after small changes are much quicker.

Built with a CUDA torch (the default wheel on Linux), even the CPU variant carries the CUDA
libraries torch links; the build says how much of the folder they are, and how to build from
PyTorch's CPU-only wheels instead (CPU_ONLY_TORCH), which is the release procedure for the CPU
variant.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "visioncap.spec"
ICONS = PACKAGING / "icons"  # .ico and .icns; the .png is the app's own window icon
APP_ICON_PNG = ROOT / "visioncap_desktop" / "assets" / "visioncap.png"
LINUX_FILES = PACKAGING / "linux"
ISS = PACKAGING / "windows" / "visioncap.iss"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
DEFAULT_MODEL = ROOT / "core" / "assets" / "demo"

APP_NAME = "VisionCap"  # also the platformdirs app name: user data lives under this name
GUI_EXE = "VisionCap"
CLI_EXE = "visioncap-cli"
BUNDLE_ID = "org.visioncap.VisionCap"
BUILD_INFO = "visioncap-build.json"  # written next to the app's data files (under _internal)
VARIANTS = ("cpu", "cuda")

# Modules the app never imports at run time, left out of every build. Training and evaluation
# (matplotlib, pycocoevalcap, nltk), tests, notebooks, Tk. `transformers` is only used by the
# parity tests and training: the importer reads safetensors and tokenizer files itself.
# `triton`, `networkx` and `jinja2` serve torch.compile/inductor, which the app never calls;
# torch guards its imports of them.
EXCLUDED_MODULES = (
    "training",
    "tests",
    "benchmarks",
    "matplotlib",
    "pycocoevalcap",
    "pycocotools",
    "nltk",
    "transformers",
    "triton",
    "networkx",
    "jinja2",
    "tkinter",
    "_tkinter",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "notebook",
    "pytest",
    "pytestqt",
    "_pytest",
    "ruff",
    "PyInstaller",
    "pip",
    "setuptools",
    "pkg_resources",
    "torch.utils.tensorboard",
    "tensorboard",
    # Qt modules the app does not use (PySide6-Essentials ships some; PyInstaller's hooks would
    # only collect them if something imported them, this makes sure nothing does)
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2",
    "PySide6.Qt3DCore",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtMultimedia",
    "PySide6.QtNetwork",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtDesigner",
    "PySide6.QtUiTools",
    "PySide6.QtHelp",
)

# Packages with native libraries that the app imports where they are installed (HEIC/AVIF
# decoding, camera RAW, photo metadata, CSV locking). The spec collects each one that is
# importable on the build machine, with its shared libraries and data files; absent ones are skipped.
OPTIONAL_PACKAGES = ("pillow_heif", "rawpy", "exiv2", "pyexiv2", "filelock")

# Files no variant uses (matched against the destination path under _internal): protobuf's
# compiler, which the torch wheel ships as a tool; torchvision's image codecs and the nvJPEG
# library they link (the app decodes images with Pillow and Qt).
ALWAYS_DROPPED = (
    "torch/bin/protoc*",
    "torchvision/image_stable*.so",
    "*/libnvjpeg*.so*",
    "libnvjpeg*.so*",
)

# Shared libraries a CPU-only build leaves out (matched against the file name). torch's own
# libraries link the core CUDA libraries (cudart, cuBLAS, cuFFT, cuSPARSE, NCCL, ...), so those
# must stay even without a GPU; these are only loaded on first GPU use (dlopen), so a CPU run
# never touches them.
CPU_DROPPED_LIBS = (
    "libcudnn_*.so*",  # cuDNN's engines: libcudnn.so.9 (kept, small) loads them for GPU convolutions
    "libtorch_cuda_linalg.so",  # GPU linear algebra, loaded on first use, with cuSOLVER below
    "libcusolver*.so*",
    "libnvrtc-builtins*.so*",  # loaded by NVRTC when a kernel is compiled at run time
    "libnvrtc.alt.so*",
    "libcufile_rdma.so*",
    "nvshmem_*.so*",  # NVSHMEM transport plug-ins
    "libnvperf_*.so",  # CUPTI's profiling helpers
    "libpcsamplingutil.so",
    "libcheckpoint.so",
    "libcaffe2_nvrtc.so",  # torch's NVRTC wrapper for GPU kernels compiled at run time
)
# ... and whole folders under _internal a CPU-only build leaves out (matched against the path):
# cuda-python's bindings, which torch.cuda imports only behind a guard
CPU_DROPPED_PATHS = ("cuda/bindings/*",)

# What a CUDA torch adds to a build: the parts CUDA_BYTES sums (paths under _internal).
CUDA_PATHS = ("nvidia/*", "cuda/*", "torch/lib/*cuda*", "torch/lib/libcaffe2_nvrtc*", "torch/lib/libnvrtc*")
# The release procedure for the small CPU variant: a build environment with PyTorch's CPU wheels.
CPU_ONLY_TORCH = (
    "python -m venv build/venv-cpu",
    "build/venv-cpu/bin/pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu",
    'build/venv-cpu/bin/pip install -e ".[packaging]"',
    "build/venv-cpu/bin/python packaging/build.py --self-test",
)
ARCHIVE_FORMATS = ("zst", "gz")
ZSTD_LEVEL = 6  # benchmarks/packaging_archive.py compares the levels

# Qt plug-ins left out of every build. The GTK3 platform theme would load the desktop's own GTK3
# against the GLib, cairo and pango copies bundled from the build machine, which crashes or fails
# when their versions differ; without it Qt uses its Fusion style and the XDG portal for dialogs.
DROPPED_PLUGINS = ("libqgtk3.so",)

# Libraries Qt's xcb platform plug-in needs that few systems have, as Debian packages and as
# sonames. PyInstaller bundles them when the build machine has them installed; otherwise the
# user's system must provide them (the launcher's library check then names them).
LINUX_SYSTEM_LIBS = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
}


class BuildError(Exception):
    """A problem the build reports in one line and exits on."""


# --- facts about the project ------------------------------------------------------------------


def read_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The `version` of the [project] table (kept free of tomllib, which needs Python 3.11)."""
    text = pyproject.read_text(encoding="utf-8")
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    match = project and re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
    if not match:
        raise BuildError(f"{pyproject}: no version in [project]")
    return match.group(1)


def bundle_files(bundle: Path) -> list[Path]:
    """The files of a model bundle to ship: manifest.json and every file it lists.

    Checks them the way loading would on the first run (present, sizes as in the manifest) but
    without importing torch; anything else in the folder (checkpoints, notes) stays behind.
    """
    manifest_path = bundle / "manifest.json"
    if not manifest_path.is_file():
        raise BuildError(f"{bundle}: not a model bundle (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        listed = manifest["files"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise BuildError(f"{manifest_path}: unreadable manifest ({exc!r})") from exc
    files = [manifest_path]
    for name, info in sorted(listed.items()):
        path = bundle / name
        if not path.is_file():
            raise BuildError(f"{bundle}: {name} is listed in manifest.json but missing")
        if path.stat().st_size != info.get("bytes"):
            raise BuildError(f"{bundle}: {name} has {path.stat().st_size} bytes, manifest.json says {info.get('bytes')}")
        files.append(path)
    return files


def keep_binary(dest_name: str, variant: str) -> bool:
    """Whether a collected file belongs in this variant (see ALWAYS_DROPPED, CPU_DROPPED_LIBS and
    CPU_DROPPED_PATHS); `dest_name` is its path under _internal."""
    if variant not in VARIANTS:
        raise BuildError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    dest = dest_name.replace("\\", "/")
    if any(fnmatch.fnmatch(dest, pattern) for pattern in ALWAYS_DROPPED):
        return False
    if variant == "cuda":
        return True
    name = Path(dest).name
    return not (any(fnmatch.fnmatch(name, pattern) for pattern in CPU_DROPPED_LIBS)
                or any(fnmatch.fnmatch(dest, pattern) for pattern in CPU_DROPPED_PATHS))


def link_cli(folder: Path, system: str | None = None) -> bool:
    """On Linux make `visioncap-cli` a relative link to `VisionCap` (the spec builds one
    executable there: without a console flag the two would be identical). True if linked."""
    if not (system or sys.platform).startswith("linux"):
        return False
    cli = folder / CLI_EXE
    if cli.is_symlink() or cli.exists():
        cli.unlink()
    cli.symlink_to(GUI_EXE)
    return True


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED names of an ELF file, read with objdump (which PyInstaller needs on Linux)."""
    try:
        out = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [line.split()[1] for line in out.splitlines() if line.strip().startswith("NEEDED")]


def orphaned_by(needed: dict[str, list[str]], dropped: set[str]) -> set[str]:
    """The dependency libraries that only the `dropped` binaries needed.

    `needed` maps each collected binary (destination path) to its DT_NEEDED names. Libraries that
    PyInstaller collected as dependencies sit at the top of _internal and are named lib*; every
    other binary (extension modules, package libraries, Qt plug-ins) is a root. A dependency goes
    only if the roots reached it before and no longer do, so a library that only system
    libraries need (never seen here) is kept.
    """
    by_name: dict[str, str] = {}
    for dest in needed:
        by_name.setdefault(Path(dest).name, dest)

    def is_dependency(dest: str) -> bool:
        return "/" not in dest.replace("\\", "/") and Path(dest).name.startswith("lib")

    def reached(roots: list[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            for name in needed.get(stack.pop(), []):
                dest = by_name.get(name)
                if dest is not None and dest not in seen:
                    seen.add(dest)
                    stack.append(dest)
        return seen

    roots = [dest for dest in needed if not is_dependency(dest)]
    return reached(roots) - reached([dest for dest in roots if dest not in dropped]) - dropped


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


def os_tag() -> str:
    return {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")


def artifact_name(version: str, variant: str, with_model: bool, os_name: str | None = None,
                  arch: str | None = None) -> str:
    """VisionCap-<version>-<os>-<arch>-<variant>[-nomodel]: the installer's file name without suffix."""
    arch = arch or platform.machine().lower().replace("amd64", "x86_64")
    name = f"{APP_NAME}-{version}-{os_name or os_tag()}-{arch}-{variant}"
    return name if with_model else name + "-nomodel"


# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python packaging/build.py",
        description="Build VisionCap with PyInstaller and wrap it in this OS's installer format.",
    )
    parser.add_argument("--variant", choices=VARIANTS, default=os.environ.get("VISIONCAP_VARIANT", "cpu"),
                        help="cpu: leaves out the CUDA libraries only a GPU run loads (smaller); "
                             "cuda: keeps them (default: cpu, or $VISIONCAP_VARIANT)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--bundle-model", type=Path, metavar="BUNDLE", default=None,
                       help=f"model bundle to ship as the built-in model (default: {DEFAULT_MODEL.relative_to(ROOT)})")
    model.add_argument("--no-model", action="store_true",
                       help="ship no model; the app offers a bundle folder or the download on first run")
    parser.add_argument("--skip-pyinstaller", action="store_true",
                        help="do not run PyInstaller; wrap the existing dist/VisionCap")
    parser.add_argument("--no-installer", action="store_true", help="stop after PyInstaller")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache (build/pyinstaller) first")
    parser.add_argument("--self-test", action="store_true",
                        help="run the frozen `visioncap-cli --self-test` with a throw-away home folder")
    parser.add_argument("--archive", choices=ARCHIVE_FORMATS, default="zst",
                        help="Linux archive compression: zst (default; smaller, packs and unpacks several times "
                             "faster) or gz (unpacks where zstd is not installed)")
    parser.add_argument("--dist", type=Path, default=DIST, help="output folder (default: dist)")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.no_model:
        args.model = None
    else:
        args.model = (args.bundle_model or DEFAULT_MODEL).resolve()
    return args


# --- step 1: PyInstaller ----------------------------------------------------------------------


def pyinstaller_command(variant: str, model: Path | None, dist: Path = DIST, work: Path = WORK,
                        clean: bool = False) -> list[str]:
    """The PyInstaller command line; what follows `--` goes to the spec's own parser."""
    command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm",
               "--distpath", str(dist), "--workpath", str(work)]
    if clean:
        command.append("--clean")
    command += ["--", "--variant", variant]
    command += ["--no-model"] if model is None else ["--bundle-model", str(model)]
    return command


def app_dir(dist: Path = DIST) -> Path:
    return dist / APP_NAME


def frozen_executable(dist: Path, name: str) -> Path:
    """Where an executable of the one-folder build (or of the .app on macOS) is."""
    suffix = ".exe" if sys.platform == "win32" else ""
    if sys.platform == "darwin" and (dist / f"{APP_NAME}.app").is_dir():
        return dist / f"{APP_NAME}.app" / "Contents" / "MacOS" / name
    return app_dir(dist) / f"{name}{suffix}"


def folder_size(path: Path) -> int:
    """Bytes of the files under `path` (links not followed, each file counted once)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def largest_entries(folder: Path, top: int = 10) -> list[tuple[int, str]]:
    """The largest files and package folders of a one-folder build, biggest first.

    Files deeper than three levels under _internal are summed into their package folder
    (torch/lib/..., nvidia/cu13/lib, PySide6/Qt/lib), so the list says what the bytes are for.
    """
    sizes: dict[str, int] = {}
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(folder).parts
        rel = rel[1:] if rel[0] == "_internal" else rel
        key = "/".join(rel[:3])
        sizes[key] = sizes.get(key, 0) + path.stat().st_size
    return sorted(((size, key) for key, size in sizes.items()), reverse=True)[:top]


def human(size: float) -> str:
    """Bytes in decimal units, as download pages and file managers show them."""
    if size < 1e6:
        return f"{size / 1e3:.0f} KB"
    return f"{size / 1e6:.2f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"


def report_size(folder: Path) -> None:
    total = folder_size(folder)
    print(f"{folder}: {human(total)} ({total / 2**30:.2f} GiB)")
    for size, key in largest_entries(folder):
        print(f"  {human(size):>10}  {key}")


def cuda_bytes(folder: Path) -> int:
    """Bytes of the CUDA parts of a one-folder build (CUDA_PATHS): what a CPU-only torch drops."""
    internal = folder / "_internal"
    if not internal.is_dir():
        return 0
    return sum(p.lstat().st_size for p in internal.rglob("*")
               if p.is_file() and not p.is_symlink()
               and any(fnmatch.fnmatch(p.relative_to(internal).as_posix(), pattern) for pattern in CUDA_PATHS))


def cuda_report(folder: Path, variant: str, archive_bytes: int | None = None) -> str:
    """How much of a build the CUDA libraries are and, for a CPU variant that has them, how to
    build from CPU-only torch wheels, with the sizes that gives (estimated: the rest unchanged,
    the archive shrinking in proportion)."""
    total, cuda = folder_size(folder), cuda_bytes(folder)
    if not cuda:
        return f"CUDA libraries: none in {folder.name} (torch without CUDA)"
    lines = [f"CUDA libraries: {human(cuda)} of {human(total)} ({cuda / total:.0%}) come from a CUDA build of torch"]
    if variant == "cpu":
        estimate = f"folder about {human(total - cuda)}"
        if archive_bytes:
            estimate += f", archive about {human(archive_bytes * (total - cuda) / total)}"
        lines += [f"A CPU-only torch leaves them out ({estimate}). The CPU release is built that way:",
                  *(f"    {command}" for command in CPU_ONLY_TORCH)]
    return "\n".join(lines)


# --- step 2: installers -----------------------------------------------------------------------


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


def find_iscc() -> Path | None:
    """Inno Setup's compiler, on PATH or where its installer puts it."""
    found = shutil.which("ISCC") or shutil.which("iscc")
    if found:
        return Path(found)
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        if base and (candidate := Path(base) / "Inno Setup 6" / "ISCC.exe").is_file():
            return candidate
    return None


def iscc_command(iscc: Path, version: str, source: Path, out_dir: Path, base_name: str,
                 variant: str) -> list[str]:
    """ISCC's command line: the .iss reads these /D defines (see its #ifndef block)."""
    return [
        str(iscc),
        f"/DAppVersion={version}",
        f"/DSourceDir={source}",
        f"/DOutputDir={out_dir}",
        f"/DOutputBaseName={base_name}-setup",
        f"/DIconFile={ICONS / 'visioncap.ico'}",
        # setup.exe cannot hold more than about 2 GB: the CUDA variant spans setup-N.bin files
        f"/DDiskSpanning={'yes' if variant == 'cuda' else 'no'}",
        str(ISS),
    ]


def make_windows_installer(folder: Path, out_dir: Path, base_name: str, version: str, variant: str) -> Path:
    iscc = find_iscc()
    if iscc is None:
        print("ISCC.exe (Inno Setup 6) not found: writing a .zip instead. Install Inno Setup from "
              "https://jrsoftware.org/isinfo.php or put ISCC on PATH for a setup.exe.")
        return Path(shutil.make_archive(str(out_dir / base_name), "zip", folder.parent, folder.name))
    run(iscc_command(iscc, version, folder, out_dir, base_name, variant))
    return out_dir / f"{base_name}-setup.exe"


def make_dmg(dist: Path, base_name: str) -> Path:
    """A compressed .dmg with VisionCap.app and a link to /Applications to drag it onto."""
    app = dist / f"{APP_NAME}.app"
    if not app.is_dir():
        raise BuildError(f"{app} is missing: the spec makes it only when PyInstaller runs on macOS")
    dmg = dist / f"{base_name}.dmg"
    with tempfile.TemporaryDirectory(prefix="visioncap-dmg-") as staging:
        run(["ditto", str(app), str(Path(staging) / app.name)])
        (Path(staging) / "Applications").symlink_to("/Applications")
        run(["hdiutil", "create", "-volname", APP_NAME, "-srcfolder", staging, "-fs", "HFS+",
             "-format", "UDZO", "-ov", str(dmg)])
    return dmg


# --- running it -------------------------------------------------------------------------------


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+ " + " ".join(command), flush=True)
    result = subprocess.run(command, check=False, **kwargs)
    if result.returncode != 0:
        raise BuildError(f"{Path(command[0]).name} exited with status {result.returncode}")
    return result


def self_test_env(home: Path) -> dict[str, str]:
    """The environment for running the frozen app with a throw-away home folder and no display.

    On Linux and macOS platformdirs derives every user folder from HOME (XDG_* unset). Windows
    asks the shell for them, which no variable redirects, so there VISIONCAP_HOME stands in.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k != "VISIONCAP_HOME"}
    env["HOME"] = str(home)
    if sys.platform == "win32":
        env["VISIONCAP_HOME"] = str(home)
    if sys.platform.startswith("linux") and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def run_frozen_self_test(dist: Path) -> None:
    """`visioncap-cli --self-test` with HOME in a temp folder (the console twin: it can print on Windows)."""
    with tempfile.TemporaryDirectory(prefix="visioncap-home-") as home:
        started = time.monotonic()
        run([str(frozen_executable(dist, CLI_EXE)), "--self-test"], env=self_test_env(Path(home)))
        print(f"frozen self-test: {time.monotonic() - started:.1f} s wall")


def read_build_info(folder: Path) -> dict:
    """What the spec recorded about a build (variant, model, versions): see BUILD_INFO."""
    path = folder / "_internal" / BUILD_INFO
    if not path.is_file():
        raise BuildError(f"{folder} has no _internal/{BUILD_INFO}: not built by packaging/visioncap.spec")
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dist = args.dist.resolve()
    try:
        if not args.skip_pyinstaller:
            if args.model is not None:
                bundle_files(args.model)  # fail now rather than after the analysis
            if sys.platform.startswith("linux") and (missing := missing_linux_libs()):
                print(f"warning: this machine lacks {', '.join(missing)}, so the build cannot bundle them and "
                      "users must install them (install them here and build again to bundle them)")
            started = time.monotonic()
            run(pyinstaller_command(args.variant, args.model, dist, WORK, args.clean), cwd=ROOT)
            print(f"PyInstaller: {time.monotonic() - started:.0f} s")
        folder = app_dir(dist)
        if not folder.is_dir():
            raise BuildError(f"{folder} is missing: run without --skip-pyinstaller")
        info = read_build_info(folder)
        report_size(folder)
        if args.self_test:
            run_frozen_self_test(dist)
        if args.no_installer:
            print(cuda_report(folder, info["variant"]))
            return 0
        base_name = artifact_name(info["version"], info["variant"], info["model"] is not None)
        started = time.monotonic()
        if sys.platform == "win32":
            artifact = make_windows_installer(folder, dist, base_name, info["version"], info["variant"])
        elif sys.platform == "darwin":
            artifact = make_dmg(dist, base_name)
        else:
            artifact = make_linux_archive(folder, dist, base_name, args.archive)
        size = artifact.stat().st_size
        print(f"{artifact}: {human(size)} ({size / 2**30:.2f} GiB), {time.monotonic() - started:.0f} s")
        print(cuda_report(folder, info["variant"], size))
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
