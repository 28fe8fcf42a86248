"""The workers on their own threads: captioning (real tiny bundle and fakes), scanning,
thumbnails. Signals are awaited with qtbot.waitSignal; every thread is stopped afterwards."""

from __future__ import annotations

import time

import pytest
from PIL import Image
from PySide6.QtCore import QObject, QThread, QTimer, Signal

from tests.app.conftest import FakeCaptioner
from tests.app.images import make_images, make_problem_folder
from visioncap_desktop.workers.caption_worker import CaptionWorker, RunRequest
from visioncap_desktop.workers.folder_scanner import BATCH_FILES, FolderScanner
from visioncap_desktop.workers.thumbnail_loader import ThumbnailLoader, disk_cache_file


class Driver(QObject):
    """Sends requests to a worker through queued signals, as the main window does."""

    run = Signal(object)
    load = Signal(str, str)
    scan = Signal(int, str, bool, object)


@pytest.fixture
def in_thread(qtbot):
    """in_thread(worker) moves the worker to a new QThread; all threads are stopped at teardown."""
    threads = []

    def start(worker):
        thread = QThread()
        worker.moveToThread(thread)
        thread.start()
        threads.append((thread, worker))
        return worker

    yield start
    for thread, _ in threads:
        thread.quit()
        assert thread.wait(10000)


def start_run(qtbot, worker, driver, request, timeout=20000):
    with qtbot.waitSignal(worker.run_finished, timeout=timeout) as finished:
        driver.run.emit(request)
    return finished.args


def collect(signal):
    got = []
    signal.connect(lambda *args: got.append(args))
    return got


def test_real_bundle_captions_every_readable_image_and_reports_the_rest(qtbot, in_thread, tiny_bundle, tmp_path):
    files = make_problem_folder(tmp_path / "photos")
    worker = in_thread(CaptionWorker())
    driver = Driver()
    driver.run.connect(worker.start_run)
    ready, failed, progress = collect(worker.caption_ready), collect(worker.caption_failed), collect(worker.progress)
    paths = [str(p) for p in files["readable"] + files["broken"]]

    with qtbot.waitSignal(worker.model_loaded, timeout=20000) as loaded:
        args = start_run(qtbot, worker, driver, RunRequest(1, tuple(paths), str(tiny_bundle), "cpu", batch_size=3))
    assert loaded.args == ["tiny-test", "CPU"]
    assert args == [1, len(paths), len(paths), "completed"]
    assert sorted(p for p, _ in ready) == sorted(str(p) for p in files["readable"])
    assert all(caption for _, caption in ready)
    assert dict(failed).keys() == {str(p) for p in files["broken"]}
    assert "empty" in dict(failed)[str(files["broken"][1])] or dict(failed)[str(files["broken"][1])]
    assert progress[0] == (0, len(paths)) and progress[-1] == (len(paths), len(paths))

    # the model stays loaded between runs: no second model_loaded
    loads = collect(worker.model_loaded)
    start_run(qtbot, worker, driver, RunRequest(2, tuple(paths[:2]), str(tiny_bundle), "cpu"))
    assert loads == []


