"""core.safe_files and core.atomic: what a write may touch, and what a killed write leaves."""

import os
import stat
import sys
import threading
import time

import pytest

from core import atomic
from core.errors import FileError
from core.safe_files import (
    NotARegularFile,
    TooLarge,
    check_replaceable,
    folder_read_only,
    read_only_by_mode,
    read_regular,
)

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def test_read_regular_reads_within_the_cap(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"12345")
    assert read_regular(path, 5) == b"12345"
    with pytest.raises(TooLarge, match=r"a\.txt.*limit"):
        read_regular(path, 4)


def test_a_folder_is_not_read(tmp_path):
    with pytest.raises(NotARegularFile, match="folder"):
        read_regular(tmp_path, 100)


@needs_fifo
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg.xmp"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_raises(lambda: read_regular(fifo, 100))), daemon=True)
    reader.start()
    reader.join(30)  # generous: the point is that it returns at all (a plain open() blocks forever)
    assert outcome == [NotARegularFile]
    with pytest.raises(NotARegularFile, match="FIFO"):
        check_replaceable(fifo)


def _raises(call):
    try:
        call()
    except Exception as exc:
        return type(exc)
    return None


@posix_only
@pytest.mark.parametrize(
    ("mode", "uid", "owner", "expected"),
    [
        (0o644, 1000, 1000, False),  # the owner may write
        (0o444, 1000, 1000, True),  # marked read-only
        (0o444, 0, 1000, True),  # root honours it too (os.access would say writable)
        (0o644, 0, 1000, False),
        (0o446, 1000, 2000, False),  # others may write
        (0o644, 1000, 2000, True),  # someone else's file
    ],
)
def test_read_only_by_permission_bits_for_every_user(monkeypatch, mode, uid, owner, expected):
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    monkeypatch.setattr(os, "getgroups", lambda: [])
    monkeypatch.setattr(os, "getegid", lambda: 5)
    st = os.stat_result((stat.S_IFREG | mode, 0, 0, 1, owner, 7, 0, 0, 0, 0))
    assert read_only_by_mode(st) is expected


@posix_only
def test_a_read_only_folder_is_refused_even_for_root(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    folder.chmod(0o555)
    try:
        assert folder_read_only(folder)
        with pytest.raises(FileError, match="folder is read-only"):
            check_replaceable(folder / "a.txt")
    finally:
        folder.chmod(0o755)
    assert check_replaceable(folder / "a.txt") is not None


def test_a_temporary_file_a_killed_write_left_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "metadata.jsonl"
    left = atomic.temporary_path(target)
    left.write_bytes(b"half a file")
    old = time.time() - atomic.STALE_SECONDS - 60
    os.utime(left, (old, old))
    atomic.atomic_write_text(target, "whole\n")
    assert target.read_text() == "whole\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata.jsonl"]


def test_a_fresh_temporary_file_means_another_write_is_going_on(tmp_path):
    target = tmp_path / "photo.jpg"
    target.write_bytes(b"original")
    atomic.temporary_path(target).write_bytes(b"another writer's")
    with pytest.raises(FileExistsError, match="another write"):
        atomic.atomic_write(target, lambda tmp: tmp.write_bytes(b"mine"))
    assert target.read_bytes() == b"original"
    assert atomic.temporary_path(target).read_bytes() == b"another writer's"


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="symbolic links")
def test_a_write_through_a_symbolic_link_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "photo.txt"
    target.write_text("old")
    link = tmp_path / "photo.txt"
    link.symlink_to(target)
    assert check_replaceable(link) is not None
    atomic.atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
