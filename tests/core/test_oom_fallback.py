"""The GPU fallback, with a fake captioner whose GPU holds `fits` images and may lack an operation.

The errors are the ones each backend raises: torch.OutOfMemoryError (CUDA, ROCm, XPU, recent MPS),
the RuntimeError older PyTorch raises when MPS runs out of memory, and the NotImplementedError of
an operator MPS lacks. No GPU is needed: the fake only carries the device's name.
"""

import pytest
import torch

from core.captioning.captioner import CaptionResult
from core.captioning.oom_fallback import OUT_OF_MEMORY, OutOfMemoryFallback

OUT_OF_MEMORY_ERRORS = {
    "cuda": lambda: OUT_OF_MEMORY("CUDA out of memory. Tried to allocate 2.00 GiB"),
    "xpu": lambda: OUT_OF_MEMORY("XPU out of memory. Tried to allocate 2.00 GiB"),
    "mps": lambda: RuntimeError("MPS backend out of memory (MPS allocated: 17.50 GB, other allocations: "
                                "1.02 GB, max allowed: 18.13 GB). Tried to allocate 1.50 GB on private pool."),
    "cpu": lambda: OUT_OF_MEMORY("DefaultCPUAllocator: not enough memory"),
}
MISSING_OPERATOR = (
    "The operator 'aten::_upsample_bicubic2d_aa.out' is not currently implemented for the MPS device. If you "
    "want this op to be added in priority during the prototype phase of this feature, please comment on "
    "https://github.com/pytorch/pytorch/issues/77764. As a temporary fix, you can set the environment "
    "variable `PYTORCH_ENABLE_MPS_FALLBACK=1` to use the CPU as a fallback for this op."
)


class FakeCaptioner:
    def __init__(self, fits_on_gpu: int, fits_on_cpu: int = 1000, gpu: str = "cuda", lacks_op_from: int | None = None):
        """`lacks_op_from`: the GPU raises NotImplementedError from this batch on (counting from 0)."""
        self.device = torch.device(gpu)
        self.fits = {gpu: fits_on_gpu, "cpu": fits_on_cpu}
        self.lacks_op_from = lacks_op_from
        self.batches: list[tuple[str, int]] = []  # (device, size) of each batch that ran

    def to(self, device):
        self.device = torch.device(device)
        return self

    def caption_batches(self, images, settings=None, batch_size=8):
        images = list(images)
        kind = self.device.type
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            if kind != "cpu" and self.lacks_op_from is not None and len(self.batches) >= self.lacks_op_from:
                raise NotImplementedError(MISSING_OPERATOR)
            if len(batch) > self.fits[kind]:
                raise OUT_OF_MEMORY_ERRORS[kind]()
            self.batches.append((kind, len(batch)))
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


@pytest.mark.parametrize(("gpu", "name"), [("cuda", "CUDA"), ("mps", "MPS"), ("xpu", "XPU")])
def test_each_gpus_out_of_memory_halves_the_batch(gpu, name):
    captioner, notices = FakeCaptioner(fits_on_gpu=2, gpu=gpu), []
    images = [f"{i}.jpg" for i in range(7)]
    assert run(OutOfMemoryFallback(captioner, notices.append), images, 8) == images
    assert captioner.device.type == gpu and [size for _, size in captioner.batches] == [2, 2, 2, 1]
    assert notices == [f"{name} ran out of memory: retrying with 4 image(s) per batch.",
                       f"{name} ran out of memory: retrying with 2 image(s) per batch."]


def test_rocm_is_named_as_such(monkeypatch):
    monkeypatch.setattr(torch.version, "hip", "6.2")
    notices = []
    run(OutOfMemoryFallback(FakeCaptioner(fits_on_gpu=1), notices.append), ["a.jpg", "b.jpg"], 2)
    assert notices == ["ROCm ran out of memory: retrying with 1 image(s) per batch."]


