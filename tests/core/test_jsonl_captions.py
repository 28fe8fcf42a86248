import json
import multiprocessing
import os
import stat
import sys
import threading
from pathlib import Path

import pytest
from filelock import FileLock

from core import safe_files
from core.bundles.user_dirs import user_cache_dir
from core.errors import MetadataError
from core.fingerprint import file_state
from core.metadata import jsonl_captions
from core.metadata.jsonl_captions import (
    JsonlTargets,
    dataset_root,
    jsonl_target,
    lock_path,
    read_jsonl,
    write_jsonl,
)

# Every character str.splitlines() breaks a line at, besides "\n".
SEPARATORS = ["\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def write_lines(path, *rows, ending="\n", bom=False):
    text = "".join(json.dumps(row, ensure_ascii=False) + ending for row in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


def rows_of(path):
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").split("\n") if line]


# ---- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", SEPARATORS, ids=[f"U+{ord(s[-1]):04X}" for s in SEPARATORS])
def test_every_line_separator_round_trips_and_is_escaped(tmp_path, separator):
    path = tmp_path / "metadata.jsonl"
    caption = f"first{separator}second"
    write_jsonl(path, {"a.jpg": caption, "b.jpg": "plain"})
    data = path.read_bytes().decode("utf-8")
    assert len(data.splitlines()) == 2  # safe for readers that split like Python does
    assert separator not in data
    assert read_jsonl(path) == {"a.jpg": caption, "b.jpg": "plain"}
    write_jsonl(path, {"c.jpg": "later"})  # and later writes still work
    assert read_jsonl(path)["a.jpg"] == caption


def test_emoji_quotes_and_surrounding_spaces_round_trip(tmp_path):
    path = tmp_path / "metadata.jsonl"
    captions = {"a.jpg": "a 🐕‍🦺 on the 🏖️", "b.jpg": 'she said "hi" \\ \'bye\'', "c.jpg": "  spaced\tout  ",
                "sub/ü.png": "Ünïcödé\nsecond line", "d.jpg": "lone \ud800 surrogate"}
    result = write_jsonl(path, captions)
    assert read_jsonl(path) == captions
    assert sorted(result.written) == sorted(captions)
    assert result.state == file_state(path)


def test_a_file_with_raw_separators_from_an_older_writer_is_read(tmp_path):
    path = tmp_path / "metadata.jsonl"
    path.write_bytes('{"file_name": "a.jpg", "text": "one\u2028two\x85three"}\n'.encode())
    assert read_jsonl(path) == {"a.jpg": "one\u2028two\x85three"}
    write_jsonl(path, {"b.jpg": "b"})
    assert "\u2028" not in path.read_text(encoding="utf-8")
    assert read_jsonl(path) == {"a.jpg": "one\u2028two\x85three", "b.jpg": "b"}


def test_hand_written_file_with_crlf_and_bom(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "a.jpg", "text": "A"}, {"file_name": "sub\\b.jpg", "text": " B "},
                {"file_name": "c.jpg"}, {"text": "no name"}, {"file_name": "d.jpg", "text": "  "},
                ending="\r\n", bom=True)
    with path.open("ab") as f:
        f.write(b"\r\n   \r\n")  # blank lines
    assert read_jsonl(path) == {"a.jpg": "A", "sub/b.jpg": " B "}
    write_jsonl(path, {"a.jpg": "A2"})
    assert [row.get("text") for row in rows_of(path)] == ["A2", " B ", None, "no name", "  "]


# ---- columns and rows -------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["caption", "prompt"])
def test_the_files_caption_column_is_kept(tmp_path, column):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "b.jpg", column: "old b"}, {"file_name": "a.jpg", column: "old a"})
    assert read_jsonl(path) == {"b.jpg": "old b", "a.jpg": "old a"}
    write_jsonl(path, {"a.jpg": "new a", "d.jpg": "d", "c.jpg": "c"})
    assert rows_of(path) == [{"file_name": "b.jpg", column: "old b"}, {"file_name": "a.jpg", column: "new a"},
                             {"file_name": "c.jpg", column: "c"}, {"file_name": "d.jpg", column: "d"}]


