"""What goes into a VisionCap build, shared by visioncap.spec, build.py and the tests: the paths
and names, the modules and files left out (per variant), the optional native packages, the
model bundle's files, the Linux link and library pruning the spec applies, and the artifact's
name. It imports none of the other build_*.py modules, so the spec loads it by its path.
"""

from __future__ import annotations

import fnmatch
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = PACKAGING / "icons"  # .ico and .icns; the .png is the app's own window icon
DEFAULT_MODEL = ROOT / "core" / "assets" / "demo"

APP_NAME = "VisionCap"  # also the platformdirs app name: user data lives under this name
GUI_EXE = "VisionCap"
CLI_EXE = "visioncap-cli"
BUNDLE_ID = "org.visioncap.VisionCap"
BUILD_INFO = "visioncap-build.json"  # written next to the app's data files (under _internal)
VARIANTS = ("cpu", "cuda")

# Modules the app never imports at run time, left out of every build. Training and evaluation
# (matplotlib, pycocoevalcap, nltk), tests, notebooks, Tk. `triton`, `networkx` and `jinja2`
# serve torch.compile/inductor, which the app never calls; torch guards its imports of them.
# `zstandard` comes in through fsspec's hook (fsspec.compression imports it if present): the app
# never reads zstd files, and the build machine has it only to pack the Linux archive.
EXCLUDED_MODULES = (
    "training",
    "tests",
    "benchmarks",
    "matplotlib",
    "pycocoevalcap",
    "pycocotools",
    "nltk",
    "zstandard",
    # transformers imports scipy only where installed (its object-detection losses) and timm
    # only to resize relative position tables of models VisionCap does not use: 78 MB with its
    # libraries. Likewise optional to what imports them, found in the analysis of a build:
    # `cryptography` (requests' pyOpenSSL support, 14 MB), pydantic (huggingface_hub's webhooks
    # server, 6 MB), mypy's parser (3 MB), pandas, and hypothesis (a test library). Not
    # `kernels`: without it transformers refuses to load Florence-2, BLIP and GIT ("Kernels are
    # not available"), as the frozen test of each family found.
    "scipy",
    "cryptography",
    "pydantic",
    "pydantic_core",
    "mypy",
    "ast_serialize",
    "pandas",
    "hypothesis",
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

# The Hugging Face captioners the app offers (Florence-2, BLIP, GIT) run through `transformers`,
# which imports its model and processor modules by name (lazily), so the analysis never sees
# them: they are named here. The processors build their image processors and tokenizers from
# other models' modules through the auto classes (CLIP's image processor, BERT's and BART's
# tokenizers), so those come along too. Collected only where transformers is installed.
TRANSFORMERS_MODELS = ("florence2", "blip", "git", "auto", "clip", "bert", "bart")
# transformers/models/__init__.py names every one of its ~560 models (for type checkers), so the
# analysis would carry them all (43 MB of sources, and scipy for three of them): the build keeps
# TRANSFORMERS_MODELS, the models their modules import and those the auto classes import on the
# way to their tokenizers and image processors (transformers_models_used), and excludes the rest.

# Packages whose data files the analysis does not see and the app needs where they are
# installed: transformers loads `kernels` when it is importable, and kernels reads its
# dependency table (_internals/python_depends.json) on import ("Cannot load dependency data").
DATA_PACKAGES = ("kernels",)

# The oldest macOS the app runs on: torch 2.14's wheel is macosx_14_0_arm64 (PySide6 6.11 needs
# 13.0). The spec writes it into Info.plist (LSMinimumSystemVersion: Finder refuses to open the
# app on older systems) and the app checks it too (visioncap_desktop.system_libraries), for
# visioncap-cli started from a terminal.
MACOS_MINIMUM = "14.0"

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

# Qt plug-ins left out of every build. The GTK3 platform theme would load the desktop's own GTK3
# against the GLib, cairo and pango copies bundled from the build machine, which crashes or fails
# when their versions differ; without it Qt uses its Fusion style and the XDG portal for dialogs.
DROPPED_PLUGINS = ("libqgtk3.so",)


class BuildError(Exception):
    """A problem the build reports in one line and exits on."""


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Print the command and run it; BuildError when it fails."""
    print("+ " + " ".join(command), flush=True)
    result = subprocess.run(command, check=False, **kwargs)
    if result.returncode != 0:
        raise BuildError(f"{Path(command[0]).name} exited with status {result.returncode}")
    return result


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


def transformers_models_used(models: tuple[str, ...] = TRANSFORMERS_MODELS) -> tuple[list[str], list[str]]:
    """(kept, excluded): the transformers model packages the captioners need, and all the
    others as module names for the spec's excludes. ([], []) where transformers is not installed.

    Kept: `models`, the packages importing every module of them loads, and every model whose
    entry in the auto classes' name tables (tokenizers, image processors, processors, feature
    extractors) names a class those packages define: AutoTokenizer finds `BertTokenizer` by
    importing each model package whose table entry says `BertTokenizer` until one has it (ALIGN
    comes before BERT). Found in a child process, so this one stays light.
    """
    code = (
        "import importlib, pkgutil, sys\n"
        "import transformers.models as m\n"
        "from transformers.models.auto import configuration_auto, feature_extraction_auto, "
        "image_processing_auto, processing_auto, tokenization_auto\n"
        f"for name in {list(models)!r}:\n"
        "    pkg = importlib.import_module('transformers.models.' + name)\n"
        "    for info in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + info.name)\n"
        "loaded = {n.split('.')[2] for n in sys.modules if n.startswith('transformers.models.') and n.count('.') >= 2}\n"
        "defined = {k for n, mod in list(sys.modules.items()) if mod is not None and n.startswith('transformers.models.')\n"
        "           and n.count('.') >= 2 and n.split('.')[2] in loaded for k, v in vars(mod).items()\n"
        "           if isinstance(v, type) and v.__module__.startswith('transformers.models.')}\n"
        "def names(value):\n"
        "    if isinstance(value, str): return {value}\n"
        "    if isinstance(value, dict): return set().union(*(names(v) for v in value.values()))\n"
        "    if isinstance(value, (tuple, list)): return set().union(*(names(v) for v in value))\n"
        "    return set()\n"
        "for table in (tokenization_auto.TOKENIZER_MAPPING_NAMES, image_processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES,\n"
        "              processing_auto.PROCESSOR_MAPPING_NAMES, feature_extraction_auto.FEATURE_EXTRACTOR_MAPPING_NAMES):\n"
        "    for model_type, value in table.items():\n"
        "        if names(value) & defined:\n"
        "            loaded.add(configuration_auto.model_type_to_module_name(model_type))\n"
        "every = {i.name for i in pkgutil.iter_modules(m.__path__) if i.ispkg}\n"
        "print(' '.join(sorted(loaded & every)))\n"
        "print(' '.join(sorted(every - loaded)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if "No module named 'transformers'" in result.stderr:
            return [], []
        raise BuildError(f"importing transformers' {', '.join(models)} modules failed: "
                         f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")
    kept, excluded = (line.split() for line in result.stdout.splitlines()[-2:])
    return kept, [f"transformers.models.{name}" for name in excluded]


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


def os_tag() -> str:
    return {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")


def artifact_name(version: str, variant: str, with_model: bool, os_name: str | None = None,
                  arch: str | None = None) -> str:
    """VisionCap-<version>-<os>-<arch>-<variant>[-nomodel]: the installer's file name without suffix."""
    arch = arch or platform.machine().lower().replace("amd64", "x86_64")
    name = f"{APP_NAME}-{version}-{os_name or os_tag()}-{arch}-{variant}"
    return name if with_model else name + "-nomodel"
