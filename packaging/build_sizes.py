"""How large a build is and what the bytes are for: the largest parts of the folder, and how much
of it CUDA is, with the way to a smaller CPU variant (PyTorch's CPU-only wheels) and what its
archive would weigh (the rest of the folder compressed alone: CUDA's libraries compress far worse
than the rest, so a proportion of the archive overestimates it twofold)."""

from __future__ import annotations

import fnmatch
import tarfile
from collections.abc import Callable
from pathlib import Path

# What a CUDA torch adds to a build: the parts cuda_bytes sums (paths under _internal).
CUDA_PATHS = ("nvidia/*", "cuda/*", "torch/lib/*cuda*", "torch/lib/libcaffe2_nvrtc*", "torch/lib/libnvrtc*")
# The release procedure for the small CPU variant: a build environment with PyTorch's CPU wheels.
CPU_ONLY_TORCH = (
    "python -m venv build/venv-cpu",
    "build/venv-cpu/bin/pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu",
    'build/venv-cpu/bin/pip install -e ".[packaging]"',
    "build/venv-cpu/bin/python packaging/build.py --torch-build cpu --self-test",
)


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


def is_cuda(rel: str) -> bool:
    """Whether a path under _internal is one of CUDA_PATHS."""
    return any(fnmatch.fnmatch(rel, pattern) for pattern in CUDA_PATHS)


def cuda_bytes(folder: Path) -> int:
    """Bytes of the CUDA parts of a one-folder build (CUDA_PATHS): what a CPU-only torch drops."""
    internal = folder / "_internal"
    if not internal.is_dir():
        return 0
    return sum(p.lstat().st_size for p in internal.rglob("*")
               if p.is_file() and not p.is_symlink() and is_cuda(p.relative_to(internal).as_posix()))


class _Counter:
    """A sink that only counts what is written to it."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data) -> int:
        self.bytes += len(data)
        return len(data)


def compressed_without_cuda(folder: Path, level: int = 6) -> int:
    """Bytes of the .tar.zst the folder makes without its CUDA parts, packed as the archive is
    (zstd at `level` on every core) into a counter: what the CPU-wheel build's archive weighs,
    give or take the few files a CPU torch has that a CUDA one does not."""
    import zstandard

    internal = folder / "_internal"
    counter = _Counter()
    compressor = zstandard.ZstdCompressor(level=level, threads=-1)
    with compressor.stream_writer(counter, closefd=False) as stream, \
            tarfile.open(fileobj=stream, mode="w|") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            if path.is_relative_to(internal) and is_cuda(path.relative_to(internal).as_posix()):
                continue
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return counter.bytes


def cuda_report(folder: Path, variant: str, compress: Callable[[Path], int] | None = compressed_without_cuda) -> str:
    """How much of a build the CUDA libraries are and, for a CPU variant that has them, how to
    build from CPU-only torch wheels, with the sizes that gives: the folder without them, and the
    archive as `compress` measures it (None: not measured)."""
    total, cuda = folder_size(folder), cuda_bytes(folder)
    if not cuda:
        return f"CUDA libraries: none in {folder.name} (torch without CUDA)"
    lines = [f"CUDA libraries: {human(cuda)} of {human(total)} ({cuda / total:.0%}) come from a CUDA build of torch"]
    if variant == "cpu":
        estimate = f"folder about {human(total - cuda)}"
        if compress is not None:
            estimate += f", .tar.zst {human(compress(folder))} (the rest of this build compressed alone)"
        lines += [f"A CPU-only torch leaves them out ({estimate}). The CPU release is built that way:",
                  *(f"    {command}" for command in CPU_ONLY_TORCH)]
    return "\n".join(lines)
