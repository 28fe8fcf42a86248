"""The CUDA out-of-memory fallback, with a fake captioner whose GPU holds `fits` images."""

import pytest
import torch

from core.captioner import CaptionResult
from core.oom_fallback import OUT_OF_MEMORY, OutOfMemoryFallback


class FakeCaptioner:
    def __init__(self, fits_on_gpu: int, fits_on_cpu: int = 1000):
        self.device = torch.device("cuda")
        self.fits = {"cuda": fits_on_gpu, "cpu": fits_on_cpu}
        self.batches: list[tuple[str, int]] = []  # (device, size) of each batch that ran

    def to(self, device):
        self.device = torch.device(device)
        return self

    def caption_batches(self, images, settings=None, batch_size=8):
        images = list(images)
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            if len(batch) > self.fits[self.device.type]:
                raise OUT_OF_MEMORY("CUDA out of memory. Tried to allocate 2.00 GiB")
            self.batches.append((self.device.type, len(batch)))
            yield [CaptionResult(str(image), caption=f"caption of {image}") for image in batch]


def run(fallback, images, batch_size):
    return [r.source for batch in fallback.caption_batches(images, batch_size=batch_size) for r in batch]


def test_batch_is_halved_until_it_fits_and_every_image_comes_once_in_order():
    captioner, notices = FakeCaptioner(fits_on_gpu=3), []
    fallback = OutOfMemoryFallback(captioner, notices.append)
    images = [f"{i}.jpg" for i in range(11)]
    assert run(fallback, images, 8) == images
    assert {size for _, size in captioner.batches} <= {2, 1} and captioner.device.type == "cuda"
    assert notices == ["CUDA ran out of memory: retrying with 4 image(s) per batch.",
                       "CUDA ran out of memory: retrying with 2 image(s) per batch."]
    captioner.batches.clear()
    assert run(fallback, images, 8) == images  # the next run starts at the size that fitted
    assert len(notices) == 2 and max(size for _, size in captioner.batches) == 2


def test_moves_to_the_cpu_when_one_image_does_not_fit():
    captioner, notices = FakeCaptioner(fits_on_gpu=0), []
    images = [f"{i}.jpg" for i in range(5)]
    assert run(OutOfMemoryFallback(captioner, notices.append), images, 4) == images
    assert captioner.device.type == "cpu" and captioner.batches == [("cpu", 4), ("cpu", 1)]
    assert notices[-1].endswith("captioning continues on the CPU.") and len(notices) == 3


def test_out_of_memory_on_the_cpu_is_raised():
    captioner = FakeCaptioner(fits_on_gpu=0, fits_on_cpu=0)
    with pytest.raises(OUT_OF_MEMORY):
        run(OutOfMemoryFallback(captioner), ["a.jpg"], 1)
