"""Build VisionCap's installer for the OS this runs on.

    python packaging/build.py                         # CPU variant, demo bundle inside
    python packaging/build.py --variant cuda          # keeps the CUDA libraries torch loads on a GPU
    python packaging/build.py --bundle-model BUNDLE   # ship this bundle as the built-in model
    python packaging/build.py --no-model              # no model inside: the app offers a download
    python packaging/build.py --self-test             # also run the frozen app's --self-test
    python packaging/build.py --skip-pyinstaller      # wrap the existing dist/VisionCap again
    python packaging/build.py --torch-build cpu       # refuse a CUDA torch (the CPU release job)

Step 1 runs PyInstaller with packaging/visioncap.spec: a one-folder app in dist/VisionCap with two
executables, `VisionCap` (windowed) and `visioncap-cli` (console), sharing one _internal folder; on
Linux, where the two would be identical, `visioncap-cli` is a link to `VisionCap`.
Step 2 wraps that folder the way the OS expects:

- Linux:   dist/VisionCap-<version>-linux-<arch>-<variant>.tar.zst and .tar.gz (one pass; --archive
           zst or gz for one) holding the folder, install.sh, uninstall.sh, a .desktop file and the
           icon; the newest glibc the bundled files need goes into the build info first;
- Windows: an Inno Setup installer from packaging/windows/visioncap.iss when ISCC.exe is found,
           otherwise a .zip of the folder;
- macOS:   dist/VisionCap.app (the spec's BUNDLE), packed into a .dmg with hdiutil.

This file is the driver; the rest sits beside it, one module per concern: build_contents.py
(what a build holds: names, the lists of what is left out, the model bundle's files; the spec
loads it too), build_linux.py (the Linux archive), build_windows_macos.py (Inno Setup, .dmg) and
build_sizes.py (the size and CUDA report). Running this file puts them on sys.path.

PyInstaller keeps its cache in build/pyinstaller; both variants share it (they differ only after
the analysis), so the second variant and a rebuild after small changes are much quicker.

Built with a CUDA torch (the default wheel on Linux), even the CPU variant carries the CUDA
libraries torch links; the build says how much of the folder they are and what the archive
would weigh without them (the rest compressed alone), and how to build from PyTorch's CPU-only
wheels instead (CPU_ONLY_TORCH), which is the release procedure for the CPU variant. Before
PyInstaller runs, build_torch.py checks that torch and torchvision are one build.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from build_contents import (
    APP_NAME,
    BUILD_INFO,
    CLI_EXE,
    DEFAULT_MODEL,
    PACKAGING,
    ROOT,
    VARIANTS,
    BuildError,
    artifact_name,
    bundle_files,
    run,
)
from build_linux import ARCHIVE_FORMATS, make_linux_archives, missing_linux_libs, record_glibc
from build_sizes import cuda_report, human, report_size
from build_torch import TORCH_BUILDS, check_pair, installed
from build_windows_macos import make_dmg, make_windows_installer

SPEC = PACKAGING / "visioncap.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"


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
    parser.add_argument("--archive", choices=(*ARCHIVE_FORMATS, "both"), default="both",
                        help="Linux archives: both (default: a .tar.zst, smaller and several times faster to "
                             "unpack, and a .tar.gz for systems without zstd, packed in one pass), zst or gz")
    parser.add_argument("--torch-build", choices=TORCH_BUILDS, default="any",
                        help="which torch the environment must hold: the release jobs pass cpu (the CPU archive, "
                             "from PyTorch's CPU-only wheels) or cuda; a mismatched torch/torchvision pair is "
                             "refused whatever this says (default: any)")
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


# --- running it -------------------------------------------------------------------------------


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
            print(check_pair(installed("torch"), installed("torchvision"), args.torch_build))
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
        if sys.platform.startswith("linux") and "glibc" not in info:
            info = record_glibc(folder)
        if info.get("glibc"):
            print(f"needs glibc {info['glibc']} ({info['distributions']}), because of "
                  f"{', '.join(info['glibc_needed_by'])}")
        report_size(folder)
        if args.self_test:
            run_frozen_self_test(dist)
        if args.no_installer:
            print(cuda_report(folder, info["variant"], compress=None))
            return 0
        base_name = artifact_name(info["version"], info["variant"], info["model"] is not None)
        started = time.monotonic()
        if sys.platform == "win32":
            artifacts = [make_windows_installer(folder, dist, base_name, info["version"], info["variant"])]
        elif sys.platform == "darwin":
            artifacts = [make_dmg(dist, base_name)]
        else:
            formats = ARCHIVE_FORMATS if args.archive == "both" else (args.archive,)
            artifacts = make_linux_archives(folder, dist, base_name, formats)
        for artifact in artifacts:
            size = artifact.stat().st_size
            print(f"{artifact}: {human(size)} ({size / 2**30:.2f} GiB)")
        print(f"packed in {time.monotonic() - started:.0f} s")
        print(cuda_report(folder, info["variant"]))
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
