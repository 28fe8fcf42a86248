import csv
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from core.captioning.device import device_name
from core.cli.main import DEVICE_PATTERN, main, shard_slice


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    colours = ["red", "green", "blue", "yellow", "purple", "orange", "white"]
    for i, colour in enumerate(colours):
        Image.new("RGB", (40 + i, 30), colour).save(folder / f"img{i}.{'JPG' if i % 2 else 'png'}")
    (folder / "sub").mkdir()
    Image.new("RGB", (20, 20), "black").save(folder / "sub" / "deep.webp")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    return folder


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_caption_folder_writes_csv_and_exits_1_when_some_fail(photos, tiny_bundle, tmp_path):
    out = tmp_path / "out.csv"
    code = main(["caption", str(photos), "--model", str(tiny_bundle), "--out", str(out), "--max-tokens", "5"])
    rows = read(out)
    assert code == 1
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    assert str(photos / "sub" / "deep.webp") not in {r["path"] for r in rows}
    assert all(r["absolute_path"] == os.path.abspath(r["path"]) for r in rows)
    broken = [r for r in rows if r["path"] == str(photos / "broken.jpg")]
    assert broken[0]["error"] and not broken[0]["caption"]
    assert all(r["caption"] for r in rows if r is not broken[0])


def test_all_good_exits_0_and_recursive_finds_subfolders(photos, tiny_bundle, tmp_path):
    out = tmp_path / "out.csv"
    files = [str(photos / "img0.png"), str(photos / "img1.JPG")]
    assert main(["caption", *files, "--model", str(tiny_bundle), "--out", str(out), "--max-tokens", "4"]) == 0
    assert [r["path"] for r in read(out)] == files
    main(["caption", str(photos), "--recursive", "--model", str(tiny_bundle), "--out", str(out), "--max-tokens", "4"])
    assert str(photos / "sub" / "deep.webp") in {r["path"] for r in read(out)}


def test_usage_and_model_errors_exit_2_with_one_line(photos, tmp_path, capsys):
    assert main(["caption", str(photos), "--model", str(tmp_path / "no-bundle")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-bundle" in err[0] and "Traceback" not in err[0]
    with pytest.raises(SystemExit) as exc:
        main(["caption", str(photos), "--model", str(tmp_path), "--shard", "3/2"])
    assert exc.value.code == 2
    assert main(["caption", str(tmp_path / "missing"), "--model", str(tmp_path)]) == 2


def test_device_option_names_every_gpu_kind_and_a_missing_one_is_a_usage_error(photos, tiny_bundle, tmp_path, capsys):
    for device in ("auto", "cpu", "cuda", "cuda:1", "mps", "xpu", "xpu:0"):
        assert DEVICE_PATTERN.fullmatch(device)
    for device in ("gpu", "rocm", "cuda:", "mps:0", "xpu:a"):  # ROCm is "cuda" to PyTorch
        assert not DEVICE_PATTERN.fullmatch(device)
    with pytest.raises(SystemExit) as exc:
        main(["caption", str(photos), "--model", str(tiny_bundle), "--device", "gpu"])
    assert exc.value.code == 2 and "cpu, cuda, cuda:N, mps, xpu or xpu:N, got 'gpu'" in capsys.readouterr().err
    image = str(photos / "img0.png")
    if not torch.backends.mps.is_available():
        assert main(["caption", image, "--model", str(tiny_bundle), "--device", "mps"]) == 2
        assert capsys.readouterr().err.strip() == ("visioncap: error: cannot load the model: mps was requested but "
                                                   "this PyTorch build or machine has no MPS device")
    out = tmp_path / "out.csv"
    assert main(["caption", image, "--model", str(tiny_bundle), "--device", "cpu", "--precision", "fp32",
                 "--out", str(out), "--max-tokens", "4"]) == 0
    assert f"captioned 1 of 1 images on {device_name('cpu')} in fp32" in capsys.readouterr().err


def test_resume_keeps_rows_and_captions_only_the_rest(photos, tiny_bundle, tmp_path):
    out = tmp_path / "out.csv"
    args = ["caption", str(photos), "--model", str(tiny_bundle), "--out", str(out), "--max-tokens", "4"]
    main(args)
    full = read(out)
    # simulate a run killed after three rows, the last one half written
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:4]) + lines[4][:5], encoding="utf-8")
    main([*args, "--resume"])
    resumed = read(out)
    assert sorted(r["path"] for r in resumed) == sorted(r["path"] for r in full)
    assert {r["path"]: r["caption"] for r in resumed} == {r["path"]: r["caption"] for r in full}


def test_shards_partition_the_list_and_concatenate_to_one_run(photos, tiny_bundle, tmp_path):
    whole = tmp_path / "whole.csv"
    base = ["caption", str(photos), "--model", str(tiny_bundle), "--max-tokens", "4"]
    main([*base, "--out", str(whole)])
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}.csv"
        main([*base, "--out", str(part), "--shard", f"{i}/3"])
        parts.extend(read(part))
    assert parts == read(whole)
    items = list(range(10))
    assert [x for i in range(4) for x in shard_slice(items, i, 4)] == items


def test_sampling_with_a_seed_is_reproducible(photos, tiny_bundle, tmp_path):
    base = ["caption", str(photos), "--model", str(tiny_bundle), "--strategy", "sample",
            "--temperature", "1.2", "--seed", "3", "--max-tokens", "6"]
    main([*base, "--out", str(tmp_path / "a.csv")])
    main([*base, "--out", str(tmp_path / "b.csv")])
    assert read(tmp_path / "a.csv") == read(tmp_path / "b.csv")


def test_stdout_output_and_beam_search(photos, tiny_bundle, capsys):
    code = main(["caption", str(photos / "img0.png"), "--model", str(tiny_bundle), "--strategy", "beam",
                 "--beams", "3", "--max-tokens", "4"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("path,caption,error,absolute_path")


def test_visioncap_command_runs_headless_without_qt(photos, tiny_bundle, tmp_path):
    """The installed entry point dispatches to the CLI; the caption path imports no Qt
    and no transformers."""
    script = (
        "import sys\n"
        "from visioncap_desktop.launcher import main\n"
        f"code = main(['caption', {str(photos / 'img0.png')!r}, '--model', {str(tiny_bundle)!r},"
        f" '--out', {str(tmp_path / 'o.csv')!r}, '--max-tokens', '3'])\n"
        "assert 'PySide6' not in sys.modules, 'Qt imported'\n"
        "assert 'transformers' not in sys.modules, 'transformers imported'\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
