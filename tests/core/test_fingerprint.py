import builtins
import os

import pytest

import core.fingerprint as fpmod
from core.fingerprint import CHUNK, FileState, file_state, fingerprint, unchanged


def write(path, data):
    path.write_bytes(data)
    return path


def test_same_content_same_fingerprint_whatever_the_name(tmp_path):
    data = os.urandom(300_000)
    assert fingerprint(write(tmp_path / "a.jpg", data)) == fingerprint(write(tmp_path / "renamed.jpg", data))


@pytest.mark.parametrize("where", [0, CHUNK - 1, -1, -CHUNK])
def test_a_change_in_the_head_or_the_tail_is_seen(tmp_path, where):
    data = bytearray(os.urandom(500_000))
    before = fingerprint(write(tmp_path / "a", bytes(data)))
    data[where] ^= 0xFF
    assert fingerprint(write(tmp_path / "a", bytes(data))) != before


def test_size_is_part_of_it_and_small_files_are_hashed_whole(tmp_path):
    assert fingerprint(write(tmp_path / "a", b"x" * 10)) != fingerprint(write(tmp_path / "b", b"x" * 11))
    data = bytearray(os.urandom(2 * CHUNK))
    before = fingerprint(write(tmp_path / "c", bytes(data)))
    data[CHUNK + 5] ^= 1  # the middle of a file of two chunks is covered too
    assert fingerprint(write(tmp_path / "c", bytes(data))) != before
    assert fingerprint(write(tmp_path / "empty", b"")).startswith("v1:")


def test_reads_at_most_two_chunks_of_a_large_file(tmp_path, monkeypatch):
    path = tmp_path / "big.tif"
    with open(path, "wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MiB on paper
    read = []
    real_open = builtins.open

    def counting_open(*args, **kwargs):
        f = real_open(*args, **kwargs)
        real_read = f.read

        def counted(n=-1):
            data = real_read(n)
            read.append(len(data))
            return data

        f.read = counted
        return f

    monkeypatch.setattr(fpmod, "open", counting_open, raising=False)
    fingerprint(path)
    assert sum(read) == 2 * CHUNK


def test_unchanged_ignores_a_touch_but_not_an_edit(tmp_path):
    path = write(tmp_path / "a.txt", b"a caption")
    state = file_state(path)
    assert unchanged(path, state)
    os.utime(path, ns=(1, 1))
    assert unchanged(path, state)
    write(path, b"a captioN")
    assert not unchanged(path, state)
    assert not unchanged(tmp_path / "gone.txt", state)


def test_state_json_round_trip():
    state = FileState(12, 34, "v1:abc")
    assert FileState.from_json(state.to_json()) == state
    assert FileState.from_json({"size": "12"}) is None
    assert FileState.from_json(None) is None
