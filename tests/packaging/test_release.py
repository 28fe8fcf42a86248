"""The release pipeline without running it: the workflow's jobs and the options they pass to
build.py, the local runner of its Linux job, the torch/torchvision pair check, the glibc a build
records, and bare_root_check's clean-up."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import build_linux
import build_torch
import pytest
import yaml

from tests.packaging.conftest import PACKAGING, ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load_module(name: str, path: Path):
    import importlib.util

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def job_runner():
    return load_module("visioncap_run_linux_job", PACKAGING / "run_linux_job.py")


# --- the workflow -------------------------------------------------------------------------------


def steps(job: dict) -> dict[str, dict]:
    return {step["name"]: step for step in job["steps"]}


def test_workflow_builds_every_installer(workflow):
    jobs = workflow["jobs"]
    assert set(jobs) == {"linux", "windows", "macos"}
    matrix = {entry["variant"]: entry for entry in jobs["linux"]["strategy"]["matrix"]["include"]}
    assert matrix["cpu"]["torch-index"] == build_torch.CPU_INDEX and matrix["cpu"]["torch-build"] == "cpu"
    assert matrix["cuda"]["torch-build"] == "cuda"
    assert jobs["windows"]["runs-on"].startswith("windows") and jobs["macos"]["runs-on"] == "macos-14"
    windows, macos = steps(jobs["windows"]), steps(jobs["macos"])
    assert f"--index-url {build_torch.CPU_INDEX}" in windows["Install torch and torchvision"]["run"]
    assert "--index-url" not in macos["Install torch and torchvision"]["run"]  # PyPI: CPU (and MPS) builds
    assert "innosetup" in windows["Install Inno Setup 6"]["run"]
    assert "notarytool submit" in macos["Sign and notarise the disk image"]["run"]
    assert workflow["permissions"] == {"contents": "read"}


def test_every_job_self_tests_runs_the_slow_tests_and_uploads(workflow):
    for name, job in workflow["jobs"].items():
        runs = [step.get("run", "") for step in job["steps"]]
        assert any("packaging/build.py" in run and "--self-test" in run for run in runs), name
        (slow,) = [step for step in job["steps"] if step.get("run", "").strip() == "python -m pytest -m slow tests/packaging"]
        assert slow["env"] == {"VISIONCAP_FROZEN_DIST": "dist"}, name
        upload = job["steps"][-1]
        assert upload["uses"].startswith("actions/upload-artifact@") and upload["with"]["if-no-files-found"] == "error"


def test_build_py_accepts_every_command_line_the_workflow_gives_it(workflow, build_module):
    values = {"$VARIANT": "cuda", "$TORCH_BUILD": "cuda"}
    seen = 0
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                if "packaging/build.py" not in line:
                    continue
                words = [values.get(word, word) for word in shlex.split(line)]
                args = words[words.index("packaging/build.py") + 1:]
                build_module.parse_args(args)  # SystemExit on an option build.py does not have
                seen += 1
    assert seen == 5  # Linux: one; Windows and macOS: the app, then the installer


def test_actions_are_pinned_by_commit_and_checkout_keeps_no_credentials(workflow):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert SHA_PIN.match(step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_signing_runs_only_where_its_secrets_exist(workflow):
    """A secret appears only in the job's HAVE_* test and in the env of the step that uses it,
    and every such step is guarded by that test."""
    for name, job in workflow["jobs"].items():
        for key, value in job.get("env", {}).items():
            if "secrets." in value:
                assert key.startswith("HAVE_") and value.endswith("!= '' }}"), (name, key)
        for step in job["steps"]:
            uses_secret = any("secrets." in str(v) for v in step.get("env", {}).values())
            assert "secrets." not in step.get("run", "")
            if uses_secret:
                assert re.fullmatch(r"env\.HAVE_\w+ == 'true'", step.get("if", "")), step["name"]
    guarded = [step["name"] for job in workflow["jobs"].values() for step in job["steps"] if "if" in step]
    assert guarded == ["Sign the executables", "Sign the installer", "Sign the app", "Sign and notarise the disk image"]


# --- the local runner of the Linux job --------------------------------------------------------


def test_job_runner_fills_in_the_matrix_and_refuses_other_expressions(job_runner, workflow):
    job = workflow["jobs"]["linux"]
    matrix = job_runner.matrix_entry(job, "cpu")
    assert job_runner.substitute("--index-url ${{ matrix.torch-index }}", matrix) == \
        f"--index-url {build_torch.CPU_INDEX}"
    with pytest.raises(job_runner.JobError, match=r"cannot evaluate \$\{\{ secrets.X \}\} locally"):
        job_runner.substitute("${{ secrets.X }}", matrix)
    with pytest.raises(job_runner.JobError, match="no variant 'rocm'"):
        job_runner.matrix_entry(job, "rocm")
    build = next(step for step in job["steps"] if step["name"] == "Build and self-test")
    env = job_runner.environment(job, build, matrix, {"TORCH_BUILD": "any"})
    assert env["VARIANT"] == "cpu" and env["TORCH_BUILD"] == "any"


def test_job_runner_has_a_stand_in_for_every_action_of_the_linux_job(job_runner, workflow):
    actions = {step["uses"].split("@")[0] for step in workflow["jobs"]["linux"]["steps"] if "uses" in step}
    assert actions == {"actions/checkout", "actions/setup-python", "actions/upload-artifact"}
    source = (PACKAGING / "run_linux_job.py").read_text(encoding="utf-8")
    for action in actions:
        assert f'uses.startswith("{action}@")' in source
    assert set(job_runner.SKIPPED_BY_DEFAULT) <= {step["name"] for step in workflow["jobs"]["linux"]["steps"]}


def test_job_runner_lists_the_artifact_or_fails_without_one(job_runner, workflow, tmp_path, capsys):
    upload = workflow["jobs"]["linux"]["steps"][-1]
    matrix = {"variant": "cpu"}
    with pytest.raises(job_runner.JobError, match=r"no file matches dist/\*\.tar\.zst, dist/\*\.tar\.gz"):
        job_runner.list_uploads(upload, matrix, tmp_path)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "VisionCap-0-linux-x86_64-cpu.tar.gz").write_bytes(b"x" * 2_000_000)
    job_runner.list_uploads(upload, matrix, tmp_path)
    out = capsys.readouterr().out
    assert "artifact visioncap-linux-x86_64-cpu:" in out and "VisionCap-0-linux-x86_64-cpu.tar.gz  2.0 MB" in out


# --- torch and torchvision: one build -----------------------------------------------------------


def version_file(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "version.py").write_text(text)
    return folder / "version.py"


def test_version_files_are_read_without_importing(tmp_path):
    torch = build_torch.read_version_file("torch", version_file(
        tmp_path / "torch", "__version__ = '2.14.1+cpu'\ndebug = False\ncuda: Optional[str] = None\n"))
    assert (torch.version, torch.cuda, torch.build, torch.release) == ("2.14.1+cpu", None, "cpu", (2, 14))
    cuda = build_torch.read_version_file("torch", version_file(
        tmp_path / "cu", "__version__ = '2.14.1+cu130'\ncuda: Optional[str] = '13.0'\n"))
    assert (cuda.cuda, cuda.build) == ("13.0", "cu130")
    vision = build_torch.read_version_file("torchvision", version_file(
        tmp_path / "tv", "__version__ = '0.29.1'\nfrom torchvision.extension import _check_cuda_version\n"))
    assert (vision.build, vision.cuda) == ("cpu", None)  # no tag: PyPI's macOS and Windows wheels
    with pytest.raises(build_torch.BuildError, match="no __version__"):
        build_torch.read_version_file("torch", version_file(tmp_path / "bad", "x = 1\n"))


CPU_TORCH = build_torch.Installed("torch", "2.14.1+cpu", None)
CPU_VISION = build_torch.Installed("torchvision", "0.29.1+cpu", None)
CUDA_TORCH = build_torch.Installed("torch", "2.14.1+cu130", "13.0")
CUDA_VISION = build_torch.Installed("torchvision", "0.29.1+cu130", None)


@pytest.mark.parametrize(("torch", "vision", "wanted", "error"), [
    (CPU_TORCH, CPU_VISION, "cpu", None),
    (CPU_TORCH, CPU_VISION, "any", None),
    (CUDA_TORCH, CUDA_VISION, "cuda", None),
    (build_torch.Installed("torch", "2.14.1", None), build_torch.Installed("torchvision", "0.29.1", None), "cpu", None),
    (CPU_TORCH, CUDA_VISION, "any", r"different builds \(cpu, cu130\): install both from one index"),
    (build_torch.Installed("torch", "2.13.0+cpu", None), CPU_VISION, "any",
     r"torchvision 0\.29\.1\+cpu does not match torch 2\.13\.0\+cpu \(it needs torchvision 0\.28\)"),
    (CUDA_TORCH, CUDA_VISION, "cpu", r"--torch-build cpu needs CPU-only wheels, but torch 2\.14\.1\+cu130"),
    (CPU_TORCH, CPU_VISION, "cuda", "needs a CUDA torch"),
])
def test_torch_pair(torch, vision, wanted, error):
    if error is None:
        assert build_torch.check_pair(torch, vision, wanted).startswith(f"torch {torch.version} and torchvision")
    else:
        with pytest.raises(build_torch.BuildError, match=error):
            build_torch.check_pair(torch, vision, wanted)


def test_build_refuses_a_mismatched_pair_in_one_line_before_pyinstaller(build_module, monkeypatch, capsys):
    pairs = {"torch": CPU_TORCH, "torchvision": CUDA_VISION}
    monkeypatch.setattr(build_module, "installed", pairs.__getitem__)
    monkeypatch.setattr(build_module, "run", lambda *a, **k: pytest.fail("PyInstaller must not run"))
    assert build_module.main(["--no-model"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("build.py: torch 2.14.1+cpu and torchvision 0.29.1+cu130 are different")


# --- the glibc a Linux build needs --------------------------------------------------------------

OBJDUMP = b"""
Version References:
  required from libm.so.6:
    0x06969194 0x00 09 GLIBC_2.29
  required from libc.so.6:
    0x09691a75 0x00 04 GLIBC_2.2.5
    0x06969197 0x00 07 GLIBC_2.35
    0x0d696917 0x00 11 GLIBC_2.17
  required from libstdc++.so.6:
    0x0297f871 0x00 03 GLIBCXX_3.4.30
