"""The captioning worker: loads a captioner once, keeps it, and captions snapshots of paths.

It lives in its own QThread and is driven by queued signals (`load_model`, `start_run`). It
receives a RunRequest (paths and settings, copied at request time), emits one signal per result
keyed by path, and never touches widgets or the item model. torch is imported here, in the
worker thread, the first time a model loads, so the window is up before torch is. Every model
(the demo, a bundle folder, a catalogue model by name, with its caption style or prompt) loads
through core.captioning.loading.load_captioner, as the CLI's do.

Cancelling and the CPU thread count are plain attributes set from the GUI thread and read
between batches: a queued signal would wait behind the running batch loop. The captioner gets
core's adaptive thread policy with a core kept for the GUI and thumbnails (`APP_RESERVE`); the
user's setting pins its count from the next batch on, also during a run.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from core.captioning.device import device_inventory, device_name
from core.captioning.protocols import NamedCaptioner
from core.captioning.threads import APP_RESERVE, ThreadPolicy
from core.images.reading import SharedDecodes
from visioncap_desktop.gc_pauses import freeze_long_lived
from visioncap_desktop.model_choice import ModelSpec, as_spec

if TYPE_CHECKING:
    from core.captioning.oom_fallback import OutOfMemoryFallback  # imports torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    run_id: int
    paths: tuple[str, ...]
    model: ModelSpec | str  # a bare string: that model ("demo", a catalogue name, a folder) in its default style
    device: str = "auto"  # visioncap_desktop.settings.DEVICES: auto | cpu | cuda | mps | xpu
    generation: dict = field(default_factory=dict)  # GenerationSettings fields
    batch_size: int = 8


def load_captioner(spec: ModelSpec, device: str) -> NamedCaptioner:
    """The real captioner; imports torch (only ever called in the worker thread)."""
    from core.captioning.loading import load_captioner as load

    return load(spec.model, device=device, style=spec.style or None, prompt=spec.prompt or None)


class CaptionWorker(QObject):
    model_loading = Signal(str)  # the model: "demo", a catalogue name or a folder
    style_loaded = Signal(str)  # the loaded captioner's caption style ("" none), just before model_loaded
    model_loaded = Signal(str, str)  # model name, device label
    devices_found = Signal(object)  # core.captioning.device.DeviceInventory, once, after torch is first loaded
    model_failed = Signal(str)  # message naming the file and the problem
    # every per-run signal carries its run id: a result of a run the window has moved on from
    # (cancelled, or replaced by a newer one) is dropped by the receiver, never applied to another
    caption_ready = Signal(int, str, str)  # run id, path, caption
    caption_failed = Signal(int, str, str)  # run id, path, reason
    progress = Signal(int, int, int)  # run id, done, total
    notice = Signal(str)  # something the user should know, e.g. an out-of-memory fallback
    run_failed = Signal(str)  # the run stopped early; message for the user
    run_finished = Signal(int, int, int, str)  # run id, done, total, "completed"|"cancelled"|"failed"

    def __init__(self, captioner_factory: Callable[[ModelSpec, str], NamedCaptioner] | None = None, parent=None,
                 shared_decodes: SharedDecodes | None = None):
        """`captioner_factory(spec, device)` returns a core.captioning.protocols.NamedCaptioner
        (`name`, `device`, `to()` and `caption_batches()`, and `style` where it has one): what
        core.captioning.loading.load_captioner returns, or a test's fake. `shared_decodes`: JPEG
        decodes the captioner shares with the gallery's thumbnails."""
        super().__init__(parent)
        self._factory = captioner_factory or load_captioner
        self._shared_decodes = shared_decodes
        self._captioner: NamedCaptioner | None = None
        self._key: tuple[ModelSpec, str] | None = None
        self._fallback: OutOfMemoryFallback | None = None  # around the captioner
        self._device_label = ""
        self._devices_found = False
        self._cancelled_run = -1  # written by the GUI thread
        self._threads = 0  # written by the GUI thread: the model's CPU threads, 0 automatic

    def cancel(self, run_id: int) -> None:
        """Stop run `run_id` after its current batch. Safe to call from any thread, also
        before the run has started."""
        self._cancelled_run = run_id

    def set_threads(self, threads: int) -> None:
        """Caption with `threads` CPU threads (0: adapt to the load) from the next batch on.
        Safe to call from any thread, also during a run."""
        if threads < 0:
            raise ValueError(f"threads must be 0 (automatic) or more, got {threads}")
        self._threads = threads

    def _apply_threads(self) -> None:
        """Give the captioner the count last set (in this thread, between batches). Fakes
        without a thread policy are left alone."""
        policy = getattr(self._captioner, "threads", None)
        if policy is not None:
            policy.set_fixed(self._threads or None)

    @Slot(object, str)
    def load_model(self, model: ModelSpec | str, device: str) -> bool:
        """Load `model` (in its style, with its prompt) on `device` unless it is already loaded.
        Never raises."""
        spec = as_spec(model)
        if self._captioner is not None and self._key == (spec, device):
            return True
        self.model_loading.emit(spec.model)
        self._captioner = self._key = self._fallback = None  # free the old model before loading the new one
        try:
            captioner = self._factory(spec, device)
        except Exception as exc:  # any failure is a message; the app keeps running
            log.warning("loading %s on %s failed", spec, device, exc_info=True)
            self._find_devices()
            self.model_failed.emit(describe_load_error(exc))
            return False
        self._find_devices()
        from core.captioning.oom_fallback import OutOfMemoryFallback

        if hasattr(captioner, "threads"):
            captioner.threads = ThreadPolicy(reserve=APP_RESERVE, parameters=getattr(captioner, "parameters", None))
        if hasattr(captioner, "shared_decodes"):
            captioner.shared_decodes = self._shared_decodes
        self._captioner, self._key = captioner, (spec, device)
        self._fallback = OutOfMemoryFallback(captioner, notify=functools.partial(self._fallback_notice, captioner))
        self._device_label = device_name(captioner.device)
        freeze_long_lived("model loaded")  # torch's objects would make every full GC a GUI stall
        self.style_loaded.emit(getattr(captioner, "style", "") or "")
        self.model_loaded.emit(captioner.name, self._device_label)
        return True

    def _find_devices(self) -> None:
        """Tell the settings dialog which devices there are, once torch is loaded (the first
        model loads it, failed or not). Never raises: the list is only informative."""
        if self._devices_found or "torch" not in sys.modules:
            return
        self._devices_found = True
        try:
            devices = device_inventory()  # asks each backend: here, not in the GUI thread
        except Exception:
            log.warning("could not list the devices", exc_info=True)
            return
        self.devices_found.emit(devices)

    def _fallback_notice(self, captioner: NamedCaptioner, message: str) -> None:
        """The fallback around `captioner` lowered the batch size, or moved the model to the CPU
        (out of memory, or an operation the GPU lacks)."""
        self.notice.emit(message)
        label = device_name(captioner.device)
        if label != self._device_label:
            self._device_label = label
            self.model_loaded.emit(captioner.name, label)

    @Slot(object)
    def start_run(self, request: RunRequest) -> None:
        total = len(request.paths)
        if self._cancelled_run == request.run_id:
            self.run_finished.emit(request.run_id, 0, total, "cancelled")
            return
        if not self.load_model(request.model, request.device):
            self.run_finished.emit(request.run_id, 0, total, "failed")
            return
        done = [0]
        try:
            outcome = self._run(request, done)
        except Exception as exc:
            log.exception("captioning run %d failed", request.run_id)
            self.run_failed.emit(f"Captioning stopped after {done[0]} of {total} images: {exc}")
            outcome = "failed"
        self.run_finished.emit(request.run_id, done[0], total, outcome)

    def _run(self, request: RunRequest, done: list[int]) -> str:
        from core.captioning.generation import GenerationSettings

        fallback = self._fallback
        assert fallback is not None  # start_run loaded the model
        settings = GenerationSettings.from_dict(request.generation)
        paths = list(request.paths)
        self.progress.emit(request.run_id, 0, len(paths))
        if self._cancelled_run == request.run_id:
            return "cancelled"
        self._apply_threads()
        # one pass: the fallback retries smaller batches (then the CPU) itself, in input order
        for results in fallback.caption_batches(paths, settings, batch_size=request.batch_size):
            for path, result in zip(paths[done[0]:], results):
                if result.error is None:
                    self.caption_ready.emit(request.run_id, path, result.caption)
                else:
                    self.caption_failed.emit(request.run_id, path, result.error)
            done[0] += len(results)
            self.progress.emit(request.run_id, done[0], len(paths))
            if self._cancelled_run == request.run_id:
                return "cancelled"
            self._apply_threads()  # the captioner sets its count when the loop asks for the next batch
        return "completed"


def describe_load_error(exc: Exception) -> str:
    """One line for the user. core's errors already name the file and the problem."""
    from core.errors import VisionCapError

    if isinstance(exc, (VisionCapError, ValueError, OSError)):
        return str(exc)
    if isinstance(exc, ImportError):
        return f"a component the model needs is missing: {exc}"
    return f"{type(exc).__name__}: {exc}"
