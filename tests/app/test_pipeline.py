"""The app's captioning pipeline: the model's CPU threads (core's thread policy with the app's
reserve, the user's setting applied before and during a run) and the thumbnail pool, which
shrinks to one thread while the model captions.

The machine is pretended to have 8 CPUs (core.captioning.threads.usable_cpus patched where it is read),
so the app's reserve and the thumbnail throttling are visible on any test machine."""

from __future__ import annotations

import json
import threading

import pytest
from PySide6.QtWidgets import QDialog

from core.captioning import threads as core_threads
from core.captioning.threads import APP_RESERVE, ThreadPolicy, thread_limit, thumbnail_threads
from tests.app import test_workers
from tests.app.fakes import FakeCaptioner
from tests.app.test_workers import setup_worker, start_run
from tests.app.window_steps import open_folder, run_captions
from visioncap_desktop import settings as settings_module
from visioncap_desktop.dialogs.settings_dialog import SettingsDialog
from visioncap_desktop.settings import Settings
from visioncap_desktop.workers import thumbnail_loader
from visioncap_desktop.workers.caption_worker import RunRequest

CPUS = 8
in_thread = test_workers.in_thread  # the fixture: workers on QThreads, stopped afterwards


@pytest.fixture(autouse=True)
def eight_cpus(monkeypatch):
    for module in (core_threads, thumbnail_loader, settings_module):
        monkeypatch.setattr(module, "usable_cpus", lambda: CPUS)
    monkeypatch.setattr("visioncap_desktop.dialogs.settings_dialog.usable_cpus", lambda: CPUS)