def test_text_wins_over_other_columns_and_is_the_new_files_column(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "a.jpg", "prompt": "p"}, {"file_name": "b.jpg", "text": "t"})
    assert read_jsonl(path) == {"b.jpg": "t"}
    new = tmp_path / "new" / "metadata.jsonl"
    new.parent.mkdir()
    write_jsonl(new, {"a.jpg": "x"})
    assert rows_of(new) == [{"file_name": "a.jpg", "text": "x"}]


def test_other_columns_and_rows_without_a_caption_are_kept(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"label": 3, "file_name": "a.jpg", "caption": "a", "tags": ["x", "y"]},
                {"file_name": "b.jpg", "score": 0.5}, {"note": "no file"})
    write_jsonl(path, {"a.jpg": "A", "b.jpg": "B"})
    rows = rows_of(path)
    assert rows == [{"label": 3, "file_name": "a.jpg", "caption": "A", "tags": ["x", "y"]},
                    {"file_name": "b.jpg", "score": 0.5, "caption": "B"}, {"note": "no file"}]
    assert list(rows[0]) == ["label", "file_name", "caption", "tags"]


# ---- may_replace and no needless writes --------------------------------------------------------


def test_existing_captions_are_replaced_only_when_allowed(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "a.jpg", "text": "old a"}, {"file_name": "b.jpg", "text": "same"},
                {"file_name": "c.jpg", "text": "  "}, {"file_name": "d.jpg", "text": "old d"})
    asked = []

    def may_replace(name, old):
        asked.append((name, old))
        return name == "d.jpg"

    result = write_jsonl(path, {"a.jpg": "new a", "b.jpg": "same", "c.jpg": "c", "d.jpg": "new d", "e.jpg": "e"},
                         may_replace=may_replace)
    assert asked == [("a.jpg", "old a"), ("d.jpg", "old d")]  # blank and missing captions: not asked
    assert result.written == ["c.jpg", "d.jpg", "e.jpg"]
    assert result.unchanged == ["b.jpg"]
    assert result.kept == {"a.jpg": "old a"}
    assert read_jsonl(path) == {"a.jpg": "old a", "b.jpg": "same", "c.jpg": "c", "d.jpg": "new d", "e.jpg": "e"}


def test_nothing_changed_means_the_file_is_not_rewritten(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "a.jpg", "text": "a"}, {"file_name": "b.jpg", "text": "b"})
    before = os.stat(path)
    result = write_jsonl(path, {"a.jpg": "a", "b.jpg": "other"}, may_replace=lambda name, old: False)
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert result.state is None and result.written == [] and result.unchanged == ["a.jpg"]
    assert result.kept == {"b.jpg": "b"}


# ---- broken, strange and protected files --------------------------------------------------------


@pytest.mark.parametrize(("content", "line", "problem"), [
    (b'{"file_name": "a.jpg", "text": "a"}\n{"file_name": "b.jpg", "text": "\xff"}\n', 2, "not UTF-8"),
    (b'{"file_name": "a.jpg", "text": "a"}\n\n{"file_name": "b.jpg", "text": \n', 3, "not valid JSON"),
    (b'{"file_name": "a.jpg", "text": "a"}\n["b.jpg", "b"]\n', 2, "not a JSON object"),
])
def test_a_broken_file_is_named_by_line_and_never_changed(tmp_path, content, line, problem):
    path = tmp_path / "metadata.jsonl"
    path.write_bytes(content)
    for attempt in (lambda: read_jsonl(path), lambda: write_jsonl(path, {"c.jpg": "c"})):
        with pytest.raises(MetadataError, match=f"line {line} is {problem}") as error:
            attempt()
        assert error.value.path == path
    assert path.read_bytes() == content
    assert os.listdir(tmp_path) == ["metadata.jsonl"]