def test_broken_bundle_reports_the_file(qtbot, in_thread, tiny_bundle, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    worker = in_thread(CaptionWorker())
    driver = Driver()
    driver.run.connect(worker.start_run)
    with qtbot.waitSignal(worker.model_failed, timeout=20000) as failed:
        args = start_run(qtbot, worker, driver, RunRequest(1, ("x.jpg",), str(broken), "cpu"))
    assert "model.safetensors" in failed.args[0]
    assert args[3] == "failed"


def test_bad_generation_settings_fail_the_run_with_a_message(qtbot, in_thread, tmp_path):
    worker = in_thread(CaptionWorker(lambda bundle, device: FakeCaptioner()))
    driver = Driver()
    driver.run.connect(worker.start_run)
    with qtbot.waitSignal(worker.run_failed, timeout=10000) as failed:
        args = start_run(qtbot, worker, driver, RunRequest(1, ("a.jpg",), "b", generation={"temperature": -1.0}))
    assert "temperature" in failed.args[0] and args[3] == "failed"


def test_cuda_oom_halves_the_batch(qtbot, in_thread):
    fake = FakeCaptioner(device="cuda", oom_above=2)
    worker = in_thread(CaptionWorker(lambda bundle, device: fake))
    driver = Driver()
    driver.run.connect(worker.start_run)
    notices, ready = collect(worker.notice), collect(worker.caption_ready)
    paths = tuple(f"/img/{i}.jpg" for i in range(7))
    args = start_run(qtbot, worker, driver, RunRequest(1, paths, "bundle", "cuda", batch_size=8))
    assert args == [1, 7, 7, "completed"]
    assert [p for p, _ in ready] == list(paths)
    assert [size for _, size in fake.batch_sizes] == [8, 4, 2, 2, 2, 2]
    assert len(notices) == 2 and "2 image(s) per batch" in notices[-1][0]
    assert fake.moves == []


def test_cuda_oom_at_batch_one_falls_back_to_the_cpu(qtbot, in_thread):
    fake = FakeCaptioner(device="cuda", oom_above=0)  # CUDA always out of memory
    worker = in_thread(CaptionWorker(lambda bundle, device: fake))
    driver = Driver()
    driver.run.connect(worker.start_run)
    notices, ready, loaded = collect(worker.notice), collect(worker.caption_ready), collect(worker.model_loaded)
    paths = tuple(f"/img/{i}.jpg" for i in range(5))
    args = start_run(qtbot, worker, driver, RunRequest(1, paths, "bundle", "cuda", batch_size=4))
    assert args == [1, 5, 5, "completed"]
    assert len(ready) == 5
    assert fake.moves == ["cpu"]
    assert "continues on the CPU" in notices[-1][0]
    assert loaded[-1] == ("fake-captioner", "CPU")
    assert fake.batch_sizes[-1] == ("cpu", 4)  # back to the requested batch size on the CPU


def test_oom_on_the_cpu_fails_the_run(qtbot, in_thread):
    worker = in_thread(CaptionWorker(lambda bundle, device: FakeCaptioner(device="cpu", oom_above=0, oom_on="cpu")))
    driver = Driver()
    driver.run.connect(worker.start_run)
    with qtbot.waitSignal(worker.run_failed, timeout=10000):
        args = start_run(qtbot, worker, driver, RunRequest(1, ("a.jpg",), "bundle", "cpu"))
    assert args[3] == "failed"


def test_cancel_stops_after_the_current_batch(qtbot, in_thread):
    import threading

    gate = threading.Event()
    worker = in_thread(CaptionWorker(lambda bundle, device: FakeCaptioner(gate=gate)))
    driver = Driver()
    driver.run.connect(worker.start_run)
    ready = collect(worker.caption_ready)
    paths = tuple(f"/img/{i}.jpg" for i in range(10))
    with qtbot.waitSignal(worker.run_finished, timeout=10000) as finished:
        with qtbot.waitSignal(worker.caption_ready, timeout=10000):
            driver.run.emit(RunRequest(7, paths, "bundle", batch_size=2))
        worker.cancel(7)
        gate.set()
    run_id, done, total, outcome = finished.args
    assert (run_id, total, outcome) == (7, 10, "cancelled")
    assert done in (2, 4)  # the batch in flight (if any) finished, nothing after it
    assert len(ready) == done


def test_cancel_before_the_run_starts(qtbot, in_thread):
    worker = in_thread(CaptionWorker(lambda bundle, device: FakeCaptioner()))
    driver = Driver()
    driver.run.connect(worker.start_run)
    worker.cancel(3)
    assert start_run(qtbot, worker, driver, RunRequest(3, ("a.jpg",), "bundle")) == [3, 0, 1, "cancelled"]


def test_scanner_fills_in_batches_without_blocking(qtbot, in_thread, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    count = 5000
    for i in range(count):
        (folder / f"{i:05d}.JPG").touch()  # empty files: the scanner only looks at names
    (folder / "readme.txt").touch()
    scanner = in_thread(FolderScanner())
    driver = Driver()
    driver.scan.connect(scanner.scan)
    batches = collect(scanner.records_found)
    ticks = []
    probe = QTimer(interval=5)
    probe.timeout.connect(lambda: ticks.append(time.monotonic()))
    probe.start()
    scanner.supersede(1)
    with qtbot.waitSignal(scanner.scan_finished, timeout=20000) as finished:
        driver.scan.emit(1, str(folder), False, {})
    probe.stop()
    assert finished.args == [1, count]
    assert len(batches) >= count // BATCH_FILES  # incremental, not one list at the end
    assert sum(len(records) for _, records in batches) == count
    assert ticks  # the GUI thread kept running its timers


def test_scanner_applies_stored_captions_and_recurses(qtbot, in_thread, tmp_path):
    from visioncap_desktop.models.records import CaptionSnapshot, CaptionState

    make_images(tmp_path / "f", 2, size=(8, 8))
    make_images(tmp_path / "f" / "sub", 1, size=(8, 8), start=5)
    scanner = in_thread(FolderScanner())
    driver = Driver()
    driver.scan.connect(scanner.scan)
    batches = collect(scanner.records_found)
    stored = {"sub/img_00005.png": CaptionSnapshot("kept", CaptionState.EDITED)}
    scanner.supersede(2)
    with qtbot.waitSignal(scanner.scan_finished, timeout=10000):
        driver.scan.emit(2, str(tmp_path / "f"), True, stored)
    records = {r.name: r for _, batch in batches for r in batch}
    assert set(records) == {"img_00000.jpg", "img_00001.png", "sub/img_00005.png"}
    assert records["sub/img_00005.png"].caption == "kept" and records["sub/img_00005.png"].edited


def test_scanner_reports_a_missing_folder(qtbot, in_thread, tmp_path):
    scanner = in_thread(FolderScanner())
    driver = Driver()
    driver.scan.connect(scanner.scan)
    scanner.supersede(1)
    with qtbot.waitSignal(scanner.scan_failed, timeout=10000) as failed:
        driver.scan.emit(1, str(tmp_path / "gone"), False, {})
    assert "gone" in failed.args[1]


@pytest.fixture
def loader(qtbot, tmp_path):
    loader = ThumbnailLoader(size=32, cache_dir=tmp_path / "thumbs", memory_items=3)
    yield loader
    loader.shutdown()


def wait_for_thumbnail(qtbot, loader, path):
    assert loader.pixmap(str(path)) is None
    with qtbot.waitSignal(loader.thumbnail_ready, timeout=10000,
                          check_params_cb=lambda p, w, h: p == str(path)) as ready:
        pass
    return ready.args


def test_thumbnails_decode_off_thread_scaled_and_rotated(qtbot, loader, tmp_path):
    photo = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    Image.new("RGB", (400, 200), (200, 30, 30)).save(photo, exif=exif)
    args = wait_for_thumbnail(qtbot, loader, photo)
    assert args[1:] == [200, 400]  # dimensions as displayed
    pixmap = loader.pixmap(str(photo))
    assert (pixmap.width(), pixmap.height()) == (16, 32)  # portrait after rotation
    cached = disk_cache_file(tmp_path / "thumbs", str(photo), 32)
    assert cached.is_file()

    # a second loader reads the disk cache, dimensions included
    other = ThumbnailLoader(size=32, cache_dir=tmp_path / "thumbs")
    try:
        assert wait_for_thumbnail(qtbot, other, photo)[1:] == [200, 400]
    finally:
        other.shutdown()


def test_thumbnail_failures_and_memory_bound(qtbot, loader, tmp_path):
    files = make_problem_folder(tmp_path / "p", good=5)
    for path in files["broken"]:
        wait_for_thumbnail(qtbot, loader, path)
        assert loader.failure(str(path))
        assert loader.pixmap(str(path)) is None  # failed once: not retried
    for path in files["readable"]:
        wait_for_thumbnail(qtbot, loader, path)
    cached = [p for p in files["readable"] if loader.pixmap(str(p)) is not None]
    assert len(cached) == 3  # LRU of memory_items
    qtbot.waitUntil(loader.is_idle, timeout=10000)


def test_changed_file_gets_a_new_cache_key(tmp_path):
    photo = tmp_path / "a.png"
    Image.new("RGB", (10, 10)).save(photo)
    first = disk_cache_file(tmp_path, str(photo), 32)
    time.sleep(0.01)
    Image.new("RGB", (12, 10)).save(photo)
    assert disk_cache_file(tmp_path, str(photo), 32) != first
    assert disk_cache_file(tmp_path, str(tmp_path / "missing.png"), 32) is None