@pytest.mark.parametrize("gpu", ["cuda", "mps"])
def test_moves_to_the_cpu_when_one_image_does_not_fit(gpu):
    captioner, notices = FakeCaptioner(fits_on_gpu=0, gpu=gpu), []
    images = [f"{i}.jpg" for i in range(5)]
    assert run(OutOfMemoryFallback(captioner, notices.append), images, 4) == images
    assert captioner.device.type == "cpu" and captioner.batches == [("cpu", 4), ("cpu", 1)]
    assert notices[-1].endswith("captioning continues on the CPU.") and len(notices) == 3


def test_a_missing_operation_moves_to_the_cpu_at_once_and_says_so_once():
    captioner, notices = FakeCaptioner(fits_on_gpu=8, gpu="mps", lacks_op_from=2), []
    fallback = OutOfMemoryFallback(captioner, lambda text: notices.append((text, captioner.device.type)))
    images = [f"{i}.jpg" for i in range(11)]
    assert run(fallback, images, 3) == images  # each image once, in order
    assert captioner.batches == [("mps", 3), ("mps", 3), ("cpu", 3), ("cpu", 2)]  # at the requested size
    assert notices == [("MPS lacks an operation the model needs (aten::_upsample_bicubic2d_aa.out): "
                        "captioning continues on the CPU.", "cpu")]  # said once the model is there
    assert run(fallback, images, 3) == images and len(notices) == 1  # later runs stay on the CPU


def test_a_missing_operation_after_running_out_of_memory():
    captioner, notices = FakeCaptioner(fits_on_gpu=2, gpu="xpu", lacks_op_from=1), []
    fallback = OutOfMemoryFallback(captioner, notices.append)
    images = [f"{i}.jpg" for i in range(6)]
    assert run(fallback, images, 4) == images
    assert captioner.batches == [("xpu", 2), ("cpu", 4)]  # the lowered size was for the GPU's memory
    assert len(notices) == 2 and fallback.batch_limit is None


@pytest.mark.parametrize("error", [
    OUT_OF_MEMORY("DefaultCPUAllocator: not enough memory"), NotImplementedError("no kernel"),
], ids=["out of memory", "missing operation"])
def test_on_the_cpu_nothing_is_left_to_fall_back_to(error):
    class Failing(FakeCaptioner):
        def caption_batches(self, images, settings=None, batch_size=8):
            raise error
            yield

    with pytest.raises(type(error)):
        run(OutOfMemoryFallback(Failing(fits_on_gpu=0, gpu="cpu")), ["a.jpg"], 1)


def test_out_of_memory_on_the_cpu_is_raised():
    captioner = FakeCaptioner(fits_on_gpu=0, fits_on_cpu=0)
    with pytest.raises(OUT_OF_MEMORY):
        run(OutOfMemoryFallback(captioner), ["a.jpg"], 1)


def test_other_gpu_errors_are_raised_not_retried():
    class Failing(FakeCaptioner):
        def caption_batches(self, images, settings=None, batch_size=8):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
            yield

    captioner, notices = Failing(fits_on_gpu=8), []
    with pytest.raises(RuntimeError, match="illegal memory access"):
        run(OutOfMemoryFallback(captioner, notices.append), ["a.jpg"], 1)
    assert captioner.device.type == "cuda" and notices == []


class NamingCaptioner(FakeCaptioner):
    """Names in-memory images as Captioner does, by their place in the list it was given; its
    second batch runs out of memory once (a larger picture, another program's memory)."""

    failed = False

    def caption_batches(self, images, settings=None, batch_size=8):
        from PIL import Image

        images = list(images)
        names = [f"<image {i}>" if isinstance(image, Image.Image) else str(image) for i, image in enumerate(images)]
        for number, start in enumerate(range(0, len(images), batch_size)):
            if number == 1 and not self.failed:
                self.failed = True
                raise OUT_OF_MEMORY_ERRORS[self.device.type]()
            yield [CaptionResult(name, caption="a caption") for name in names[start : start + batch_size]]


def test_in_memory_images_keep_their_place_in_the_whole_list_after_a_retry():
    from PIL import Image

    images = [Image.new("RGB", (8, 8)) for _ in range(7)] + ["photo.jpg"]
    fallback = OutOfMemoryFallback(NamingCaptioner(fits_on_gpu=8))
    assert run(fallback, images, batch_size=3) == [f"<image {i}>" for i in range(7)] + ["photo.jpg"]
