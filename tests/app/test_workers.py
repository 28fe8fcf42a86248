"""The workers on their own threads: captioning (real tiny bundle and fakes), scanning,
thumbnails. Every thread is stopped afterwards.

Worker signals reach the test through a Recorder living in the GUI thread, over queued
connections as in the app; qtbot.waitSignal then waits on the Recorder's own signal. (Waiting
directly on a signal emitted in another thread runs pytest-qt's slot in that thread.)"""

from __future__ import annotations

import os

import pytest
from PIL import Image
from PySide6.QtCore import QMetaMethod, QObject, QThread, Signal

from core.captioning.catalogue import model_info
from core.captioning.device import device_inventory, device_name
from tests.app.fakes import FakeCaptioner
from tests.app.gui_ticks import GuiTicks
from tests.app.images import make_images, make_problem_folder
from tests.app.window_steps import WAIT_MS
from visioncap_desktop.model_choice import ModelSpec
from visioncap_desktop.workers.caption_worker import CaptionWorker, RunRequest
from visioncap_desktop.workers.folder_scanner import BATCH_FILES, FolderScanner, Stored
from visioncap_desktop.workers.thumbnail_loader import ThumbnailLoader, disk_cache_file


class Driver(QObject):
    """Sends requests to a worker through queued signals, as the main window does."""

    run = Signal(object)
    load = Signal(str, str)
    scan = Signal(int, str, bool, object)


class Recorder(QObject):
    """Records a worker's signals in the GUI thread and announces each as `recorded(name, args)`."""

    recorded = Signal(str, object)

    def __init__(self, worker: QObject):
        super().__init__()
        self.got: dict[str, list[tuple]] = {}
        meta = worker.metaObject()
        for i in range(meta.methodOffset(), meta.methodCount()):
            method = meta.method(i)
            if method.methodType() == QMetaMethod.MethodType.Signal:
                name = method.name().data().decode()
                self.got[name] = []
                getattr(worker, name).connect(self._record)  # a bound method: queued across threads

    def _record(self, *args) -> None:
        sender = self.sender()
        name = sender.metaObject().method(self.senderSignalIndex()).name().data().decode()
        self.got[name].append(args)
        self.recorded.emit(name, args)

    def wait(self, qtbot, name: str, timeout: int = WAIT_MS, where=lambda args: True):
        """Wait until `name` has been recorded (with args matching `where`); returns its args."""
        matching = [args for args in self.got[name] if where(args)]
        if not matching:
            with qtbot.waitSignal(self.recorded, timeout=timeout,
                                  check_params_cb=lambda n, args: n == name and where(args)) as blocker:
                pass
            return tuple(blocker.args[1])
        return matching[0]


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
        assert thread.wait(WAIT_MS)


def start_run(qtbot, recorder, driver, request, timeout=WAIT_MS):
    """Run `request` and return its run_finished arguments."""
    driver.run.emit(request)
    return list(recorder.wait(qtbot, "run_finished", timeout, where=lambda args: args[0] == request.run_id))


def setup_worker(in_thread, factory=None):
    worker = in_thread(CaptionWorker(factory))
    driver = Driver()
    driver.run.connect(worker.start_run)
    return worker, driver, Recorder(worker)


def test_real_bundle_captions_every_readable_image_and_reports_the_rest(qtbot, in_thread, tiny_bundle, tmp_path):
    files = make_problem_folder(tmp_path / "photos")
    _worker, driver, rec = setup_worker(in_thread)
    paths = [str(p) for p in files["readable"] + files["broken"]]
    args = start_run(qtbot, rec, driver, RunRequest(1, tuple(paths), str(tiny_bundle), "cpu", batch_size=3))
    assert rec.got["model_loaded"] == [("tiny-test", device_name("cpu"))]  # e.g. "CPU (AVX2)"
    assert rec.got["devices_found"] == [(device_inventory(),)]
    assert args == [1, len(paths), len(paths), "completed"]
    ready = {path: text for _, path, text in rec.got["caption_ready"]}
    failed = {path: reason for _, path, reason in rec.got["caption_failed"]}
    assert sorted(ready) == sorted(str(p) for p in files["readable"])
    assert all(ready.values())
    assert failed.keys() == {str(p) for p in files["broken"]}
    assert "empty" in failed[str(files["broken"][1])]
    progress = rec.got["progress"]
    assert progress[0] == (1, 0, len(paths)) and progress[-1] == (1, len(paths), len(paths))  # run 1's
    assert {run for run, _, _ in rec.got["caption_ready"]} == {1}

    # the model stays loaded between runs: no second model_loaded
    start_run(qtbot, rec, driver, RunRequest(2, tuple(paths[:2]), str(tiny_bundle), "cpu"))
    assert len(rec.got["model_loaded"]) == 1 and len(rec.got["devices_found"]) == 1


