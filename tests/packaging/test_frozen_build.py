"""The frozen app, end to end: build it with PyInstaller, run its self-test and its CLI.

    python -m pytest -m slow tests/packaging                                  # builds (a few minutes)
    VISIONCAP_FROZEN_DIST=dist python -m pytest -m slow tests/packaging       # tests dist/VisionCap as it is

Without VISIONCAP_FROZEN_DIST the test runs packaging/build.py --no-installer into a temporary
folder (PyInstaller's cache in build/pyinstaller is reused), shipping core/assets/demo, or a tiny
random bundle while the demo bundle is not in the tree.
"""

from __future__ import annotations

import csv
import fnmatch
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import build_contents
import pytest

from tests.packaging.conftest import ROOT

pytestmark = pytest.mark.slow

REUSE_ENV = "VISIONCAP_FROZEN_DIST"
SAMPLES = ROOT / "visioncap_desktop" / "assets" / "samples"


@pytest.fixture(scope="module")
def dist(tmp_path_factory, tiny_bundle) -> Iterator[Path]:
    """A folder holding the one-folder build VisionCap/ (and VisionCap.app on macOS)."""
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        path = Path(reuse).resolve()
        assert (path / build_contents.APP_NAME).is_dir(), f"{REUSE_ENV}={reuse} holds no {build_contents.APP_NAME}/"
        yield path
        return
    out = tmp_path_factory.mktemp("dist")
    model = build_contents.DEFAULT_MODEL if (build_contents.DEFAULT_MODEL / "manifest.json").is_file() else tiny_bundle
    command = [sys.executable, str(ROOT / "packaging" / "build.py"), "--no-installer", "--dist", str(out),
               "--bundle-model", str(model)]
    subprocess.run(command, cwd=ROOT, check=True, timeout=3600)
    yield out
    shutil.rmtree(out)  # gigabytes: not for pytest's kept temporary folders


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


def run_frozen(build_module, dist: Path, name: str, args: list[str], home: Path) -> subprocess.CompletedProcess:
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(build_module.frozen_executable(dist, name)), *args], capture_output=True,
                          text=True, encoding="utf-8", errors="replace", timeout=600,
                          env=build_module.self_test_env(home))


def caption_rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out, newline="", encoding="utf-8") as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f)}