def _in_thread(call):
    """(finished, result or exception) of `call` run in a daemon thread given 10 s: a reader that
    opened a FIFO would block forever."""
    outcome = []

    def run():
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    return not thread.is_alive(), outcome[0] if outcome else None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_never_opened(tmp_path):
    path = tmp_path / "metadata.jsonl"
    os.mkfifo(path)
    for call in (lambda: read_jsonl(path), lambda: write_jsonl(path, {"a.jpg": "a"})):
        finished, outcome = _in_thread(call)
        assert finished
        assert isinstance(outcome, MetadataError) and "FIFO" in outcome.reason
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


def test_a_file_over_the_cap_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "a.jpg", "text": "a long enough caption"})
    monkeypatch.setitem(safe_files.CAPS, "table", 16)
    with pytest.raises(MetadataError, match="over the"):
        read_jsonl(path)
    with pytest.raises(MetadataError, match="over the"):
        write_jsonl(path, {"b.jpg": "b"})


def test_a_read_only_file_is_refused(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "a.jpg", "text": "a"})
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        with pytest.raises(MetadataError, match="read-only"):
            write_jsonl(path, {"b.jpg": "b"})
        assert write_jsonl(path, {"a.jpg": "a"}).unchanged == ["a.jpg"]  # nothing to write: fine
    finally:
        path.chmod(0o644)
    assert path.read_bytes() == before


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no read-only bit for folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    write_lines(folder / "metadata.jsonl", {"file_name": "a.jpg", "text": "a"})
    folder.chmod(0o555)
    try:
        with pytest.raises(MetadataError, match="folder is read-only"):
            write_jsonl(folder / "metadata.jsonl", {"b.jpg": "b"})
        with pytest.raises(MetadataError, match="folder is read-only"):
            write_jsonl(folder / "other.jsonl", {"b.jpg": "b"})
    finally:
        folder.chmod(0o755)
    assert sorted(os.listdir(folder)) == ["metadata.jsonl"]
    assert read_jsonl(folder / "metadata.jsonl") == {"a.jpg": "a"}


# ---- the lock -----------------------------------------------------------------------------------


def test_the_lock_lives_in_the_user_cache_not_the_dataset(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_jsonl(path, {"a.jpg": "a"})
    write_jsonl(path, {"b.jpg": "b"})
    assert os.listdir(tmp_path) == ["metadata.jsonl"]
    assert lock_path(path).parent == user_cache_dir() / "locks"
    assert lock_path(tmp_path / "x" / ".." / "metadata.jsonl") == lock_path(path)
    assert lock_path(tmp_path / "other.jsonl") != lock_path(path)


def test_a_held_lock_is_waited_for_then_reported(tmp_path, monkeypatch):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "a.jpg", "text": "a"})
    before = path.read_bytes()
    monkeypatch.setattr(jsonl_captions, "LOCK_WAIT_S", 0.2)
    lock_path(path).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path(path))), pytest.raises(MetadataError, match="another run is writing it"):
        write_jsonl(path, {"b.jpg": "b"})
    assert path.read_bytes() == before


def _write_many(path: str, prefix: str, count: int, start) -> None:
    start.wait(60)
    for k in range(count):
        write_jsonl(Path(path), {f"{prefix}/{k:03}.jpg": f"caption {prefix} {k}"})


def test_concurrent_runs_keep_every_row(tmp_path):
    path = tmp_path / "metadata.jsonl"
    write_lines(path, {"file_name": "first.jpg", "text": "there before"})
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    count, prefixes = 30, ["p0", "p1", "p2", "p3"]
    workers = [spawn.Process(target=_write_many, args=(str(path), p, count, start)) for p in prefixes]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(180)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    expected = {f"{p}/{k:03}.jpg": f"caption {p} {k}" for p in prefixes for k in range(count)}
    assert read_jsonl(path) == {"first.jpg": "there before", **expected}
    assert os.listdir(tmp_path) == ["metadata.jsonl"]


# ---- where captions go --------------------------------------------------------------------------


def test_dataset_root():
    root = Path("/data/set").absolute()
    assert dataset_root(root / "sub" / "a.jpg", "sub/a.jpg") == (root, "sub/a.jpg")
    assert dataset_root(root / "a.jpg", "a.jpg") == (root, "a.jpg")
    assert dataset_root(root / "sub" / "a.jpg", "elsewhere/a.jpg") == (root / "sub", "a.jpg")
    assert dataset_root(root / "sub" / "a.jpg", "../sub/a.jpg") == (root / "sub", "a.jpg")


