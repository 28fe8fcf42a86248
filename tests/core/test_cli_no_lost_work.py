"""Regression tests for issue 15's CLI defects (numbered as in the issue) and for file names that
are not valid UTF-8 (issue 10): the CLI never loses or overwrites work and never reports
success for work it did not do."""

import csv
import errno
import os
import subprocess
import sys

import pytest
from PIL import Image

import core.captioning.captioner
import core.csvio
from core.captioning.oom_fallback import OUT_OF_MEMORY
from core.cli.main import main
from tests.tiny import make_tiny_bundle

FAST = ["--max-tokens", "3"]


def photo(path, colour="red"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (24, 20), colour).save(path, format="PNG")
    return path


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def caption(*args, model):
    return main(["caption", *map(str, args), "--model", str(model), *FAST])


# 1. --out naming a photo (or anything but a caption CSV) is refused, the file untouched.

@pytest.mark.parametrize("name", ["photo.png", "notes.txt", "data.csv"])
def test_out_that_is_not_a_caption_csv_is_refused_untouched(tmp_path, tiny_bundle, capsys, name):
    photo(tmp_path / "photo.png")
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "data.csv").write_text("id,amount\n1,20\n")
    before = (tmp_path / name).read_bytes()
    assert caption(tmp_path, "--out", tmp_path / name, model=tiny_bundle) == 2
    assert (tmp_path / name).read_bytes() == before
    assert name in capsys.readouterr().err


def test_out_in_a_folder_that_does_not_exist_is_a_usage_error(tmp_path, tiny_bundle, capsys):
    photo(tmp_path / "in" / "a.png")
    assert caption(tmp_path / "in", "--out", tmp_path / "nowhere" / "o.csv", model=tiny_bundle) == 2
    assert "nowhere does not exist" in capsys.readouterr().err


def test_new_or_empty_csv_is_written(tmp_path, tiny_bundle):
    photo(tmp_path / "in" / "a.png")
    (tmp_path / "empty.csv").touch()
    for out in ("new.csv", "empty.csv"):
        assert caption(tmp_path / "in", "--out", tmp_path / out, model=tiny_bundle) == 0
        assert len(read(tmp_path / out)) == 1


# 2. A second run on the same CSV is refused while the first holds it, and says who holds it.

def test_second_run_on_a_locked_csv_exits_2_naming_the_holder(tmp_path, tiny_bundle, capsys):
    photo(tmp_path / "in" / "a.png")
    out = tmp_path / "captions.csv"
    with subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from pathlib import Path\n"
         "from core.cli.output import locked\n"
         "with locked(Path(sys.argv[1])):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(600)\n",  # held until the test kills it
         str(out)],
        stdout=subprocess.PIPE, text=True,
    ) as holder:  # closes the pipe and waits for the process on the way out
        try:
            assert holder.stdout.readline().strip() == "held"
            assert caption(tmp_path / "in", "--out", out, "--resume", model=tiny_bundle) == 2
            err = capsys.readouterr().err
            assert f"process {holder.pid} on" in err and "captions.csv" in err
            assert not out.exists(), "nothing was written by the refused run"
        finally:
            holder.kill()
    assert caption(tmp_path / "in", "--out", out, model=tiny_bundle) == 0, "a killed holder leaves no lock"


# 3. Images with the same name in two folders are two rows, and --resume tells them apart.

def test_same_name_in_two_folders_is_two_images(tmp_path, tiny_bundle):
    a, b = photo(tmp_path / "A" / "x.png"), photo(tmp_path / "B" / "x.png", "blue")
    out = tmp_path / "out.csv"
    assert caption(tmp_path / "A", "--out", out, model=tiny_bundle) == 0
    assert caption(tmp_path / "A", tmp_path / "B", a, "--out", out, "--resume", model=tiny_bundle) == 0
    rows = read(out)
    assert [r["absolute_path"] for r in rows] == [str(a), str(b)], "B's photo captioned, A's not twice"
    assert [r["path"] for r in rows] == [str(a), str(b)]


# 4. Corrupted weights fail to load (naming the file); an empty caption is an error row.

def test_bundle_corrupted_in_the_middle_exits_2_naming_the_weights(tmp_path, capsys):
    bundle = make_tiny_bundle(tmp_path / "bundle")
    weights = bundle / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 256] = bytes(256)
    weights.write_bytes(bytes(data))
    photo(tmp_path / "in" / "a.png")
    assert caption(tmp_path / "in", "--out", tmp_path / "o.csv", model=bundle) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.safetensors" in err[0] and "SHA-256" in err[0]
    assert caption(tmp_path / "in", "--out", tmp_path / "o.csv", "--no-verify", model=bundle) in (0, 1)


def test_empty_captions_are_failures(tmp_path, tiny_bundle, monkeypatch, capsys):
    """What a corrupted model does: it says nothing, or only spaces."""
    monkeypatch.setattr(core.captioning.captioner.Captioner, "caption_arrays", lambda self, arrays, settings: ["", " "][: len(arrays)])
    photo(tmp_path / "in" / "a.png")
    photo(tmp_path / "in" / "b.png")
    assert caption(tmp_path / "in", "--out", tmp_path / "o.csv", model=tiny_bundle) == 1
    assert [r["error"] for r in read(tmp_path / "o.csv")] == ["model produced no text"] * 2
    assert "captioned 0 of 2 images" in capsys.readouterr().err


# 5. --resume after a run killed in its first batch, on an empty file, after failures,
#    and with a carriage return in a file name.