def test_broken_bundle_reports_the_file(qtbot, in_thread, tiny_bundle, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    _worker, driver, rec = setup_worker(in_thread)
    args = start_run(qtbot, rec, driver, RunRequest(1, ("x.jpg",), str(broken), "cpu"))
    assert args[3] == "failed"
    assert "model.safetensors" in rec.got["model_failed"][0][0]


def test_bad_generation_settings_fail_the_run_with_a_message(qtbot, in_thread):
    _worker, driver, rec = setup_worker(in_thread, lambda bundle, device: FakeCaptioner())
    args = start_run(qtbot, rec, driver, RunRequest(1, ("a.jpg",), "b", generation={"temperature": -1.0}))
    assert args[3] == "failed"
    assert "temperature" in rec.got["run_failed"][0][0]


def test_cuda_oom_halves_the_batch(qtbot, in_thread):
    fake = FakeCaptioner(device="cuda", oom_above=2)
    _worker, driver, rec = setup_worker(in_thread, lambda bundle, device: fake)
    paths = tuple(f"/img/{i}.jpg" for i in range(7))
    args = start_run(qtbot, rec, driver, RunRequest(1, paths, "bundle", "cuda", batch_size=8))
    assert args == [1, 7, 7, "completed"]
    assert [p for _, p, _ in rec.got["caption_ready"]] == list(paths)
    assert [size for _, size in fake.batch_sizes] == [8, 4, 2, 2, 2, 2]
    notices = rec.got["notice"]
    assert len(notices) == 2 and "2 image(s) per batch" in notices[-1][0]
    assert fake.moves == []


def test_a_second_run_starts_at_the_lowered_batch_size(qtbot, in_thread):
    fake = FakeCaptioner(device="cuda", oom_above=2)
    _worker, driver, rec = setup_worker(in_thread, lambda bundle, device: fake)
    start_run(qtbot, rec, driver, RunRequest(1, ("a.jpg", "b.jpg", "c.jpg"), "bundle", "cuda", batch_size=8))
    fake.batch_sizes.clear()
    args = start_run(qtbot, rec, driver, RunRequest(2, ("d.jpg", "e.jpg"), "bundle", "cuda", batch_size=8))
    assert args == [2, 2, 2, "completed"]
    assert fake.batch_sizes == [("cuda", 2)]  # the core fallback remembers the limit for this model


def test_cuda_oom_at_batch_one_falls_back_to_the_cpu(qtbot, in_thread):
    fake = FakeCaptioner(device="cuda", oom_above=0)  # CUDA always out of memory
    _worker, driver, rec = setup_worker(in_thread, lambda bundle, device: fake)
    paths = tuple(f"/img/{i}.jpg" for i in range(5))
    args = start_run(qtbot, rec, driver, RunRequest(1, paths, "bundle", "cuda", batch_size=4))
    assert args == [1, 5, 5, "completed"]
    assert len(rec.got["caption_ready"]) == 5
    assert fake.moves == ["cpu"]
    assert "continues on the CPU" in rec.got["notice"][-1][0]
    assert rec.got["model_loaded"] == [("fake-captioner", "NVIDIA GPU (CUDA)"),  # no name from a fake
                                       ("fake-captioner", device_name("cpu"))]
    assert fake.batch_sizes[-1] == ("cpu", 4)  # back to the requested batch size on the CPU


def test_an_operation_mps_lacks_moves_the_run_to_the_cpu(qtbot, in_thread):
    fake = FakeCaptioner(device="mps", lacks_op_on="mps")
    _worker, driver, rec = setup_worker(in_thread, lambda bundle, device: fake)
    paths = tuple(f"/img/{i}.jpg" for i in range(5))
    args = start_run(qtbot, rec, driver, RunRequest(1, paths, "bundle", "mps", batch_size=2))
    assert args == [1, 5, 5, "completed"]
    assert [p for _, p, _ in rec.got["caption_ready"]] == list(paths)
    assert fake.moves == ["cpu"] and fake.batch_sizes[1:] == [("cpu", 2)] * 3
    assert rec.got["notice"] == [("MPS lacks an operation the model needs (aten::fake): captioning continues on the CPU.",)]
    assert rec.got["model_loaded"][-1] == ("fake-captioner", device_name("cpu"))


def test_oom_on_the_cpu_fails_the_run(qtbot, in_thread):
    _worker, driver, rec = setup_worker(
        in_thread, lambda bundle, device: FakeCaptioner(device="cpu", oom_above=0, oom_on="cpu"))
    args = start_run(qtbot, rec, driver, RunRequest(1, ("a.jpg",), "bundle", "cpu"))
    assert args[3] == "failed" and rec.got["run_failed"]


def test_cancel_stops_after_the_current_batch(qtbot, in_thread):
    import threading

    gate = threading.Event()
    worker, driver, rec = setup_worker(in_thread, lambda bundle, device: FakeCaptioner(gate=gate))
    paths = tuple(f"/img/{i}.jpg" for i in range(10))
    driver.run.emit(RunRequest(7, paths, "bundle", batch_size=2))
    rec.wait(qtbot, "caption_ready")
    worker.cancel(7)
    gate.set()
    run_id, done, total, outcome = rec.wait(qtbot, "run_finished")
    assert (run_id, total, outcome) == (7, 10, "cancelled")
    assert done in (2, 4)  # the batch in flight (if any) finished, nothing after it
    assert len(rec.got["caption_ready"]) == done


def test_cancel_before_the_run_starts(qtbot, in_thread):
    worker, driver, rec = setup_worker(in_thread, lambda bundle, device: FakeCaptioner())
    worker.cancel(3)
    assert start_run(qtbot, rec, driver, RunRequest(3, ("a.jpg",), "bundle")) == [3, 0, 1, "cancelled"]


def setup_scanner(in_thread):
    scanner = in_thread(FolderScanner())
    driver = Driver()
    driver.scan.connect(scanner.scan)
    return scanner, driver, Recorder(scanner)


def test_scanner_fills_in_batches_without_blocking(qtbot, in_thread, tmp_path, monkeypatch):
    from visioncap_desktop.workers import folder_scanner

    folder = tmp_path / "many"
    folder.mkdir()
    count = 5000
    for i in range(count):
        (folder / f"{i:05d}.JPG").touch()  # empty files: the scanner only looks at names
    (folder / "readme.txt").touch()
    scanner, driver, rec = setup_scanner(in_thread)
    ticks = GuiTicks(sample=lambda: len(rec.got["records_found"]))
    real_scan = folder_scanner.scan_images

    def scan_images(*args):
        """Half-way through, the scanner waits for the GUI thread to tick with batches in hand."""
        for n, found in enumerate(real_scan(*args)):
            if n == count // 2:
                ticks.wait_in_worker(also=lambda: ticks.sampled >= 1)
            yield found

    monkeypatch.setattr(folder_scanner, "scan_images", scan_images)
    ticks.start()
    scanner.supersede(1)
    driver.scan.emit(1, str(folder), False, Stored())
    finished = rec.wait(qtbot, "scan_finished")
    ticks.stop()
    assert finished[:2] == (1, count)
    order = finished[2]
    assert [r.name for r in order.records] == sorted(f"{i:05d}.JPG" for i in range(count))
    assert all(order.rows[r.path] == row for row, r in enumerate(order.records))
    batches = rec.got["records_found"]
    assert len(batches) >= 5  # incremental, not one list at the end
    assert len(batches[0][1]) <= BATCH_FILES
    assert sum(len(records) for _, records in batches) == count
    # mid-scan, the GUI thread kept running its timers and already had the first batches
    assert ticks.waits == [(True, True)]


def test_scanner_applies_stored_captions_and_recurses(qtbot, in_thread, tmp_path):
    from visioncap_desktop.records import CaptionSnapshot, CaptionState

    make_images(tmp_path / "f", 2, size=(8, 8))
    make_images(tmp_path / "f" / "sub", 1, size=(8, 8), start=5)
    scanner, driver, rec = setup_scanner(in_thread)
    stored = {"sub/img_00005.png": CaptionSnapshot("kept", CaptionState.EDITED)}
    scanner.supersede(2)
    driver.scan.emit(2, str(tmp_path / "f"), True, Stored(stored))
    rec.wait(qtbot, "scan_finished")
    records = {r.name: r for _, batch in rec.got["records_found"] for r in batch}
    assert set(records) == {"img_00000.jpg", "img_00001.png", "sub/img_00005.png"}
    assert records["sub/img_00005.png"].caption == "kept" and records["sub/img_00005.png"].edited


def test_scanner_reports_a_missing_folder(qtbot, in_thread, tmp_path):
    scanner, driver, rec = setup_scanner(in_thread)
    scanner.supersede(1)
    driver.scan.emit(1, str(tmp_path / "gone"), False, Stored())
    assert "gone" in rec.wait(qtbot, "scan_failed")[1]


def test_superseded_scan_stops(qtbot, in_thread, tmp_path):
    make_images(tmp_path / "f", 3, size=(8, 8))
    scanner, driver, rec = setup_scanner(in_thread)
    scanner.supersede(2)
    driver.scan.emit(1, str(tmp_path / "f"), False, Stored())  # an older request arriving late: ignored
    driver.scan.emit(2, str(tmp_path / "f"), False, Stored())
    assert rec.wait(qtbot, "scan_finished")[:2] == (2, 3)
    assert {scan_id for scan_id, _ in rec.got["records_found"]} == {2}


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
    stat = photo.stat()
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched: a later time
    assert disk_cache_file(tmp_path, str(photo), 32) != first
    Image.new("RGB", (300, 10)).save(photo)
    assert photo.stat().st_size != stat.st_size
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # rewritten, with the old time
    assert disk_cache_file(tmp_path, str(photo), 32) != first
    assert disk_cache_file(tmp_path, str(tmp_path / "missing.png"), 32) is None


def test_disk_cache_is_pruned_oldest_first(tmp_path):
    from visioncap_desktop.workers.thumbnail_loader import prune_disk_cache

    for i in range(10):
        path = tmp_path / f"{i:02d}" / f"{i}.jpg"
        path.parent.mkdir()
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + i, 1000 + i))
    assert prune_disk_cache(tmp_path, max_bytes=2000) == 0  # under the limit: nothing to do
    assert prune_disk_cache(tmp_path, max_bytes=500) == 6  # down to 80%: 400 bytes
    assert sorted(p.name for p in tmp_path.rglob("*.jpg")) == ["6.jpg", "7.jpg", "8.jpg", "9.jpg"]
    assert prune_disk_cache(tmp_path / "missing") == 0


