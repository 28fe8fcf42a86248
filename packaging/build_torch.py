"""Which torch and torchvision the build environment holds, read from their version.py files
without importing them, and whether they make a pair a build can ship.

A mismatched pair builds without complaint and fails at start-up: torchvision's compiled
operators are built against one torch (a CUDA torchvision beside a CPU torch, or 0.29 beside
torch 2.13, cannot load them) and the app then dies with `operator torchvision::nms does not
exist`. The release jobs also say which torch they installed (`--torch-build cpu` for the CPU
archive, whose whole point is leaving the 2.4 GB of CUDA libraries behind).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from build_contents import BuildError

TORCH_BUILDS = ("any", "cpu", "cuda")
# torchvision 0.(N+15) is built for torch 2.N (0.21 for 2.6, 0.29 for 2.14)
TORCHVISION_MINOR_OFFSET = 15
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class Installed:
    """A package's version as its version.py records it (with the local tag, `2.14.1+cpu`) and
    the CUDA version it was built for (None for a CPU build; torchvision works it out at import
    time, so for torchvision only the local tag tells)."""

    name: str
    version: str
    cuda: str | None

    @property
    def release(self) -> tuple[int, int]:
        match = re.match(r"(\d+)\.(\d+)", self.version)
        if not match:
            raise BuildError(f"{self.name}: cannot read the version {self.version!r}")
        return int(match.group(1)), int(match.group(2))

    @property
    def build(self) -> str:
        """The local tag: `cpu`, `cu130`, ...; a wheel without one (PyPI's macOS and Windows
        wheels) is a CPU build."""
        return self.version.partition("+")[2] or "cpu"


def read_version_file(name: str, path: Path) -> Installed:
    """`__version__` and `cuda` from a torch or torchvision version.py."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"{path}: cannot read {name}'s version ({exc.strerror})") from exc
    version = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    cuda = re.search(r"^cuda\s*(?::\s*[^=]+)?=\s*(?:['\"]([^'\"]*)['\"]|None)", text, re.M)
    if not version:
        raise BuildError(f"{path}: no __version__ in {name}'s version.py")
    return Installed(name, version.group(1), (cuda.group(1) or None) if cuda else None)


def installed(name: str) -> Installed:
    """The installed package `name`, found the way `import` would find it (not imported)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(f"{name} is not installed in this environment ({CPU_INDEX} has CPU wheels)")
    return read_version_file(name, Path(next(iter(spec.submodule_search_locations))) / "version.py")


def check_pair(torch: Installed, torchvision: Installed, wanted: str = "any") -> str:
    """One line describing a pair that can ship; BuildError (one line) for one that cannot."""
    if wanted not in TORCH_BUILDS:
        raise BuildError(f"unknown torch build {wanted!r}; choose from {', '.join(TORCH_BUILDS)}")
    major, minor = torch.release
    expected = (0, minor + TORCHVISION_MINOR_OFFSET) if major == 2 else None
    if expected is not None and torchvision.release != expected:
        raise BuildError(f"torchvision {torchvision.version} does not match torch {torch.version} (it needs "
                         f"torchvision 0.{expected[1]}): install both together from one index")
    if torch.build != torchvision.build:
        raise BuildError(f"torch {torch.version} and torchvision {torchvision.version} are different builds "
                         f"({torch.build}, {torchvision.build}): install both from one index, "
                         f"e.g. pip install torch torchvision --index-url {CPU_INDEX}")
    if wanted == "cpu" and torch.cuda is not None:
        raise BuildError(f"--torch-build cpu needs CPU-only wheels, but torch {torch.version} is built for CUDA "
                         f"{torch.cuda}: pip install torch torchvision --index-url {CPU_INDEX}")
    if wanted == "cuda" and torch.cuda is None:
        raise BuildError(f"--torch-build cuda needs a CUDA torch, but torch {torch.version} is a CPU-only build")
    kind = f"CUDA {torch.cuda}" if torch.cuda else "CPU only"
    return f"torch {torch.version} and torchvision {torchvision.version}: one build ({kind})"