def test_resume_after_a_header_only_or_empty_file_writes_one_header(tmp_path, tiny_bundle):
    photo(tmp_path / "in" / "a.png")
    out = tmp_path / "out.csv"
    for start in ("path,caption,error,absolute_path\r\n", ""):
        out.write_text(start, encoding="utf-8", newline="")
        for _ in range(2):
            assert caption(tmp_path / "in", "--out", out, "--resume", model=tiny_bundle) == 0
        assert out.read_text(encoding="utf-8").count("absolute_path") == 1
        assert len(read(out)) == 1


def test_resume_retries_failed_rows(tmp_path, tiny_bundle):
    broken = tmp_path / "in" / "b.png"
    photo(tmp_path / "in" / "a.png")
    broken.write_bytes(b"\x89PNG not really")
    out = tmp_path / "out.csv"
    assert caption(tmp_path / "in", "--out", out, model=tiny_bundle) == 1
    photo(broken)  # the user fixes the file
    assert caption(tmp_path / "in", "--out", out, "--resume", model=tiny_bundle) == 0
    rows = read(out)
    assert len(rows) == 2 and all(r["caption"] and not r["error"] for r in rows)


def test_carriage_return_in_a_name_survives_resume(tmp_path, tiny_bundle, capsys):
    odd = photo(tmp_path / "in" / "line\rbreak.png")
    out = tmp_path / "out.csv"
    assert caption(tmp_path / "in", "--out", out, model=tiny_bundle) == 0
    before = out.read_bytes()
    assert caption(tmp_path / "in", "--out", out, "--resume", model=tiny_bundle) == 0
    assert out.read_bytes() == before, "nothing captioned again"
    assert "1 kept" in capsys.readouterr().err
    assert read(out)[0]["path"] == str(odd)


# 9. Runtime errors: one line, exit 3, rows kept; argument errors use the options' names and
#    come before torch is imported; write errors name the file.

def test_out_of_memory_on_the_cpu_exits_3_in_one_line_and_keeps_rows(tmp_path, tiny_bundle, monkeypatch, capsys):
    for i in range(4):
        photo(tmp_path / "in" / f"{i}.png")
    original = core.captioning.captioner.Captioner.caption_batches

    def runs_out_after_one_batch(self, images, settings=None, batch_size=8):
        batches = original(self, images, settings, batch_size)
        yield next(batches)
        raise OUT_OF_MEMORY("CPU out of memory. Tried to allocate 9.00 GiB\nSee the documentation")

    monkeypatch.setattr(core.captioning.captioner.Captioner, "caption_batches", runs_out_after_one_batch)
    out = tmp_path / "out.csv"
    assert caption(tmp_path / "in", "--out", out, "--batch-size", "2", model=tiny_bundle) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert "captioning stopped at image 3 of 4" in err[0] and "OutOfMemoryError" in err[0]
    assert len(read(out)) == 2


def test_full_disk_names_the_file_and_exits_3(tmp_path, tiny_bundle, monkeypatch, capsys):
    photo(tmp_path / "in" / "a.png")

    def full_disk(self, rows):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core.csvio.CsvRowWriter, "write_rows", full_disk)
    out = tmp_path / "out.csv"
    assert caption(tmp_path / "in", "--out", out, model=tiny_bundle) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "No space left on device" in err[0]


def test_a_csv_that_is_not_utf8_is_named(tmp_path, tiny_bundle, capsys):
    photo(tmp_path / "in" / "a.png")
    out = tmp_path / "out.csv"
    out.write_bytes(b"path,caption,error,absolute_path\r\nx.png,caf\xe9,,/x.png\r\n")
    assert caption(tmp_path / "in", "--out", out, "--resume", model=tiny_bundle) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "not UTF-8" in err


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--top-p", "0", "--top-p"), ("--beams", "0", "--beams"), ("--max-tokens", "0", "--max-tokens"),
    ("--batch-size", "0", "--batch-size"), ("--device", "gpu", "--device"),
])
def test_argument_errors_name_the_option_before_torch_is_imported(tmp_path, option, value, named):
    script = (
        "import sys\n"
        "from core.cli.main import main\n"
        "try:\n"
        f"    main(['caption', 'x.jpg', '--model', 'demo', {option!r}, {value!r}])\n"
        "except SystemExit as exc:\n"
        "    print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)\n"
        "    sys.exit(exc.code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert named in result.stderr and "no torch" in result.stderr
    assert not any(internal in result.stderr for internal in ("top_p", "num_beams", "max_new_tokens"))


# Issue 10, item 4: names that are not valid UTF-8.

@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="only Linux allows names that are not UTF-8")
def test_names_that_are_not_utf8_are_captioned_and_resumed(tmp_path, tiny_bundle, capsys):
    folder = tmp_path / "in"
    photo(folder / "ok.png")
    odd = os.path.join(os.fsencode(folder), b"caf\xe9 \\x41.png")
    try:
        with open(odd, "wb") as f:
            Image.new("RGB", (24, 20), "green").save(f, format="PNG")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    out = tmp_path / "out.csv"
    assert caption(folder, "--out", out, model=tiny_bundle) == 0
    out.read_bytes().decode("utf-8")  # the CSV itself is valid UTF-8
    rows = read(out)
    escaped = next(r for r in rows if "caf" in r["path"])
    assert escaped["path"].endswith("caf\\xe9 \\x5cx41.png") and escaped["caption"]
    _columns, back = core.csvio.read_csv_rows(out)
    assert os.fsencode(next(r["absolute_path"] for r in back if "caf" in r["path"])) == odd
    capsys.readouterr()
    assert caption(folder, "--out", out, "--resume", model=tiny_bundle) == 0
    assert "2 kept" in capsys.readouterr().err and len(read(out)) == 2
