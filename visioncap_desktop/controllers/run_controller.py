"""Captioning runs: one at a time, in the caption worker's thread.

A run is requested with the records to caption and the model (with its caption style or prompt);
the worker gets a snapshot (paths and settings) and answers by path. Each caption records the model
and the style that wrote it. Results go into the item model as they arrive (an edited
caption is kept unless the run may overwrite it; anything the user does to an image during the
run wins over its result) and into one undo command, pushed with the run's first change, so a
whole run, even a cancelled one, is one undo step and edits made during it are later steps.
"""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal
from PySide6.QtGui import QUndoStack

from visioncap_desktop.controllers.decisions import run_summary
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.gallery.undo_commands import CaptionRunCommand
from visioncap_desktop.model_choice import ModelSpec
from visioncap_desktop.problems import Problem
from visioncap_desktop.records import CaptionSnapshot, CaptionState, ImageRecord, run_may_replace
from visioncap_desktop.settings import Settings
from visioncap_desktop.widgets.run_progress import format_duration
from visioncap_desktop.wording import plural
from visioncap_desktop.workers.caption_worker import CaptionWorker, RunRequest


class ActiveRun:
    """One run's results as they arrive: applied to the model, recorded in the run's undo
    command, counted for the summary.

    A result is applied only while the image is as the run left it (as it was when the run
    started, or as the run's last result for it set it): an image the user edited, or whose
    edit was undone, during the run keeps what the user did, and the result counts as skipped.
    """

    def __init__(self, run_id: int, records: list[ImageRecord], overwrite_edited: bool, model: GalleryModel,
                 undo_stack: QUndoStack):
        self.run_id = run_id
        self.total = len(records)
        self.started = time.monotonic()
        self.command = CaptionRunCommand(model)
        self.captioned = self.failed = self.skipped = 0
        self._overwrite_edited = overwrite_edited
        self._model = model
        self._undo_stack = undo_stack
        self._started_with = {r.path: r.snapshot() for r in records}
        self._pushed = False
        self.problems: list[Problem] = []  # not yet reported

    def caption_ready(self, path: str, caption: str, model_name: str, style: str = "") -> None:
        if self._apply(path, CaptionSnapshot(caption, CaptionState.CAPTIONED, "", model_name, style=style)):
            self.captioned += 1
        else:
            self.skipped += 1
            record = self._model.record_for_path(path)
            if record is not None:
                self.problems.append(Problem("captioning", "skipped", record.name,
                                             "changed during the run: what you did to it was kept", path))

    def caption_failed(self, path: str, reason: str) -> None:
        self.failed += 1
        record = self._model.record_for_path(path)
        if record is not None:
            self.problems.append(Problem("captioning", "failed", record.name, reason, path))
            # an earlier caption stays visible next to the error; nothing the user had is lost
            self._apply(path, CaptionSnapshot(record.caption, CaptionState.ERROR, reason, record.model,
                                              style=record.style))

    def _apply(self, path: str, snapshot: CaptionSnapshot) -> bool:
        """False if the result may not replace what the image has now."""
        record = self._model.record_for_path(path)
        if record is None or not run_may_replace(record, self._overwrite_edited):
            return False
        snapshot = replace(snapshot, title=record.title)  # a run writes captions; the title stays
        expected = self.command.after(path) or self._started_with.get(path)
        if expected is None or record.snapshot() != replace(expected, title=record.title):
            return False  # the caption changed since (a title typed meanwhile does not count)
        change = self._model.apply_result(path, snapshot, self._overwrite_edited)
        if change is not None:
            if not self._pushed:
                self._pushed = True
                self._undo_stack.push(self.command)
            self.command.add(path, *change)
        return True

    def take_problems(self) -> list[Problem]:
        problems, self.problems = self.problems, []
        return problems

    def finish(self) -> None:
        """Name the run's undo step (it is on the stack if the run changed anything)."""
        if self._pushed:
            self.command.finish(f"Caption {plural(len(self.command), 'image')}")

    def summary(self, outcome: str) -> str:
        elapsed = format_duration(time.monotonic() - self.started)
        done = self.captioned + self.failed + self.skipped
        return run_summary(outcome, done, self.total, elapsed, self.failed, self.skipped)