"""


def test_glibc_versions_come_from_the_version_references():
    assert build_linux.glibc_versions(OBJDUMP) == {(2, 29), (2, 2), (2, 35), (2, 17)}
    assert build_linux.glibc_versions(b"no versions") == set()


def test_required_glibc_is_the_newest_any_elf_file_needs(tmp_path):
    app = tmp_path / "VisionCap"
    (app / "_internal" / "torch").mkdir(parents=True)
    needs = {"VisionCap": b"GLIBC_2.17", "_internal/libpython3.11.so.1.0": b"GLIBC_2.35 GLIBC_2.2.5",
             "_internal/torch/libtorch_cpu.so": b"GLIBC_2.28", "_internal/libstdc++.so.6": b"GLIBC_2.35"}
    for rel in needs:
        (app / rel).write_bytes(b"\x7fELF" + rel.encode())
    (app / "_internal" / "notes.txt").write_text("GLIBC_2.99 in a text file is no requirement")
    (app / "_internal" / "link.so").symlink_to("libstdc++.so.6")

    def fake_objdump(path: Path) -> bytes:
        return needs[path.relative_to(app).as_posix()]

    assert build_linux.required_glibc(app, fake_objdump) == (
        (2, 35), ["_internal/libpython3.11.so.1.0", "_internal/libstdc++.so.6"])
    (app / "_internal" / build_linux.BUILD_INFO).write_text(json.dumps({"variant": "cpu"}))
    info = build_linux.record_glibc(app, fake_objdump)
    assert json.loads((app / "_internal" / build_linux.BUILD_INFO).read_text()) == info
    assert info["variant"] == "cpu" and info["glibc"] == "2.35"
    assert info["distributions"] == "Debian 12, Ubuntu 22.04, Fedora 36, RHEL 10, openSUSE Leap 15.6 or newer"
    with pytest.raises(build_linux.BuildError, match="no ELF file needs glibc"):
        build_linux.required_glibc(tmp_path / "VisionCap" / "_internal" / "torch", lambda path: b"")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads real ELF files with objdump")
def test_required_glibc_reads_a_real_library():
    import shutil

    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) not installed")
    python_lib = Path(sys.executable).resolve().parent
    glibc, files = build_linux.required_glibc(python_lib)
    assert (2, 2) <= glibc <= (2, 99) and files


def test_supported_distributions_start_at_the_first_release_with_that_glibc():
    assert build_linux.supported_distributions((2, 36)) == \
        "Debian 12, Ubuntu 24.04, Fedora 37, RHEL 10, openSUSE Leap 15.6 or newer"
    assert build_linux.supported_distributions((2, 28)).startswith("Debian 11, Ubuntu 20.04, Fedora 36, RHEL 8,")


# --- bare_root_check leaves only what it says ---------------------------------------------------


def test_bare_root_check_removes_what_it_made_and_says_what_it_left(tmp_path):
    check = load_module("visioncap_bare_root_check", PACKAGING / "linux" / "bare_root_check.py")
    root = tmp_path / "work"
    for name in ("base", "bare", "named", "app"):
        (root / name / "etc").mkdir(parents=True)
        (root / name / "etc" / "file").write_bytes(b"x" * 1_000_000)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"proc {root}/named/proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n")
    lines = check.clean_up(root, mounts=mounts)
    assert lines[0] == f"removed: {root / 'bare'} (1 MB)"
    assert lines[1].startswith(f"left: {root / 'named'} (1 MB): still mounted at {root}/named/proc")
    assert lines[2] == f"removed: {root / 'app'} (1 MB)"
    assert lines[3].startswith(f"left: {root / 'base'} (1 MB), the minimal Debian root the next run reuses")
    assert sorted(p.name for p in root.iterdir()) == ["base", "named"]
    mounts.write_text("")
    assert check.clean_up(root, remove_base=True, mounts=mounts) == [
        f"removed: {root / 'named'} (1 MB)", f"removed: {root / 'base'} (1 MB)", f"removed: {root}"]
    assert not root.exists()
