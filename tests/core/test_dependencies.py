"""Issue 15, defect 12: the declared dependencies are the ones the code needs, with floors that
work (timm's Block takes proj_bias from 1.0.13; torch.load's weights-only default is hardened
from 2.6)."""

import ast
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer
ROOT = Path(__file__).resolve().parents[2]


def declared(extra: str | None = None) -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["optional-dependencies"][extra] if extra else project["dependencies"]
    requirements = [Requirement(line) for line in lines]
    return {r.name.lower().replace("_", "-"): r for r in requirements}


def imported_by(folder: Path) -> set[str]:
    """Top-level modules that `folder`'s code imports (anywhere in a file), outside the stdlib."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "core"}


def test_every_package_core_imports_is_a_declared_runtime_dependency():
    runtime = declared()
    distributions = packages_distributions()
    for module in imported_by(ROOT / "core"):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        assert names & set(runtime), f"core imports {module}, which pyproject.toml does not declare"


def module_level_imports(path: Path) -> set[str]:
    """Top-level modules a file imports when it is imported (not inside a function)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_transformers_is_imported_only_when_a_transformers_model_loads():
    """transformers runs Florence-2, BLIP and GIT (issue 28), so it is a runtime dependency, but
    no core module imports it at import time: VisionGPT2's caption path and the CLI's argument
    checks stay free of it. torchvision stays a training extra."""
    runtime = declared()
    assert "transformers" in runtime and not runtime["transformers"].specifier.contains("4.55.0")
    assert "torchvision" not in runtime and "torchvision" in declared("training")
    assert "torchvision" not in imported_by(ROOT / "core")
    assert not [p for p in (ROOT / "core").rglob("*.py") if "transformers" in module_level_imports(p)]
    assert any("hf" in line for line in map(str, declared("dev").values()))


def test_floors_exclude_versions_that_cannot_build_or_load_safely():
    runtime = declared()
    timm, torch = runtime["timm"].specifier, runtime["torch"].specifier
    assert not timm.contains("1.0.12") and timm.contains("1.0.13"), "timm 1.0.12's Block has no proj_bias"
    assert not torch.contains("2.5.1") and torch.contains("2.6.0") and torch.contains("2.14.1")
