"""Captioning that survives CUDA running out of memory, shared by the CLI and the desktop app.

When a batch does not fit on the GPU, the batch size is halved and the images not yet captioned
are retried, down to one image per batch; if even one image does not fit, the model moves to
the CPU and captioning goes on there. Each step is reported once through `notify`. Out of
memory on the CPU is not recoverable and is raised. Nothing is captioned twice or skipped:
results come out in input order, exactly one per image.

    fallback = OutOfMemoryFallback(captioner, notify=print)
    for results in fallback.caption_batches(paths, settings, batch_size=32):
        ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from core.captioner import CaptionResult
from core.generation_settings import GenerationSettings

OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def _on_cuda(device: Any) -> bool:
    return str(getattr(device, "type", device)).startswith("cuda")


class OutOfMemoryFallback:
    """Wraps a captioner (core.captioner.Captioner, or any object with its `device`, `to()` and
    `caption_batches()`). The lowered batch size is remembered for later runs with the same
    captioner, so a second run does not hit the same wall."""

    def __init__(self, captioner: Any, notify: Callable[[str], None] | None = None):
        self.captioner = captioner
        self.notify = notify or (lambda message: None)
        self.batch_limit: int | None = None  # lowered after CUDA ran out of memory

    def caption_batches(
        self,
        images: Iterable[Any],
        settings: GenerationSettings | None = None,
        batch_size: int = 8,
    ) -> Iterator[list[CaptionResult]]:
        """`Captioner.caption_batches`, retrying with smaller batches, then on the CPU."""
        sources = list(images)
        done = 0
        size = min(batch_size, self.batch_limit or batch_size)
        while done < len(sources):
            batches = self.captioner.caption_batches(sources[done:], settings, size)
            try:
                with contextlib.closing(batches):
                    for results in batches:
                        done += len(results)
                        yield results
            except OUT_OF_MEMORY as exc:
                size = self._recover(exc, size, batch_size)

    def _recover(self, exc: BaseException, size: int, requested: int) -> int:
        """The batch size to retry with; moves to the CPU at one image per batch."""
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if not _on_cuda(self.captioner.device):
            raise exc
        if size > 1:
            self.batch_limit = size // 2
            self.notify(f"CUDA ran out of memory: retrying with {self.batch_limit} image(s) per batch.")
            return self.batch_limit
        self.captioner.to("cpu")
        self.batch_limit = None
        self.notify("CUDA ran out of memory even with one image per batch: captioning continues on the CPU.")
        return requested
