"""What the callers of a captioner use of it: core.captioning.captioner.Captioner has all of it,
and tests pass fakes that have only this.

`BatchCaptioner` is what core.captioning.oom_fallback.OutOfMemoryFallback drives; the desktop
app's CaptionWorker keeps a `NamedCaptioner`; `DescribedCaptioner` is what every real captioner
is (Captioner, core.captioning.hf_captioner.TransformersCaptioner: see
core.captioning.loading.load_captioner), which also says which caption style it writes and what
model it is. The worker also hands a captioner that has them a
`threads` policy (core.captioning.threads.ThreadPolicy) and `shared_decodes`, and reads its
`parameters`; fakes without them are left alone.

Importing this module imports no torch: the app imports it before its first model loads.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

    from core.captioning.captioner import CaptionResult, ImageSource
    from core.captioning.catalogue import ModelInfo
    from core.captioning.generation_settings import GenerationSettings


class BatchCaptioner(Protocol):
    @property
    def device(self) -> torch.device | str:
        """Where the model runs: a torch.device, or its name ("cuda:0")."""
        ...

    def to(self, device: str) -> object:
        """Move to `device` ("cpu" after the GPU ran out of memory); what it returns is unused."""
        ...

    def caption_batches(
        self, images: Iterable[ImageSource], settings: GenerationSettings | None, batch_size: int
    ) -> Generator[list[CaptionResult], None, None]:
        """One list of results per batch of at most `batch_size` images, in input order. A
        generator: closing it stops the run between batches."""
        ...


class NamedCaptioner(BatchCaptioner, Protocol):
    @property
    def name(self) -> str:
        """The model's name, for the user."""
        ...


class DescribedCaptioner(NamedCaptioner, Protocol):
    @property
    def style(self) -> str:
        """The caption style it writes ("detailed"), "" for a model with one way to caption."""
        ...

    @property
    def info(self) -> ModelInfo:
        """What the model is: family, size, licence, languages, styles (core.captioning.catalogue)."""
        ...