def test_self_test_passes_and_writes_nothing_into_the_install_folder(build_module, dist, tmp_path):
    # the windowed Windows executable has no stdout to read; its console twin runs the same code
    exe = build_contents.CLI_EXE if sys.platform == "win32" else build_contents.GUI_EXE
    before = snapshot(dist)
    result = run_frozen(build_module, dist, exe, ["--self-test"], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Qt image plugins: ok" in result.stdout
    assert "self-test passed" in result.stdout
    assert "photo metadata: caption embedded" in result.stdout  # exiv2 works frozen
    assert snapshot(dist) == before
    # the log went to the user data folder under the (temporary) home
    assert list((tmp_path / "home").rglob("visioncap.log"))


def test_self_test_failure_names_the_step(build_module, dist, tmp_path):
    result = run_frozen(build_module, dist, build_contents.CLI_EXE,
                        ["--self-test", "--model", str(tmp_path / "no-such-bundle")], tmp_path / "home")
    assert result.returncode != 0
    assert "self-test FAILED at model" in result.stderr


def test_cli_captions_the_samples_with_the_builtin_model(build_module, dist, tmp_path):
    images = shutil.copytree(SAMPLES, tmp_path / "samples")
    out = tmp_path / "captions.csv"
    result = run_frozen(build_module, dist, build_contents.CLI_EXE,
                        ["caption", str(images), "--model", "demo", "--out", str(out)], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = caption_rows(out)
    with open(SAMPLES / "expected_demo_captions.csv", newline="", encoding="utf-8") as f:
        expected = {row["image"]: row["caption"] for row in csv.DictReader(f)}
    assert {name: row["caption"] for name, row in rows.items()} == expected
    assert not any(row["error"] for row in rows.values())


def test_build_leaves_out_what_its_variant_does_not_use(dist):
    internal = dist / build_contents.APP_NAME / "_internal"
    info = json.loads((internal / build_contents.BUILD_INFO).read_text(encoding="utf-8"))
    assert info["variant"] in build_contents.VARIANTS
    for package in ("triton", "matplotlib", "zstandard", "nltk", "pycocoevalcap", "training", "tests"):
        assert not (internal / package).exists(), package
    if importlib.util.find_spec("transformers") is not None:  # the Hugging Face captioners' modules
        for name in ("florence2", "blip", "git"):
            assert list((internal / "transformers" / "models" / name).glob("processing_*.py")), name
    names = [p.name for p in internal.rglob("*")]
    assert not [n for n in names if n in build_contents.DROPPED_PLUGINS]
    paths = [p.relative_to(internal).as_posix() for p in internal.rglob("*")]
    assert not [p for p in paths if not build_contents.keep_binary(p, info["variant"])]  # protoc, nvJPEG, ...
    if info["variant"] == "cpu":
        dropped = [n for n in names if any(fnmatch.fnmatch(n, p) for p in build_contents.CPU_DROPPED_LIBS)]
        assert not dropped
        assert not (internal / "cuda" / "bindings").exists()
    assert (internal / "core" / "assets" / "demo" / "manifest.json").is_file() == (info["model"] is not None)
    assert (internal / "visioncap_desktop" / "assets" / "fonts" / "DejaVuSans.ttf").is_file()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="one executable and a link on Linux")
def test_linux_build_has_one_executable_and_a_link(dist):
    cli = dist / build_contents.APP_NAME / build_contents.CLI_EXE
    assert cli.is_symlink() and str(cli.readlink()) == build_contents.GUI_EXE


@pytest.mark.parametrize(("package", "native"), [
    ("pillow_heif", "_pillow_heif*.so"),  # HEIC/AVIF, with libheif in pillow_heif.libs
    ("rawpy", "rawpy/_rawpy*.so"),  # camera RAW (LibRaw)
    ("exiv2", "exiv2/_*.so"),  # photo metadata, with libexiv2 in exiv2.libs
])
def test_optional_native_packages_are_carried_when_installed(dist, package, native):
    pytest.importorskip(package)
    internal = dist / build_contents.APP_NAME / "_internal"
    assert list(internal.glob(native)), f"{package}: nothing matches {native}"
    libs = internal / f"{package}.libs"
    if libs.is_dir():  # the wheel's own copies of its libraries, which its extensions link
        assert list(libs.iterdir())


def test_check_system_passes_on_the_build_machine(build_module, dist, tmp_path):
    result = run_frozen(build_module, dist, build_contents.CLI_EXE, ["--check-system"], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "system libraries: all found" in result.stdout


def test_screenshot_without_model_uses_the_builtin_model(build_module, dist, tmp_path):
    if not (dist / build_contents.APP_NAME / "_internal" / "core" / "assets" / "demo").is_dir():
        pytest.skip("built without a model")
    images = shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.csv"))
    out = tmp_path / "shot.png"
    result = run_frozen(build_module, dist, build_contents.GUI_EXE,
                        ["--screenshot", str(out), str(images), "--timeout", "120"], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.is_file()


def test_cli_imports_a_local_hf_checkpoint_without_transformers(build_module, dist, tmp_path):
    """The frozen importer reads safetensors and tokenizer files itself, without transformers."""
    pytest.importorskip("transformers")  # only to write the checkpoint, outside the frozen app
    from tests.core.test_hf_import import hf_captioner, save_checkpoint

    save_checkpoint(hf_captioner(), tmp_path / "checkpoint")
    home = tmp_path / "home"
    result = run_frozen(build_module, dist, build_contents.CLI_EXE,
                        ["import-hf", str(tmp_path / "checkpoint"), "--out", str(tmp_path / "bundle")], home)
    assert result.returncode == 0, result.stdout + result.stderr
    images = shutil.copytree(SAMPLES, tmp_path / "samples")
    result = run_frozen(build_module, dist, build_contents.CLI_EXE,
                        ["caption", str(images), "--model", str(tmp_path / "bundle")], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("path,caption,error")


def test_cli_captions_heic_and_camera_raw_as_the_source_tree_does(build_module, dist, tmp_path):
    """pillow-heif's libheif and rawpy's LibRaw travel with the build: the frozen CLI reads an
    iPhone HEIC, a DNG with an embedded JPEG preview and one without (demosaiced), and its
    captions are the ones the source tree writes for the same files."""
    pytest.importorskip("pillow_heif")
    pytest.importorskip("rawpy")
    pytest.importorskip("tifffile")
    from tests.photo_files import save_dng, save_heic

    folder = tmp_path / "photos"
    folder.mkdir()
    save_heic(folder / "phone.heic", (320, 240))
    save_dng(folder / "camera.dng", (320, 240), preview="jpeg")
    save_dng(folder / "sensor-only.dng", (320, 240))
    frozen_csv, source_csv = tmp_path / "frozen.csv", tmp_path / "source.csv"
    args = ["caption", str(folder), "--model", "demo"]
    result = run_frozen(build_module, dist, build_contents.CLI_EXE, [*args, "--out", str(frozen_csv)],
                        tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    source = subprocess.run([sys.executable, "-m", "core.cli.main", *args, "--out", str(source_csv)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert source.returncode == 0, source.stdout + source.stderr
    frozen, expected = caption_rows(frozen_csv), caption_rows(source_csv)
    assert sorted(frozen) == ["camera.dng", "phone.heic", "sensor-only.dng"]
    assert not [row["error"] for row in frozen.values() if row["error"]]
    assert all(row["caption"] for row in frozen.values())
    assert {n: r["caption"] for n, r in frozen.items()} == {n: r["caption"] for n, r in expected.items()}


def test_cli_writes_captions_into_photos_and_beside_them(build_module, dist, tmp_path):
    """exiv2's native library works in the build: the frozen CLI embeds each caption in the
    JPEG and PNG samples and writes XMP sidecars and .txt files, which read back (with the
    source tree's readers) as the captions in its CSV; the pictures are unchanged."""
    pytest.importorskip("exiv2")
    from PIL import Image

    from core.metadata.photo_metadata import read_embedded
    from core.metadata.sidecars import read_sidecar, read_txt, sidecar_path, txt_path

    images = shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.csv"))
    pixels = {p.name: Image.open(p).convert("RGB").tobytes() for p in images.iterdir()}
    out = tmp_path / "captions.csv"
    result = run_frozen(build_module, dist, build_contents.CLI_EXE,
                        ["caption", str(images), "--model", "demo", "--out", str(out),
                         "--write", "embed", "--write", "xmp", "--write", "txt"], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = caption_rows(out)
    assert sorted(rows) == sorted(pixels)
    for name, row in rows.items():
        photo = images / name
        assert row["caption"] and not row["error"]
        embedded = read_embedded(photo)
        assert embedded is not None and embedded.text == row["caption"], name
        assert read_sidecar(sidecar_path(photo)).text == row["caption"]
        assert read_txt(txt_path(photo)) == row["caption"]
        assert Image.open(photo).convert("RGB").tobytes() == pixels[name], name


@pytest.mark.parametrize("family", ["florence2", "blip", "git"])
def test_cli_captions_with_a_hugging_face_captioner(build_module, dist, tmp_path, family):
    """transformers' Florence-2, BLIP and GIT modules travel with the build (transformers
    imports them by name, so the spec names them): the frozen CLI imports a tiny random
    checkpoint of each and captions the samples with it, as the source tree does."""
    pytest.importorskip("transformers")
    from tests.core.tiny_transformers import save_checkpoint

    save_checkpoint(family, tmp_path / "checkpoint")
    home = tmp_path / "home"
    result = run_frozen(build_module, dist, build_contents.CLI_EXE,
                        ["import-hf", str(tmp_path / "checkpoint"), "--out", str(tmp_path / "model")], home)
    assert result.returncode == 0, result.stdout + result.stderr
    images = shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.csv"))
    frozen_csv, source_csv = tmp_path / "frozen.csv", tmp_path / "source.csv"
    args = ["caption", str(images), "--model", str(tmp_path / "model")]
    result = run_frozen(build_module, dist, build_contents.CLI_EXE, [*args, "--out", str(frozen_csv)], home)
    assert result.returncode == 0, result.stdout + result.stderr
    source = subprocess.run([sys.executable, "-m", "core.cli.main", *args, "--out", str(source_csv)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert source.returncode == 0, source.stdout + source.stderr
    frozen, expected = caption_rows(frozen_csv), caption_rows(source_csv)
    assert not [row["error"] for row in frozen.values() if row["error"]]
    assert {n: r["caption"] for n, r in frozen.items()} == {n: r["caption"] for n, r in expected.items()}