class PolicyFake(FakeCaptioner):
    """A fake captioner with core's real thread policy; records the policy's fixed count and
    the count it would use as each batch runs (after the fake's gate, if any)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.threads = ThreadPolicy()
        self.seen: list[tuple[int | None, int]] = []

    def caption_batches(self, images, settings, batch_size=8):
        for results in super().caption_batches(images, settings, batch_size):
            self.seen.append((self.threads.fixed, self.threads.threads))
            yield results


# --- the setting ----------------------------------------------------------------------------------


def test_cpu_threads_setting_round_trips_and_validates(settings):
    assert settings.get("cpu_threads") == 0  # automatic
    settings.set("cpu_threads", 3)
    assert Settings.load().get("cpu_threads") == 3
    for bad in (-1, CPUS + 1, True, "2", 2.0):
        with pytest.raises(ValueError):
            settings.set("cpu_threads", bad)
    assert Settings.load().get("cpu_threads") == 3


@pytest.mark.parametrize("stored", [-2, CPUS + 1, "four", None, 1.5])
def test_a_bad_cpu_threads_value_in_the_file_means_automatic(app_home, stored):
    path = Settings.default_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"cpu_threads": stored, "batch_size": 4}), encoding="utf-8")
    loaded = Settings.load()
    assert loaded.get("cpu_threads") == 0 and loaded.get("batch_size") == 4


def test_listeners_hear_changes_only(settings):
    heard = []
    settings.add_listener(lambda key, value: heard.append((key, value)))
    settings.set("cpu_threads", 2)
    settings.set("cpu_threads", 2)  # unchanged: no call
    settings.set("theme", "dark")
    assert heard == [("cpu_threads", 2), ("theme", "dark")]


def test_the_dialog_offers_automatic_and_every_cpu(qtbot):
    dialog = SettingsDialog({}, "auto", 8, "model", cpu_threads=3)
    qtbot.addWidget(dialog)
    combo = dialog.cpu_threads
    assert [combo.itemData(i) for i in range(combo.count())] == [0, *range(1, CPUS + 1)]
    assert combo.itemText(0) == "Automatic" and dialog.cpu_threads_choice() == 3
    assert any("Automatic adapts" in label.text() for label in dialog.findChildren(type(dialog.model_label)))
    combo.setCurrentIndex(0)
    assert dialog.cpu_threads_choice() == 0
    unknown = SettingsDialog({}, "auto", 8, "model", cpu_threads=CPUS + 5)
    qtbot.addWidget(unknown)
    assert unknown.cpu_threads_choice() == 0


# --- the worker -----------------------------------------------------------------------------------


def test_the_worker_gives_the_captioner_the_app_reserve_and_a_fixed_count(qtbot, in_thread):
    fake = PolicyFake()
    default_limit = fake.threads.tuner.limit
    worker, driver, rec = setup_worker(in_thread, lambda bundle, device: fake)
    paths = tuple(f"/img/{i}.jpg" for i in range(6))

    start_run(qtbot, rec, driver, RunRequest(1, paths, "bundle", batch_size=2))
    assert default_limit == CPUS
    assert fake.threads.tuner.limit == thread_limit(CPUS, APP_RESERVE) == CPUS - 1
    assert fake.seen == [(None, CPUS - 1)] * 3  # automatic, a core kept for the GUI

    worker.set_threads(2)  # set between runs: the whole next run uses it
    fake.seen.clear()
    start_run(qtbot, rec, driver, RunRequest(2, paths, "bundle", batch_size=2))
    assert fake.seen == [(2, 2)] * 3

    worker.set_threads(0)
    fake.seen.clear()
    start_run(qtbot, rec, driver, RunRequest(3, paths[:2], "bundle", batch_size=2))
    assert fake.seen == [(None, CPUS - 1)]
    with pytest.raises(ValueError):
        worker.set_threads(-1)


def test_a_count_set_during_a_run_applies_from_the_next_batch(qtbot, in_thread):
    gate = threading.Event()
    fake = PolicyFake(gate=gate)
    worker, driver, rec = setup_worker(in_thread, lambda bundle, device: fake)
    driver.run.emit(RunRequest(1, tuple(f"/img/{i}.jpg" for i in range(8)), "bundle", batch_size=2))
    rec.wait(qtbot, "caption_ready")  # the first batch is done; the second waits at the gate
    worker.set_threads(1)
    gate.set()
    assert rec.wait(qtbot, "run_finished")[3] == "completed"
    assert fake.seen[0] == (None, CPUS - 1)
    # the batch already asked for may still run automatic; every batch after it has one thread
    assert fake.seen[2:] == [(1, 1)] * 2 and fake.seen[1] in ((None, CPUS - 1), (1, 1))


# --- the window: setting and thumbnail pool -------------------------------------------------------


def test_the_setting_reaches_the_captioner_before_and_during_a_run(qtbot, make_window, image_folder, monkeypatch):
    gate = threading.Event()
    fake = PolicyFake(gate=gate)
    window = make_window(model="fake", captioner_factory=lambda bundle, device: fake)
    window.settings.set("batch_size", 4)

    def choose_two(dialog):
        dialog.cpu_threads.setCurrentIndex(dialog.cpu_threads.findData(2))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", choose_two)
    window.model_controller.open_settings()
    assert Settings.load().get("cpu_threads") == 2
    open_folder(qtbot, window, image_folder)
    with qtbot.waitSignal(window.run_completed, timeout=10000) as finished:
        assert window.caption("all")
        qtbot.waitUntil(lambda: len(fake.seen) == 1, timeout=10000)  # the second batch waits at the gate
        window.settings.set("cpu_threads", 0)  # the dialog's OK during a run does this
        gate.set()
    assert finished.args[2] == "completed"
    assert fake.seen[0] == (2, 2) and fake.seen[-1] == (None, CPUS - 1)
    assert fake.threads.tuner.limit == CPUS - 1


def test_thumbnails_get_one_thread_during_a_run_and_all_after_it(qtbot, make_window, image_folder):
    gate = threading.Event()
    gate.set()
    window = make_window(model="fake", captioner_factory=lambda bundle, device: FakeCaptioner(gate=gate))
    window.settings.set("batch_size", 4)
    idle = thumbnail_threads(CPUS, captioning=False)
    assert idle == 4 and window.thumbnails.max_threads() == idle
    pool = []  # (running, thumbnail threads) each time a run starts or ends
    run = window.run_controller
    run.running_changed.connect(lambda: pool.append((run.is_running, window.thumbnails.max_threads())))
    open_folder(qtbot, window, image_folder)

    assert run_captions(qtbot, window)[2] == "completed"
    assert pool == [(True, 1), (False, idle)]

    gate.clear()  # the second run's second batch waits
    with qtbot.waitSignal(window.run_completed, timeout=10000) as finished:
        assert window.caption("all")
        qtbot.waitUntil(lambda: run.is_running, timeout=10000)
        run.cancel()
        gate.set()
    assert finished.args[2] == "cancelled"
    assert pool[2:] == [(True, 1), (False, idle)] and window.thumbnails.max_threads() == idle


def test_thumbnails_come_back_after_a_failed_run(qtbot, make_window, image_folder):
    window = make_window(model="fake",
                         captioner_factory=lambda bundle, device: FakeCaptioner(oom_above=0, oom_on="cpu"))
    open_folder(qtbot, window, image_folder)
    pool = []
    run = window.run_controller
    run.running_changed.connect(lambda: pool.append((run.is_running, window.thumbnails.max_threads())))
    assert run_captions(qtbot, window)[2] == "failed"
    assert pool == [(True, 1), (False, thumbnail_threads(CPUS, captioning=False))]
    assert window.thumbnails.max_threads() == thumbnail_threads(CPUS, captioning=False)


# --- decodes shared between the gallery and the model --------------------------------------------


def test_the_model_takes_the_decodes_the_gallery_made(qtbot, make_window, tmp_path):
    """The gallery's thumbnails of large JPEGs are decoded by core's reader into the window's
    SharedDecodes; the run that follows takes every one of them instead of decoding again."""
    from tests.core.test_images import big_jpeg

    folder = tmp_path / "big"
    folder.mkdir()
    photos = [big_jpeg(folder / f"p{i}.jpg", seed=i) for i in range(4)]
    window = make_window()
    shared = window.thumbnails.shared_decodes
    assert shared is not None and window.run_controller.worker._shared_decodes is shared
    qtbot.waitUntil(lambda: "Device" in window.model_label.text(), timeout=30000)
    open_folder(qtbot, window, folder)
    qtbot.waitUntil(lambda: all(window.thumbnails.is_cached(str(p)) for p in photos), timeout=15000)
    assert len(shared) == len(photos) and shared.hits == 0
    assert run_captions(qtbot, window)[2] == "completed"
    assert shared.hits == len(photos) and len(shared) == 0
    assert all(record.caption for record in window.gallery_model.records())
