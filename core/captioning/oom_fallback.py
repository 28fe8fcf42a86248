"""Captioning that survives the GPU running out of memory or lacking an operation, shared by the
CLI and the desktop app. GPU here means any accelerator (core.captioning.device.ACCELERATORS: CUDA and
ROCm, MPS, XPU).

When a batch does not fit on the GPU, the batch size is halved and the images not yet captioned
are retried, down to one image per batch; if even one image does not fit, the model moves to
the CPU and captioning goes on there. When the GPU lacks an operation the model needs (MPS and
XPU raise NotImplementedError for some; with PYTORCH_ENABLE_MPS_FALLBACK=1 PyTorch runs those
on the CPU itself and none is raised), the model moves to the CPU at once. Each step is
reported once through `notify`. Out of memory or a missing operation on the CPU is not
recoverable and is raised. Nothing is captioned twice or skipped: results come out in input
order, exactly one per image.

    fallback = OutOfMemoryFallback(captioner, notify=print)
    for results in fallback.caption_batches(paths, settings, batch_size=32):
        ...
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Generator, Iterable

import torch
from PIL import Image

from core.captioning.captioner import CaptionResult, ImageSource
from core.captioning.device import ACCELERATORS, backend, is_available
from core.captioning.generation_settings import GenerationSettings
from core.captioning.protocols import BatchCaptioner

OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
# Out of memory as older PyTorch reports it for MPS and XPU: a plain RuntimeError
OUT_OF_MEMORY_MESSAGES = ("MPS backend out of memory", "XPU out of memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is a device running out of memory, however this PyTorch reports it."""
    return isinstance(exc, OUT_OF_MEMORY) or (
        isinstance(exc, RuntimeError) and any(text in str(exc) for text in OUT_OF_MEMORY_MESSAGES)
    )


def missing_operation(exc: BaseException) -> str:
    """The operator named in a NotImplementedError ("aten::upsample_bicubic2d"), else its first
    line, shortened."""
    text = str(exc).strip()
    found = re.search(r"operator '([^']+)'", text)
    if found:
        return found.group(1)
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if len(first) <= 80 else first[:77] + "..."


def _accelerator(device: torch.device | str) -> str | None:
    """The accelerator kind `device` (a torch.device or a string) is on, or None on the CPU."""
    kind = str(getattr(device, "type", device)).split(":")[0]
    return kind if kind in ACCELERATORS else None


def _free_cache(kind: str) -> None:
    module = getattr(torch, kind, None)
    if is_available(kind) and module is not None and hasattr(module, "empty_cache"):
        module.empty_cache()


def _numbered(results: list[CaptionResult], sources: list[ImageSource], first: int) -> list[CaptionResult]:
    """`results` of sources[first:], with in-memory images named by their place in the whole
    list: a captioner names them by their place in what it was given ("<image 0>"), which after
    a retry is the rest of the list."""
    for offset, result in enumerate(results):
        if isinstance(sources[first + offset], Image.Image):
            result.source = f"<image {first + offset}>"
    return results


class OutOfMemoryFallback:
    """Wraps a captioner (core.captioning.captioner.Captioner, or any BatchCaptioner: its `device`,
    `to()` and `caption_batches()`). The lowered batch size is remembered for later runs with the
    same captioner, so a second run does not hit the same wall."""

    def __init__(self, captioner: BatchCaptioner, notify: Callable[[str], None] | None = None):
        self.captioner = captioner
        self.notify = notify or (lambda message: None)
        self.batch_limit: int | None = None  # lowered after the GPU ran out of memory

    def caption_batches(
        self,
        images: Iterable[ImageSource],
        settings: GenerationSettings | None = None,
        batch_size: int = 8,
    ) -> Generator[list[CaptionResult], None, None]:
        """`Captioner.caption_batches`, retrying with smaller batches, then on the CPU."""
        sources = list(images)
        done = 0
        size = min(batch_size, self.batch_limit or batch_size)
        while done < len(sources):
            batches = self.captioner.caption_batches(sources[done:], settings, size)
            try:
                with contextlib.closing(batches):
                    for results in batches:
                        yield _numbered(results, sources, done)
                        done += len(results)
            except RuntimeError as exc:  # torch.OutOfMemoryError and NotImplementedError are ones
                size = self._recover(exc, size, batch_size)

    def _recover(self, exc: RuntimeError, size: int, requested: int) -> int:
        """The batch size to retry with; moves to the CPU at one image per batch, or at once
        for a missing operation. Raises `exc` when there is nothing to fall back to."""
        kind = _accelerator(self.captioner.device)
        out_of_memory = is_out_of_memory(exc)
        if kind is None or not (out_of_memory or isinstance(exc, NotImplementedError)):
            raise exc
        _free_cache(kind)
        name = backend(kind)
        if out_of_memory and size > 1:
            self.batch_limit = size // 2
            self.notify(f"{name} ran out of memory: retrying with {self.batch_limit} image(s) per batch.")
            return self.batch_limit
        self.captioner.to("cpu")  # before the notice: whoever hears it sees the captioner on the CPU
        _free_cache(kind)  # the weights that left
        self.batch_limit = None
        if out_of_memory:
            self.notify(f"{name} ran out of memory even with one image per batch: captioning continues on the CPU.")
        else:
            self.notify(f"{name} lacks an operation the model needs ({missing_operation(exc)}): "
                        "captioning continues on the CPU.")
        return requested
