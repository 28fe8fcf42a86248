"""Fast checks of the packaging files: no PyInstaller run (that is test_frozen_build.py, slow)."""

from __future__ import annotations

import ast
import configparser
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import build_contents
import build_linux
import build_sizes
import build_windows_macos
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "visioncap.spec"


def spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name]


def keyword(call: ast.Call, name: str) -> ast.expr:
    return next(k.value for k in call.keywords if k.arg == name)


def string_constants(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


# --- the spec -----------------------------------------------------------------------------------


def test_spec_names_the_hidden_imports_torchvision_needs():
    (analysis,) = calls(spec_tree(), "Analysis")
    hidden = string_constants(keyword(analysis, "hiddenimports"))
    assert "torchvision._C_stable" in hidden
    assert "torchvision.image_stable" not in hidden  # its codecs are left out (ALWAYS_DROPPED)
    collected = {ast.unparse(c.args[0]) for c in calls(keyword(analysis, "hiddenimports"), "collect_submodules")}
    assert collected == {"'core'", "'visioncap_desktop'", "name"}


def test_spec_carries_each_optional_native_package_that_is_installed():
    """pillow-heif, rawpy, exiv2 (or pyexiv2) and filelock: modules, shared libraries and data
    files, for those importable on the build machine only."""
    assert {"pillow_heif", "rawpy", "exiv2", "pyexiv2", "filelock"} <= set(build_contents.OPTIONAL_PACKAGES)
    tree = spec_tree()
    (guard,) = [node for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and ast.unparse(node.targets[0]) == "optional"]
    assert "vc.OPTIONAL_PACKAGES" in ast.unparse(guard.value)
    assert "importlib.util.find_spec(name) is not None" in ast.unparse(guard.value)
    (analysis,) = calls(tree, "Analysis")
    for argument, collector in (("binaries", "collect_dynamic_libs"), ("datas", "collect_data_files"),
                                ("hiddenimports", "collect_submodules")):
        comprehension = ast.unparse(keyword(analysis, argument))
        assert "for name in optional for" in comprehension and f"{collector}(name)" in comprehension


def test_spec_collects_the_data_files():
    (analysis,) = calls(spec_tree(), "Analysis")
    datas = keyword(analysis, "datas")
    assert {ast.unparse(c.args[0]) for c in calls(datas, "collect_data_files")} >= {"'timm'", "'tokenizers'"}
    assert "visioncap_desktop/assets" in string_constants(datas)
    # the model bundle lands where core.bundles.resources.demo_bundle_path() looks under sys._MEIPASS
    assert any(s.startswith("core/assets/demo/") for s in string_constants(spec_tree()))
    assert "vc.EXCLUDED_MODULES" in ast.unparse(keyword(analysis, "excludes"))


def test_spec_makes_a_windowed_app_and_a_console_cli_in_one_folder():
    tree = spec_tree()
    executables = {ast.unparse(keyword(c, "name")): keyword(c, "console").value for c in calls(tree, "EXE")}
    assert executables == {"vc.GUI_EXE": False, "vc.CLI_EXE": True}
    (collect,) = calls(tree, "COLLECT")
    assert ast.unparse(collect.args[0]) == "*executables"
    # on Linux the console twin is not built but linked (build.link_cli) after COLLECT
    source = SPEC.read_text(encoding="utf-8")
    assert "if not sys.platform.startswith(\"linux\"):\n    executables.append(EXE(" in source
    assert "vc.link_cli(Path(DISTPATH) / vc.APP_NAME)" in source
    assert len(calls(tree, "BUNDLE")) == 1  # the .app on macOS
    assert (build_contents.GUI_EXE, build_contents.CLI_EXE) == ("VisionCap", "visioncap-cli")


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_link_cli_makes_the_console_twin_a_link_on_linux_only(tmp_path):
    app = fake_app(tmp_path / "VisionCap")
    assert not build_contents.link_cli(app, "darwin")
    assert not (app / "visioncap-cli").is_symlink()
    assert build_contents.link_cli(app, "linux")
    assert (app / "visioncap-cli").is_symlink()
    assert str((app / "visioncap-cli").readlink()) == "VisionCap"  # relative: the folder can move
    assert build_contents.link_cli(app, "linux")  # again: replaces its own link


def test_excluded_modules_leave_out_training_tests_and_unused_qt():
    excluded = set(build_contents.EXCLUDED_MODULES)
    assert {"training", "tests", "matplotlib", "pycocoevalcap", "nltk", "tkinter", "IPython",
            "zstandard", "scipy", "cryptography", "triton", "PySide6.QtQml", "PySide6.QtQuick"} <= excluded
    # what the app does import must never be excluded: transformers runs the Hugging Face captioners
    assert not excluded & {"torch", "torchvision", "timm", "tokenizers", "safetensors", "PIL",
                           "platformdirs", "huggingface_hub", "hf_xet", "httpx", "anyio", "requests",
                           "core", "visioncap_desktop", "transformers", "kernels",
                           "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "sympy"}


def test_spec_collects_the_hugging_face_captioners_modules():
    """transformers imports its models by name: Florence-2, BLIP and GIT with their processors'
    image processors and tokenizers (CLIP, BERT, BART) must be named to the analysis."""
    assert {"florence2", "blip", "git", "auto", "clip", "bert", "bart"} <= set(build_contents.TRANSFORMERS_MODELS)
    (analysis,) = calls(spec_tree(), "Analysis")
    assert "for name in hf_models for module in collect_submodules(name)" in ast.unparse(keyword(analysis, "hiddenimports"))
    source = SPEC.read_text(encoding="utf-8")
    assert 'f"transformers.models.{name}" for name in vc.TRANSFORMERS_MODELS' in source
    transformers = pytest.importorskip("transformers")
    models = Path(transformers.__file__).parent / "models"
    for name in build_contents.TRANSFORMERS_MODELS:
        assert (models / name / "__init__.py").is_file(), f"transformers {transformers.__version__} has no {name}"


def test_transformers_models_used_keeps_what_the_captioners_import_and_excludes_the_rest():
    pytest.importorskip("transformers")
    kept, excluded = build_contents.transformers_models_used(("bert",))
    assert "bert" in kept and "florence2" not in kept
    assert "transformers.models.llama" in excluded and "transformers.models.florence2" in excluded
    assert not {f"transformers.models.{name}" for name in kept} & set(excluded)
    assert "scipy" in build_contents.EXCLUDED_MODULES


def test_entry_script_calls_freeze_support_first():
    tree = ast.parse((ROOT / "packaging" / "visioncap_entry.py").read_text(encoding="utf-8"))
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    assert ast.unparse(main.body[0]) == "multiprocessing.freeze_support()"


# --- build.py -----------------------------------------------------------------------------------


def test_default_arguments_build_the_cpu_variant_with_the_demo_bundle(build_module, monkeypatch):
    monkeypatch.delenv("VISIONCAP_VARIANT", raising=False)
    args = build_module.parse_args([])
    assert args.variant == "cpu"
    assert args.model == ROOT / "core" / "assets" / "demo"
    assert not (args.skip_pyinstaller or args.no_installer or args.self_test)


def test_model_choice_arguments(build_module, tmp_path):
    assert build_module.parse_args(["--no-model"]).model is None
    assert build_module.parse_args(["--bundle-model", str(tmp_path)]).model == tmp_path.resolve()
    assert build_module.parse_args(["--variant", "cuda"]).variant == "cuda"
    with pytest.raises(SystemExit):
        build_module.parse_args(["--no-model", "--bundle-model", str(tmp_path)])
    with pytest.raises(SystemExit):
        build_module.parse_args(["--variant", "rocm"])


def test_pyinstaller_command_passes_the_choices_to_the_spec(build_module, tmp_path):
    command = build_module.pyinstaller_command("cuda", tmp_path, tmp_path / "dist", tmp_path / "work")
    assert command[1:4] == ["-m", "PyInstaller", str(SPEC)]
    assert command[command.index("--") + 1:] == ["--variant", "cuda", "--bundle-model", str(tmp_path)]
    assert command[command.index("--distpath") + 1] == str(tmp_path / "dist")
    command = build_module.pyinstaller_command("cpu", None)
    assert command[-3:] == ["--variant", "cpu", "--no-model"]


def test_read_version_matches_pyproject():
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        assert build_contents.read_version() == tomllib.load(f)["project"]["version"]


def test_artifact_names():
    assert build_contents.artifact_name("1.2.0", "cpu", True, "linux", "x86_64") == "VisionCap-1.2.0-linux-x86_64-cpu"
    assert build_contents.artifact_name("1.2.0", "cuda", False, "windows", "amd64") == \
        "VisionCap-1.2.0-windows-amd64-cuda-nomodel"


@pytest.mark.parametrize(("name", "cpu", "cuda"), [
    ("libtorch_cpu.so", True, True),
    ("torch/lib/libtorch_cuda.so", True, True),  # linked by libtorch.so: must stay
    ("nvidia/cu13/lib/libcublasLt.so.13", True, True),
    ("nvidia/cudnn/lib/libcudnn.so.9", True, True),
    ("nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9", False, True),
    ("nvidia/cudnn/lib/libcudnn_graph.so.9", False, True),
    ("torch/lib/libtorch_cuda_linalg.so", False, True),
    ("nvidia/cu13/lib/libcusolver.so.12", False, True),
    ("nvidia/cu13/lib/libnvrtc-builtins.so.13.0", False, True),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", True, True),
    ("torch/lib/libcaffe2_nvrtc.so", False, True),
    ("cuda/bindings/runtime.cpython-311-x86_64-linux-gnu.so", False, True),
    ("cuda/bindings/_internal/nvjitlink.cpython-311-x86_64-linux-gnu.so", False, True),
    ("torch/lib/libc10_cuda.so", True, True),
    # never used: protobuf's compiler, torchvision's image codecs and the nvJPEG they link
    ("torch/bin/protoc", False, False),
    ("torch/bin/protoc-3.13.0.0", False, False),
    ("torchvision/image_stable.so", False, False),
    ("torchvision.libs/libnvjpeg.36e11081.so.13", False, False),
    ("libnvjpeg.36e11081.so.13", False, False),
    ("torchvision/_C_stable.so", True, True),
    ("pillow_heif.libs/libheif-e72ea93c.so.1.23.6", True, True),
])
def test_cpu_variant_drops_only_libraries_loaded_on_first_gpu_use(name, cpu, cuda):
    assert build_contents.keep_binary(name, "cpu") is cpu
    assert build_contents.keep_binary(name, "cuda") is cuda


def fake_bundle(folder: Path) -> Path:
    folder.mkdir(parents=True)
    files = {"config.json": b"{}", "model.safetensors": b"x" * 10, "tokenizer.json": b"{}"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "notes.txt").write_text("not shipped")
    manifest = {"name": "fake", "files": {n: {"bytes": len(d), "sha256": ""} for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_bundle_files_lists_manifest_files_only(tmp_path):
    bundle = fake_bundle(tmp_path / "b")
    names = [p.name for p in build_contents.bundle_files(bundle)]
    assert names == ["manifest.json", "config.json", "model.safetensors", "tokenizer.json"]


def test_bundle_files_refuses_incomplete_bundles(tmp_path):
    with pytest.raises(build_contents.BuildError, match=r"no manifest\.json"):
        build_contents.bundle_files(tmp_path)
    bundle = fake_bundle(tmp_path / "b")
    (bundle / "model.safetensors").write_bytes(b"x")
    with pytest.raises(build_contents.BuildError, match=r"model\.safetensors has 1 bytes"):
        build_contents.bundle_files(bundle)
    (bundle / "model.safetensors").unlink()
    with pytest.raises(build_contents.BuildError, match="missing"):
        build_contents.bundle_files(bundle)


def test_bundle_files_accepts_a_real_bundle(tiny_bundle):
    assert {p.name for p in build_contents.bundle_files(tiny_bundle)} == {
        "manifest.json", "config.json", "model.safetensors", "tokenizer.json"}


def test_largest_entries_groups_by_package_folder(tmp_path):
    lib = tmp_path / "_internal" / "torch" / "lib"
    lib.mkdir(parents=True)
    (lib / "a.so").write_bytes(b"x" * 300)
    (lib / "b.so").write_bytes(b"x" * 200)
    (tmp_path / "_internal" / "base_library.zip").write_bytes(b"x" * 100)
    (tmp_path / "VisionCap").write_bytes(b"x" * 150)
    (lib / "deeper").mkdir()
    (lib / "deeper" / "c.so").write_bytes(b"x" * 50)
    assert build_sizes.largest_entries(tmp_path) == [(300, "torch/lib/a.so"), (200, "torch/lib/b.so"),
                                                      (150, "VisionCap"), (100, "base_library.zip"),
                                                      (50, "torch/lib/deeper")]
    assert build_sizes.folder_size(tmp_path) == 800
    assert build_sizes.human(800) == "1 KB"
    assert build_sizes.human(3_383_844_452) == "3.38 GB"


# --- Linux: .desktop, archive, install.sh ----------------------------------------------------


def test_desktop_entry():
    text = build_linux.desktop_entry("/opt/VisionCap/VisionCap", "visioncap")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "VisionCap"
    assert entry["Exec"] == '"/opt/VisionCap/VisionCap" %f'
    assert entry["Icon"] == "visioncap"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_validates(tmp_path):
    path = tmp_path / "visioncap.desktop"
    path.write_text(build_linux.desktop_entry("/opt/VisionCap/VisionCap", "visioncap"))
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def fake_app(folder: Path) -> Path:
    """A stand-in for dist/VisionCap: two executables and an _internal folder."""
    (folder / "_internal" / "core").mkdir(parents=True)
    (folder / "_internal" / "core" / "data.txt").write_text("data")
    for name in ("VisionCap", "visioncap-cli"):
        (folder / name).write_text("#!/bin/sh\necho frozen $0 \"$@\"\n")
        (folder / name).chmod(0o755)
    (folder / "_internal" / "link.so").symlink_to("core/data.txt")
    return folder


def read_archive(archive: Path) -> dict[str, tarfile.TarInfo]:
    """The members of a .tar.gz or .tar.zst archive by name."""
    if archive.name.endswith(".zst"):
        import zstandard

        with open(archive, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            return {m.name: m for m in tar}
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def unpack(archive: Path, into: Path) -> None:
    subprocess.run(["tar", "-xf", str(archive), "-C", str(into)], check=True)


@pytest.mark.skipif(sys.platform == "win32", reason="the Linux archive keeps POSIX modes and links")
def test_linux_archives_hold_app_scripts_desktop_file_and_icon(tmp_path):
    """One pass writes the .tar.zst and the .tar.gz (for systems without zstd), with the same members."""
    pytest.importorskip("zstandard")
    app = fake_app(tmp_path / "dist" / "VisionCap")
    build_contents.link_cli(app, "linux")
    (app / "_internal" / build_contents.BUILD_INFO).write_text(json.dumps(
        {"glibc": "2.35", "distributions": "Debian 12, Ubuntu 22.04 or newer"}))
    archives = build_linux.make_linux_archives(app, tmp_path, "VisionCap-0-linux-x86_64-cpu")
    assert [a.name for a in archives] == ["VisionCap-0-linux-x86_64-cpu.tar.zst", "VisionCap-0-linux-x86_64-cpu.tar.gz"]
    base = "VisionCap-0-linux-x86_64-cpu/"
    expected = {base + name for name in (
        "install.sh", "uninstall.sh", "visioncap.desktop", "visioncap.png", "README.txt", "VisionCap",
        "VisionCap/VisionCap", "VisionCap/visioncap-cli", "VisionCap/_internal", "VisionCap/_internal/core",
        "VisionCap/_internal/core/data.txt", "VisionCap/_internal/link.so",
        "VisionCap/_internal/" + build_contents.BUILD_INFO)}
    for archive in archives:
        members = read_archive(archive)
        assert set(members) == expected, archive.name
        assert members[base + "install.sh"].mode & 0o111
        assert members[base + "VisionCap/VisionCap"].mode & 0o111
        assert members[base + "VisionCap/_internal/link.so"].issym()
        cli = members[base + "VisionCap/visioncap-cli"]
        assert cli.issym() and cli.linkname == "VisionCap"  # one executable, not two copies
    for archive in archives:  # what users run: GNU tar (+ zstd for the .tar.zst)
        if archive.name.endswith(".zst") and not shutil.which("zstd"):
            continue
        into = tmp_path / archive.name.split(".")[-1]
        into.mkdir()
        unpack(archive, into)
        unpacked = into / "VisionCap-0-linux-x86_64-cpu"
        assert (unpacked / "VisionCap" / "visioncap-cli").resolve() == (unpacked / "VisionCap" / "VisionCap").resolve()
        text = (unpacked / "README.txt").read_text()
        assert "sudo apt install libgl1 libegl1 libxcb1" in text and "--check-system" in text
        assert "glibc 2.35 or newer (Debian 12, Ubuntu 22.04 or newer)" in text
        assert "tar xzf FILE.tar.gz" in text
        assert "libxcb-cursor0" not in text and "libxcb-icccm4" not in text


def test_linux_archive_refuses_an_unknown_format(build_module, tmp_path):
    with pytest.raises(build_contents.BuildError, match="unknown archive format 'xz'"):
        build_linux.make_linux_archives(fake_app(tmp_path / "VisionCap"), tmp_path, "x", ("zst", "xz"))
    assert not list(tmp_path.glob("x.tar*"))
    assert build_module.parse_args([]).archive == "both"
    assert build_module.parse_args(["--archive", "gz"]).archive == "gz"


def test_cuda_report_measures_the_cuda_libraries(tmp_path):
    app = fake_app(tmp_path / "VisionCap")
    internal = app / "_internal"
    assert build_sizes.cuda_report(app, "cpu") == "CUDA libraries: none in VisionCap (torch without CUDA)"
    for rel, size in (("nvidia/cu13/lib/libcublasLt.so.13", 6000), ("torch/lib/libtorch_cuda.so", 3000),
                      ("torch/lib/libtorch_cpu.so", 900), ("cuda/bindings/runtime.so", 100)):
        (internal / rel).parent.mkdir(parents=True, exist_ok=True)
        (internal / rel).write_bytes(b"x" * size)
    total = build_sizes.folder_size(app)
    assert build_sizes.cuda_bytes(app) == 9100
    report = build_sizes.cuda_report(app, "cpu", compress=lambda folder: 1234)
    lines = report.splitlines()
    assert lines[0] == (f"CUDA libraries: 9 KB of {build_sizes.human(total)} ({9100 / total:.0%}) "
                        "come from a CUDA build of torch")
    assert f"folder about {build_sizes.human(total - 9100)}, .tar.zst 1 KB" in lines[1]
    assert "--index-url https://download.pytorch.org/whl/cpu" in report
    assert "--torch-build cpu" in report
    assert "download.pytorch.org" not in build_sizes.cuda_report(app, "cuda")


def test_cpu_archive_estimate_compresses_the_rest_alone(tmp_path):
    """The estimate packs the build without its CUDA parts: random bytes in a CUDA library must
    not count, random bytes elsewhere must (they do not compress)."""
    pytest.importorskip("zstandard")
    app = fake_app(tmp_path / "VisionCap")
    (app / "_internal" / "nvidia" / "lib").mkdir(parents=True)
    (app / "_internal" / "nvidia" / "lib" / "libcublas.so").write_bytes(os.urandom(400_000))
    without = build_sizes.compressed_without_cuda(app)
    assert without < 50_000
    (app / "_internal" / "torch").mkdir()
    (app / "_internal" / "torch" / "libtorch_cpu.so").write_bytes(os.urandom(400_000))
    assert 400_000 < build_sizes.compressed_without_cuda(app) < 460_000


def fake_tools(folder: Path) -> Path:
    """gtk-update-icon-cache and update-desktop-database stand-ins that make their caches."""
    folder.mkdir()
    tools = {
        "gtk-update-icon-cache": 'for a; do d=$a; done; touch "$d/icon-theme.cache"',
        "update-desktop-database": 'for a; do d=$a; done; touch "$d/mimeinfo.cache"',
    }
    for name, body in tools.items():
        (folder / name).write_text(f"#!/bin/sh\necho {name} \"$@\" >> {folder}/calls.log\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def install(tmp_path: Path, env: dict[str, str], *options: str) -> Path:
    app = fake_app(tmp_path / "dist" / "VisionCap")
    archive, = build_linux.make_linux_archives(app, tmp_path, "pkg", ("gz",))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="tar")
    subprocess.run(["sh", str(tmp_path / "unpacked" / "pkg" / "install.sh"), *options], env=env, check=True,
                   capture_output=True, text=True)
    return tmp_path / "unpacked" / "pkg"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="install.sh is for Linux")
def test_install_and_uninstall_scripts(tmp_path):
    """Unpack an archive of a fake app, install it as a user would, then uninstall with --purge."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    prefix, share, bin_dir = home / "opt", home / "share", home / "bin"
    install(tmp_path, env, "--prefix", str(prefix), "--share-dir", str(share), "--bin-dir", str(bin_dir))
    target = prefix / "VisionCap"
    assert (target / "VisionCap").is_file() and (target / "uninstall.sh").is_file()
    desktop = (share / "applications" / "visioncap.desktop").read_text()
    assert f'Exec="{target}/VisionCap" %f' in desktop
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "visioncap.png").is_file()
    assert (bin_dir / "visioncap-cli").resolve() == (target / "visioncap-cli").resolve()

    data = home / ".local" / "share" / "VisionCap"
    data.mkdir(parents=True)
    subprocess.run(["sh", str(target / "uninstall.sh"), "--purge"], env=env, check=True)
    assert not target.exists()
    assert not (share / "applications" / "visioncap.desktop").exists()
    assert not (bin_dir / "visioncap-cli").exists()
    assert not data.exists()
    # everything install.sh created is gone: the prefix, share and bin folders did not exist
    assert sorted(p.name for p in home.iterdir()) == [".local"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="install.sh is for Linux")
def test_install_runs_the_library_check_and_the_self_test(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    unpacked = install(tmp_path, env, "--prefix", str(home / "opt"), "--share-dir",
                       str(home / "share"), "--bin-dir", str(home / "bin"))
    result = subprocess.run(["sh", str(unpacked / "install.sh"), "--prefix", str(home / "opt"), "--share-dir",
                             str(home / "share"), "--bin-dir", str(home / "bin")],
                            env=env, check=True, capture_output=True, text=True)
    # the fake executables echo their arguments: first the check, then the self-test
    calls = [line for line in result.stdout.splitlines() if line.startswith("frozen ")]
    assert [line.split()[-1] for line in calls] == ["--check-system", "--self-test"]
    assert all(line.split()[1].endswith("/opt/VisionCap/visioncap-cli") for line in calls)
    result = subprocess.run(["sh", str(unpacked / "install.sh"), "--no-self-test", "--prefix", str(home / "opt"),
                             "--share-dir", str(home / "share"), "--bin-dir", str(home / "bin")],
                            env=env, check=True, capture_output=True, text=True)
    assert "--self-test" not in result.stdout
    # a failing self-test fails the install, which stays in place
    failing = home / "opt" / "VisionCap" / "visioncap-cli"
    (unpacked / "VisionCap" / "visioncap-cli").write_text('#!/bin/sh\n[ "$1" = --self-test ] && exit 5\nexit 0\n')
    result = subprocess.run(["sh", str(unpacked / "install.sh"), "--prefix", str(home / "opt"), "--share-dir",
                             str(home / "share"), "--bin-dir", str(home / "bin")], env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "the self-test failed" in result.stderr
    assert failing.is_file()
    assert not list(home.glob("tmp*"))  # the self-test's home went to $TMPDIR and was removed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="install.sh is for Linux")
@pytest.mark.parametrize("existing", [False, True])
def test_uninstall_refreshes_caches_and_purge_removes_only_what_install_made(tmp_path, existing):
    home = tmp_path / "home"
    share, bin_dir = home / ".local" / "share", home / ".local" / "bin"
    icons = share / "icons" / "hicolor"
    tools = fake_tools(tmp_path / "tools")
    env = {"HOME": str(home), "PATH": f"{tools}:/usr/bin:/bin:/usr/sbin:/sbin"}
    if existing:  # another app made the folders and caches first: they must stay
        (share / "applications").mkdir(parents=True)
        (share / "applications" / "mimeinfo.cache").write_text("theirs")
        icons.mkdir(parents=True)
        (icons / "icon-theme.cache").write_text("theirs")
        bin_dir.mkdir(parents=True)
        (home / ".local" / "opt").mkdir()
    else:
        home.mkdir()
    # the per-user locations, named (as root, the defaults would be the system's)
    install(tmp_path, env, "--prefix", str(home / ".local" / "opt"), "--share-dir", str(share),
            "--bin-dir", str(bin_dir))
    target = home / ".local" / "opt" / "VisionCap"
    assert (icons / "icon-theme.cache").is_file() and (share / "applications" / "mimeinfo.cache").is_file()
    locations = (target / ".install-locations").read_text()
    assert f"created_icon_cache={'no' if existing else 'yes'}" in locations

    # a plain uninstall refreshes both caches and keeps them
    kept = tmp_path / "kept"
    shutil.copytree(home, kept, symlinks=True)
    (tools / "calls.log").unlink()
    subprocess.run(["sh", str(target / "uninstall.sh")], env=env, check=True, capture_output=True)
    calls = (tools / "calls.log").read_text().splitlines()
    assert f"gtk-update-icon-cache -q -t {icons}" in calls
    assert f"update-desktop-database -q {share / 'applications'}" in calls
    assert (icons / "icon-theme.cache").is_file()
    assert not (icons / "256x256" / "apps" / "visioncap.png").exists()

    # --purge from the same installed state: what install made goes, the rest stays
    shutil.rmtree(home)
    shutil.copytree(kept, home, symlinks=True)
    subprocess.run(["sh", str(target / "uninstall.sh"), "--purge"], env=env, check=True, capture_output=True)
    if existing:
        assert (icons / "icon-theme.cache").read_text() != ""  # refreshed, not removed
        assert (share / "applications" / "mimeinfo.cache").exists()
        assert (home / ".local" / "opt").is_dir() and bin_dir.is_dir()
        assert not (icons / "256x256").exists()  # install made this one
    else:
        assert not (home / ".local").exists(), sorted(str(p) for p in home.rglob("*"))


def test_shell_scripts_parse():
    for script in ("install.sh", "uninstall.sh"):
        subprocess.run(["sh", "-n", str(ROOT / "packaging" / "linux" / script)], check=True)


# --- Windows: Inno Setup script ---------------------------------------------------------------


def test_inno_setup_script_installs_to_program_files_with_start_menu_and_uninstaller():
    text = (ROOT / "packaging" / "windows" / "visioncap.iss").read_text(encoding="utf-8")
    for line in ("DefaultDirName={autopf}\\{#AppName}", "PrivilegesRequired=admin",
                 'Name: "{group}\\{#AppName}"; Filename: "{app}\\{#AppExe}"',
                 'Filename: "{uninstallexe}"', "UninstallDisplayIcon={app}\\{#AppExe}",
                 "DiskSpanning={#DiskSpanning}",
                 'Source: "{#SourceDir}\\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs'):
        assert line in text, line
    assert "{localappdata}\\{#AppName}" in text  # offers to delete the user's data
    defines = {line.split()[1] for line in text.splitlines() if line.strip().startswith("#ifndef")}
    assert defines == {"AppVersion", "SourceDir", "OutputDir", "OutputBaseName", "IconFile", "DiskSpanning"}


def test_iscc_command_defines_what_the_script_reads(tmp_path):
    command = build_windows_macos.iscc_command(Path("ISCC.exe"), "0.1.0", tmp_path / "VisionCap", tmp_path,
                                        "VisionCap-0.1.0-windows-x86_64-cuda", "cuda")
    defines = dict(arg[2:].split("=", 1) for arg in command if arg.startswith("/D"))
    assert defines == {
        "AppVersion": "0.1.0",
        "SourceDir": str(tmp_path / "VisionCap"),
        "OutputDir": str(tmp_path),
        "OutputBaseName": "VisionCap-0.1.0-windows-x86_64-cuda-setup",
        "IconFile": str(ROOT / "packaging" / "icons" / "visioncap.ico"),
        "DiskSpanning": "yes",
    }
    assert command[-1] == str(ROOT / "packaging" / "windows" / "visioncap.iss")


# --- icons --------------------------------------------------------------------------------------


def test_icons_exist_small_and_in_every_size():
    icons = ROOT / "packaging" / "icons"
    png_path = ROOT / "visioncap_desktop" / "assets" / "visioncap.png"
    for path in (png_path, icons / "visioncap.ico", icons / "visioncap.icns"):
        assert path.stat().st_size < 200_000
    with Image.open(png_path) as png:
        assert png.size == (256, 256) and png.mode == "RGBA"
    with Image.open(icons / "visioncap.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= ico.info["sizes"]
    with Image.open(icons / "visioncap.icns") as icns:
        assert icns.format == "ICNS"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="wraps into the Linux archive")
def test_main_wraps_an_existing_build_named_after_its_build_info(build_module, tmp_path):
    app = fake_app(tmp_path / "VisionCap")
    info = {"version": "9.9", "variant": "cuda", "model": None, "glibc": "2.35",
            "glibc_needed_by": ["VisionCap"], "distributions": "Ubuntu 22.04 or newer"}
    (app / "_internal" / build_contents.BUILD_INFO).write_text(json.dumps(info))
    assert build_module.main(["--skip-pyinstaller", "--dist", str(tmp_path)]) == 0
    for suffix in (".tar.zst", ".tar.gz"):
        assert (tmp_path / (build_contents.artifact_name("9.9", "cuda", False) + suffix)).is_file()


def test_main_reports_a_folder_not_built_by_the_spec(build_module, tmp_path, capsys):
    fake_app(tmp_path / "VisionCap")
    assert build_module.main(["--skip-pyinstaller", "--no-installer", "--dist", str(tmp_path)]) == 1
    assert "not built by packaging/visioncap.spec" in capsys.readouterr().err
