"""The build modules of packaging/ made importable, as when `python packaging/build.py` runs: the
folder itself goes on sys.path (so the tests here `import build_contents`, `build_linux`, ...).
It is no package: a folder named `packaging` with an __init__.py would shadow the PyPI library
of that name. build.py, the driver, is loaded under a name of its own (`build` is a PyPI package
too)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
if str(PACKAGING) not in sys.path:
    sys.path.append(str(PACKAGING))


def load_build_module():
    name = "visioncap_packaging_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PACKAGING / "build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def build_module():
    return load_build_module()
