"""Folder scans: every file either found or reported with a reason, whatever the folder holds."""

import errno
import os
import sys

import pytest

from core.images import plugins as decoders
from core.images.reading import ScanReport, collect_images, scan_images
from core.images.scan import _path_max

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="needs Linux file-name rules")


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def scan(folder, recursive=True):
    report = ScanReport()
    names = sorted(name for _, name in scan_images(folder, recursive, report))
    return names, {entry.name: entry.reason for entry in report.skipped}


def test_new_formats_are_found_and_unreadable_pictures_reported(tmp_path):
    for name in ["a.HEIC", "b.heif", "c.avif", "d.CR2", "e.nef", "f.dng", "g.ARW", "h.jpg",
                 "design.psd", "logo.svg", "next.jxl", "notes.txt", "movie.mp4"]:
        touch(tmp_path / name)
    names, skipped = scan(tmp_path)
    assert names == ["a.HEIC", "b.heif", "c.avif", "d.CR2", "e.nef", "f.dng", "g.ARW", "h.jpg"]
    assert set(skipped) == {"design.psd", "logo.svg", "next.jxl"}
    assert "Photoshop document (.psd)" in skipped["design.psd"]


def test_a_failed_plugin_turns_its_files_into_reported_skips(tmp_path, monkeypatch):
    touch(tmp_path / "a.heic")
    touch(tmp_path / "b.jpg")
    decoders.heif_problem.cache_clear()
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    try:
        names, skipped = scan(tmp_path)
    finally:
        decoders.heif_problem.cache_clear()
    assert names == ["b.jpg"]
    assert "needs pillow-heif" in skipped["a.heic"]


def test_symlinked_folders_are_followed_and_loops_end(tmp_path):
    outside = tmp_path / "outside"
    touch(outside / "far.jpg")
    root = tmp_path / "root"
    touch(root / "real" / "near.png")
    try:
        (root / "linked").symlink_to(outside, target_is_directory=True)
        (root / "real" / "loop").symlink_to(root, target_is_directory=True)  # back to the top
        (root / "again").symlink_to(root / "real", target_is_directory=True)  # into the tree
        (outside / "back").symlink_to(outside, target_is_directory=True)
    except (OSError, NotImplementedError) as exc:
        pytest.skip(f"cannot make symbolic links here: {exc}")
    names, skipped = scan(root)
    assert names == ["linked/far.jpg", "real/near.png"]  # each picture once, under a real name
    assert skipped == {}


def test_broken_links_are_reported(tmp_path):
    try:
        (tmp_path / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    except (OSError, NotImplementedError) as exc:
        pytest.skip(f"cannot make symbolic links here: {exc}")
    touch(tmp_path / "ok.jpg")
    names, skipped = scan(tmp_path)
    assert names == ["ok.jpg"] and "broken link" in skipped["gone.jpg"]


def test_unreadable_subfolder_is_reported_and_the_scan_goes_on(tmp_path, monkeypatch):
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "private" / "b.jpg")
    touch(tmp_path / "z" / "c.jpg")
    real_scandir = os.scandir
    blocked = os.path.join(str(tmp_path), "private")

    def scandir(path):
        if os.fspath(path) == blocked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    names, skipped = scan(tmp_path)
    assert names == ["a.jpg", "z/c.jpg"]
    assert skipped == {"private/": "folder not readable (permission denied)"}


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_chmod_000_subfolder_is_reported(tmp_path):
    locked = tmp_path / "locked"
    touch(locked / "b.jpg")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not block reading")
        names, skipped = scan(tmp_path)
    finally:
        locked.chmod(0o755)
    assert names == [] and "permission denied" in skipped["locked/"]


def test_unreadable_top_folder_raises(tmp_path):
    with pytest.raises(OSError):
        list(scan_images(tmp_path / "missing"))


@linux_only
def test_paths_over_the_os_limit_are_reported(tmp_path):
    """Folders nested past PATH_MAX (4096 bytes on Linux) exist; only relative opens reach them."""
    path_max = _path_max(str(tmp_path))
    part = "d" * 200
    depth = path_max // (len(part) + 1) + 1
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(part, dir_fd=fd)
            deeper = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        os.close(os.open("photo.jpg", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)
    names, skipped = scan(tmp_path)
    assert names == []
    assert len(skipped) == 1
    (name, reason), = skipped.items()
    assert reason.startswith("path too long") and name.endswith("/")


@linux_only
def test_file_whose_path_is_just_over_the_limit_is_reported(tmp_path):
    path_max = _path_max(str(tmp_path))
    part = "d" * 200
    folder = str(tmp_path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        while len(folder) + 1 + len(part) < path_max - 10:  # deepest folder still openable
            os.mkdir(part, dir_fd=fd)
            deeper = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, folder = deeper, f"{folder}/{part}"
        long_name = "p" * (path_max - len(folder) + 5) + ".jpg"
        os.close(os.open(long_name[-250:], os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)
    names, skipped = scan(tmp_path)
    assert names == [] and len(skipped) == 1
    assert next(iter(skipped.values())).startswith("path too long")


@linux_only
def test_names_that_are_not_utf8_are_yielded(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"  # Latin-1 bytes, as an old camera card may hold
    try:
        with open(raw, "wb") as f:
            f.write(b"x")
    except OSError as exc:
        pytest.skip(f"this file system refuses non-UTF-8 names: {exc}")
    touch(tmp_path / "ok.jpg")
    names, skipped = scan(tmp_path)
    assert names == ["caf\udce9.jpg", "ok.jpg"] and skipped == {}
    assert os.fsencode(os.path.join(tmp_path, names[0])) == raw  # the path opens the same file


def test_collect_images_fills_the_report_and_keeps_order(tmp_path):
    touch(tmp_path / "b.png")
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "c.psd")
    report = ScanReport()
    found = collect_images([tmp_path], report=report)
    assert [name for _, name in found] == ["a.jpg", "b.png"]
    assert [entry.name for entry in report.skipped] == ["c.psd"]
    assert report.skipped[0].path == os.path.join(str(tmp_path), "c.psd")


def test_report_text():
    from core.images.scan import Skipped

    assert ScanReport().headline() == "" and ScanReport().lines() == []
    report = ScanReport([Skipped("/p/a.psd", "a.psd", "psd"), Skipped("/p/b.psd", "b.psd", "psd"),
                         Skipped("/p/x", "x/", "folder not readable")])
    assert report.headline() == "left out 2 files and 1 folder"
    lines = report.lines(limit=2)
    assert lines[0] == "left out 2 files and 1 folder:"
    assert "  2 x psd" in lines and "  a.psd: psd" in lines and lines[-1] == "  ... and 1 more"