class LoadDriver(QObject):
    load = Signal(object, str)


def test_the_worker_loads_the_style_and_prompt_asked_for(qtbot, in_thread):
    asked = []

    def factory(spec, device):
        asked.append(spec)
        fake = FakeCaptioner()
        info = model_info(spec.model)
        fake.style = info.style(spec.style).name if info and info.styles else ""
        return fake

    worker = in_thread(CaptionWorker(factory))
    driver = LoadDriver()
    driver.load.connect(worker.load_model)
    styles = []
    worker.style_loaded.connect(styles.append)
    for spec in (ModelSpec("florence-2-base", "detailed"), ModelSpec("florence-2-base", "detailed"),
                 ModelSpec("florence-2-base"), ModelSpec("blip-base", "", "a photograph of")):
        with qtbot.waitSignal(worker.model_loaded, timeout=WAIT_MS, raising=False):
            driver.load.emit(spec, "cpu")
    qtbot.waitUntil(lambda: len(styles) == 3)
    assert asked == [  # the same spec twice: loaded once
        ModelSpec("florence-2-base", "detailed"), ModelSpec("florence-2-base"),
        ModelSpec("blip-base", "", "a photograph of")]
    assert styles == ["detailed", "caption", ""]
    assert RunRequest(1, ("a.jpg",), "demo").model == "demo"  # a bare model: its default style