class RunController(QObject):
    run_started = Signal(int)  # number of images
    progress = Signal(int, int)  # done, total
    run_cancelling = Signal()
    run_completed = Signal(int, int, str)  # done, total, outcome ("completed", "cancelled", "failed")
    running_changed = Signal()
    status = Signal(str, int)  # status bar text, milliseconds to show it (0: until replaced)
    message = Signal(object)  # Message
    problems_found = Signal(object)  # [Problem]: images that failed or kept what the user did
    # the worker's model events, for whoever shows the model's state
    model_loading = Signal(str)  # the model: "demo", a catalogue name or a folder
    model_loaded = Signal(str, str)  # model name, device label
    model_failed = Signal(str)  # message
    devices_found = Signal(object)  # core.captioning.device.DeviceInventory
    # requests to the worker (queued to its thread)
    run_requested = Signal(object)
    model_load_requested = Signal(object, str)  # ModelSpec, device

    def __init__(self, gallery_model: GalleryModel, undo_stack: QUndoStack, settings: Settings,
                 captioner_factory=None, parent: QObject | None = None, shared_decodes=None):
        """`captioner_factory`, `shared_decodes`: see CaptionWorker (tests pass fakes)."""
        super().__init__(parent)
        self._model = gallery_model
        self._undo_stack = undo_stack
        self._settings = settings
        self._run: ActiveRun | None = None
        self._run_counter = 0
        self._model_name = ""
        self._style = ""  # the loaded captioner's caption style, recorded with each of its captions
        self._shut_down = False

        self.thread = QThread(self)
        self.thread.setObjectName("visioncap-captioner")
        self.worker = CaptionWorker(captioner_factory, shared_decodes=shared_decodes)
        self.worker.set_threads(settings.get("cpu_threads"))
        self.worker.moveToThread(self.thread)
        self.thread.finished.connect(self.worker.deleteLater)
        self.connect_worker_signals()
        settings.add_listener(self._on_setting_changed)
        self.thread.start()

    def connect_worker_signals(self) -> None:
        worker = self.worker
        self.run_requested.connect(worker.start_run)
        self.model_load_requested.connect(worker.load_model)
        worker.model_loading.connect(self.model_loading)
        worker.style_loaded.connect(self._on_style_loaded)
        worker.model_loaded.connect(self._on_model_loaded)
        worker.model_failed.connect(self._on_model_failed)
        worker.devices_found.connect(self.devices_found)
        worker.caption_ready.connect(self._on_caption_ready)
        worker.caption_failed.connect(self._on_caption_failed)
        worker.progress.connect(self._on_progress)
        worker.notice.connect(lambda text: self.message.emit(Message("info", "Captioning", text, popup=False)))
        worker.run_failed.connect(
            lambda text: self.message.emit(Message("warning", "Captioning stopped", text)))
        worker.run_finished.connect(self._on_run_finished)

    @property
    def is_running(self) -> bool:
        return self._run is not None

    def load_model(self, model: ModelSpec | str, device: str) -> None:
        """Load a model in the worker now, so the next run starts at once. Ignored during a run
        (the worker is busy; each run loads the model it names) and after shutdown."""
        if model and self._run is None and not self._shut_down:
            self.model_load_requested.emit(model, device)

    def start(self, records: list[ImageRecord], model: ModelSpec | str, overwrite_edited: bool) -> bool:
        """Caption `records` with `model` (a ModelSpec: model, style, prompt; or a bare model) and
        the saved device and generation settings. False if a run is on already or there is
        nothing to caption."""
        if self._run is not None or not records:
            return False
        self._run_counter += 1
        request = RunRequest(
            run_id=self._run_counter,
            paths=tuple(r.path for r in records),
            model=model,
            device=self._settings.get("device"),
            generation=self._settings.get("generation"),
            batch_size=self._settings.get("batch_size"),
        )
        self._run = ActiveRun(request.run_id, records, overwrite_edited, self._model, self._undo_stack)
        self.run_started.emit(len(records))
        self.running_changed.emit()
        self.run_requested.emit(request)
        return True

    def cancel(self) -> None:
        """Stop after the current batch; the captions made so far are kept."""
        if self._run is not None:
            self.worker.cancel(self._run.run_id)
            self.run_cancelling.emit()
            self.status.emit("Cancelling after the current batch...", 0)

    def abandon(self) -> None:
        """Cancel and end the run now, keeping what arrived (its records are about to go)."""
        if self._run is not None:
            self.cancel()
            self._end_run("cancelled", len(self._run.command))

    def shutdown(self) -> None:
        """Stop the worker and keep every caption it sent before it stopped. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self._settings.remove_listener(self._on_setting_changed)
        if self._run is not None:
            self.worker.cancel(self._run.run_id)
        self.thread.quit()
        self.thread.wait()
        # deliver results the worker sent before it stopped, so the folder's save includes them
        QCoreApplication.sendPostedEvents(self)
        if self._run is not None:
            self._end_run("cancelled", len(self._run.command))

    def _on_setting_changed(self, key: str, value: object) -> None:
        if key == "cpu_threads":  # a plain attribute the worker reads between batches, also during a run
            self.worker.set_threads(value)

    # --- the worker's answers -------------------------------------------------------------------

    def _on_style_loaded(self, style: str) -> None:
        self._style = style

    def _on_model_loaded(self, name: str, device: str) -> None:
        self._model_name = name
        self.model_loaded.emit(name, device)

    def _on_model_failed(self, text: str) -> None:
        self._model_name = self._style = ""
        self.model_failed.emit(text)

    def _current(self, run_id: int) -> ActiveRun | None:
        """The run a worker signal is about, if it is still the window's current run."""
        return self._run if self._run is not None and run_id == self._run.run_id else None

    def _on_caption_ready(self, run_id: int, path: str, caption: str) -> None:
        if (run := self._current(run_id)) is not None:
            run.caption_ready(path, caption, self._model_name, self._style)

    def _on_caption_failed(self, run_id: int, path: str, reason: str) -> None:
        if (run := self._current(run_id)) is not None:
            run.caption_failed(path, reason)

    def _on_progress(self, run_id: int, done: int, total: int) -> None:
        if self._current(run_id) is not None:
            self.progress.emit(done, total)
            self._report_problems()  # once a batch, not once an image

    def _on_run_finished(self, run_id: int, done: int, total: int, outcome: str) -> None:
        if self._run is not None and run_id == self._run.run_id:
            self._end_run(outcome, done)

    def _report_problems(self) -> None:
        if self._run is not None and self._run.problems:
            self.problems_found.emit(self._run.take_problems())

    def _end_run(self, outcome: str, done: int) -> None:
        self._report_problems()
        run, self._run = self._run, None
        run.finish()
        self.status.emit(run.summary(outcome), 15000)
        self.running_changed.emit()
        self.run_completed.emit(done, run.total, outcome)