def test_default_target_is_the_runs_dataset_root(tmp_path):
    image = tmp_path / "set" / "sub" / "deeper" / "a.jpg"
    image.parent.mkdir(parents=True)
    assert jsonl_target(image, "sub/deeper/a.jpg") == (tmp_path / "set" / "metadata.jsonl", "sub/deeper/a.jpg")
    assert jsonl_target(image, "a.jpg") == (image.parent / "metadata.jsonl", "a.jpg")


def test_the_images_own_folder_wins(tmp_path):
    image = tmp_path / "set" / "sub" / "a.jpg"
    image.parent.mkdir(parents=True)
    write_lines(tmp_path / "set" / "metadata.jsonl", {"file_name": "sub/b.jpg", "text": "b"})
    (image.parent / "metadata.jsonl").write_bytes(b"")
    assert jsonl_target(image, "sub/a.jpg") == (image.parent / "metadata.jsonl", "a.jpg")


def test_an_ancestor_that_lists_the_folder_wins_over_the_runs_root(tmp_path):
    image = tmp_path / "set" / "sub" / "deeper" / "a.jpg"
    image.parent.mkdir(parents=True)
    write_lines(tmp_path / "metadata.jsonl", {"file_name": "unrelated.jpg", "text": "x"})
    write_lines(tmp_path / "set" / "metadata.jsonl", {"file_name": "sub\\deeper\\b.jpg", "text": "b"})
    target = tmp_path / "set" / "metadata.jsonl", "sub/deeper/a.jpg"
    assert jsonl_target(image, "a.jpg") == target  # a later run on the subfolder
    assert jsonl_target(image, "deeper/a.jpg") == target
    write_jsonl(target[0], {target[1]: "a"})
    assert read_jsonl(target[0]) == {"sub/deeper/b.jpg": "b", "sub/deeper/a.jpg": "a"}


def test_a_stray_ancestor_file_does_not_capture_a_folder(tmp_path):
    image = tmp_path / "photos" / "a.jpg"
    image.parent.mkdir()
    write_lines(tmp_path / "metadata.jsonl", {"file_name": "other/a.jpg", "text": "x"}, {"file_name": "b.jpg"})
    assert jsonl_target(image, "a.jpg") == (image.parent / "metadata.jsonl", "a.jpg")


def test_an_unreadable_file_above_the_run_is_ignored_and_one_inside_it_is_reported(tmp_path):
    image = tmp_path / "set" / "sub" / "a.jpg"
    image.parent.mkdir(parents=True)
    (tmp_path / "metadata.jsonl").write_bytes(b"not json\n")
    assert jsonl_target(image, "a.jpg") == (image.parent / "metadata.jsonl", "a.jpg")
    with pytest.raises(MetadataError, match="line 1"):
        jsonl_target(image, "set/sub/a.jpg")


def test_targets_read_each_ancestor_once(tmp_path, monkeypatch):
    write_lines(tmp_path / "metadata.jsonl", {"file_name": "set/a/old.jpg", "text": "x"})
    reads = []
    real = jsonl_captions._read_rows
    monkeypatch.setattr(jsonl_captions, "_read_rows", lambda path: reads.append(path) or real(path))
    targets = JsonlTargets()
    for folder in ("a", "b"):
        (tmp_path / "set" / folder).mkdir(parents=True)
        for k in range(5):
            image = tmp_path / "set" / folder / f"{k}.jpg"
            where = targets.target(image, f"{folder}/{k}.jpg")
            expected = (tmp_path / "metadata.jsonl", f"set/a/{k}.jpg") if folder == "a" else \
                (tmp_path / "set" / "metadata.jsonl", f"b/{k}.jpg")
            assert where == expected
    assert reads.count(tmp_path / "metadata.jsonl") == 1
    assert len(reads) == len(set(reads))
