"""A captioner that stands in for the real one where weights are not the point."""

from __future__ import annotations

import threading
from pathlib import Path


class FakeResult:
    def __init__(self, source, caption=None, error=None):
        self.source, self.caption, self.error = source, caption, error


class FakeCaptioner:
    """Stands in for core.captioning.captioner.Captioner where real weights are not the point.

    `oom_above`: on devices starting with `oom_on`, batches larger than this raise
    core.captioning.oom_fallback.OUT_OF_MEMORY (0: always).
    `gate`: if set, every batch after the first waits for it (to cancel mid-run reliably).
    `lacks_op_on`: on devices starting with this, every batch raises NotImplementedError, as MPS
    does for an operator it lacks.
    """

    def __init__(self, device: str = "cpu", oom_above: int | None = None, gate: threading.Event | None = None,
                 oom_on: str = "cuda", lacks_op_on: str | None = None):
        self.name = "fake-captioner"
        self.device = device
        self.oom_above = oom_above
        self.oom_on = oom_on
        self.lacks_op_on = lacks_op_on
        self.gate = gate
        self.batch_sizes: list[tuple[str, int]] = []
        self.moves: list[str] = []

    def to(self, device):
        self.moves.append(str(device))
        self.device = str(device)
        return self

    def caption_batches(self, images, settings, batch_size=8):
        from core.captioning.oom_fallback import OUT_OF_MEMORY

        images = [str(i) for i in images]
        for start in range(0, len(images), batch_size):
            self.batch_sizes.append((self.device, batch_size))
            if self.lacks_op_on and self.device.startswith(self.lacks_op_on):
                raise NotImplementedError("The operator 'aten::fake' is not currently implemented for the MPS device.")
            if self.device.startswith(self.oom_on) and self.oom_above is not None and batch_size > self.oom_above:
                raise OUT_OF_MEMORY("CUDA out of memory (fake)")
            if start and self.gate is not None:
                assert self.gate.wait(60), "test never released the gate"
            yield [FakeResult(p, caption=f"fake caption of {Path(p).name}") for p in images[start:start + batch_size]]
