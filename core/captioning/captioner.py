"""The high-level API: load a bundle, caption images.

    captioner = Captioner.load("my-bundle", device="auto")
    for result in captioner.caption(["a.jpg", "b.png"]):
        print(result.source, result.caption or result.error)

A bad image never aborts a batch: its result carries an error and the rest are captioned.
This path imports neither transformers nor Qt.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from core.bundles.bundle import Bundle, load_bundle
from core.captioning.catalogue import ModelInfo, model_info
from core.captioning.device import resolve_device, resolve_precision
from core.captioning.generation import GenerationSettings, generate
from core.captioning.model import VisionGPT2
from core.captioning.onednn import pack_decoder, unpack_decoder
from core.captioning.quantized import is_quantized, quantize_linear_layers, quiet
from core.captioning.threads import ThreadPolicy
from core.errors import ImageError
from core.images.reading import SharedDecodes, image_to_array, load_image

ImageSource = str | Path | Image.Image
NO_TEXT = "model produced no text"  # an empty caption is a failure, never a success


@dataclass
class CaptionResult:
    source: str  # the path as given, or "<image N>" for an in-memory image
    caption: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


LOW_PRECISION = {"bf16": torch.bfloat16, "fp16": torch.float16}


def set_precision(model: VisionGPT2, precision: str, device: torch.device) -> None:
    """Move `model` to `device` and prepare it to run in `precision` there.

    The weights of every Linear and Conv2d are stored in the precision's dtype (float32 for
    fp32). Under autocast these are exactly the values each call would cast them to, so captions
    are identical to plain autocast, without casting 200M weights per batch, in half the memory.
    Embeddings, norms, the class token and position embedding stay float32, as autocast leaves
    them. On the CPU, bf16 runs the encoder's attention as explicit matmuls (timm's fused kernel
    is slower there; in fp32 and on CUDA the fused one wins), and decode steps run through
    oneDNN with prepacked weights (core/captioning/onednn.py). "int8" (the CPU only) replaces every
    Linear layer with torch's dynamically quantised one (int8 weights, activations quantised per
    batch, so a caption can depend on the other images of its batch), in place: such a model cannot
    change precision again.
    """
    if is_quantized(model):
        raise ValueError("this model was quantised to int8 and cannot change precision: load the bundle again")
    unpack_decoder(model)
    model.to(device)
    if precision == "int8":
        quantize_linear_layers(model)
        return
    dtype = LOW_PRECISION.get(precision, torch.float32)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.to(dtype)
    on_cpu = device.type == "cpu"
    model.encoder.use_fused_attention(not (on_cpu and precision == "bf16"))
    if on_cpu and precision in ("fp32", "bf16"):
        pack_decoder(model)


def precision_context(precision: str, device: torch.device):
    """Autocast for bf16/fp16, torch.ao's notices silenced for int8, nothing for fp32."""
    dtype = LOW_PRECISION.get(precision)
    if dtype:
        return torch.autocast(device.type, dtype=dtype)
    return quiet() if precision == "int8" else contextlib.nullcontext()


def _caption_result(source: str, caption: str) -> CaptionResult:
    return CaptionResult(source, caption=caption) if caption.strip() else CaptionResult(source, error=NO_TEXT)


def _prepare_all(prepare: Callable[[ImageSource], Any], sources: Sequence[ImageSource]) -> tuple[list, list[str | None]]:
    """`prepare` each source; an image that cannot be read is None with its reason."""
    prepared: list = []
    errors: list[str | None] = []
    for source in sources:
        try:
            prepared.append(prepare(source))
            errors.append(None)
        except ImageError as exc:
            prepared.append(None)
            errors.append(exc.reason)
    return prepared, errors


def caption_pipeline(
    images: Iterable[ImageSource],
    prepare: Callable[[ImageSource], Any],
    caption_prepared: Callable[[list], list[str]],
    threads: ThreadPolicy,
    batch_size: int,
) -> Generator[list[CaptionResult], None, None]:
    """What every captioner's `caption_batches` does around its model: results batch by batch
    in input order; each batch's images `prepare`d in a background thread while the model
    (`caption_prepared`) works on the one before; an image that cannot be read, or a caption with
    no text, is an error result and never the end of its batch; `threads` (the CPU thread
    policy) told where each batch starts and ends. Closing the generator stops between batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    sources = list(images)
    names = [f"<image {i}>" if isinstance(s, Image.Image) else str(s) for i, s in enumerate(sources)]
    return _pipeline(sources, names, prepare, caption_prepared, threads, batch_size)


def _pipeline(sources: list[ImageSource], names: list[str], prepare: Callable[[ImageSource], Any],
              caption_prepared: Callable[[list], list[str]], threads: ThreadPolicy,
              batch_size: int) -> Generator[list[CaptionResult], None, None]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="visioncap-decode") as pool:
        pending: Future | None = None
        try:
            for start in range(0, len(sources), batch_size):
                if pending is None:
                    pending = pool.submit(_prepare_all, prepare, sources[start : start + batch_size])
                prepared, errors = pending.result()
                following = start + batch_size
                pending = (
                    pool.submit(_prepare_all, prepare, sources[following : following + batch_size])
                    if following < len(sources)
                    else None
                )
                good = [item for item in prepared if item is not None]
                threads.before_batch(last=pending is None)
                captions = iter(caption_prepared(good) if good else [])
                threads.after_batch(len(good))
                handed = time.perf_counter()
                yield [
                    CaptionResult(names[start + i], error=err) if err else _caption_result(names[start + i], next(captions))
                    for i, err in enumerate(errors)
                ]
                threads.away(time.perf_counter() - handed)
        finally:
            threads.end_run()


class Captioner:
    def __init__(self, bundle: Bundle, device: torch.device, precision: str = "auto"):
        self.bundle = bundle
        self.model = bundle.model
        self.tokenizer = bundle.tokenizer
        self.config = bundle.config
        self.device = device
        self.precision = resolve_precision(precision, device)
        # counted before set_precision: the oneDNN-packed decoder holds its weights outside parameters()
        self._parameters = sum(p.numel() for p in self.model.parameters())
        set_precision(self.model, self.precision, device)
        # CPU threads: adaptive unless fixed (set_fixed)
        self.threads = ThreadPolicy(parameters=self.parameters)
        # JPEG decodes shared with another reader of the same photos (the app's thumbnails)
        self.shared_decodes: SharedDecodes | None = None
        self.style = ""  # VisionGPT2 captions one way
        self._mean = torch.tensor(self.config.image_mean).view(3, 1, 1)
        self._std = torch.tensor(self.config.image_std).view(3, 1, 1)

    @classmethod
    def load(
        cls,
        bundle_dir: str | Path,
        device: str | torch.device = "auto",
        precision: str = "auto",
        verify_hashes: bool = True,
    ) -> Captioner:
        """Load a bundle onto `device` ("auto", "cpu", "cuda", "cuda:1", "mps", "xpu": see
        core.captioning.device.resolve_device). Raises BundleError, or ValueError for a device that is not
        there or a precision it cannot run. `verify_hashes`: see `load_bundle`."""
        device = resolve_device(device)
        return cls(load_bundle(bundle_dir, device=device, verify_hashes=verify_hashes), device, precision)

    @property
    def parameters(self) -> int:
        """The model's parameter count (the thread policy starts a small model at one thread)."""
        return self._parameters

    @property
    def name(self) -> str:
        return self.bundle.manifest.name

    @property
    def info(self) -> ModelInfo:
        """The catalogue's entry for this bundle's name, else one built from its manifest."""
        manifest = self.bundle.manifest
        known = model_info(manifest.name)
        if known is not None and known.family == "visiongpt2":
            return known
        return ModelInfo(
            name=manifest.name,
            family="visiongpt2",
            title=manifest.name,
            source=str(manifest.provenance.get("source", self.bundle.path)),
            download_bytes=sum(int(f.get("bytes", 0)) for f in manifest.files.values()),
            parameters=self.parameters,
            licence=manifest.licence,
            languages="English",
            summary=manifest.description or "a VisionGPT2 bundle",
        )

    def to(self, device: str | torch.device, precision: str = "auto") -> Captioner:
        """Move to another device (e.g. the CPU after the GPU ran out of memory or lacked an
        operation: core.captioning.oom_fallback). Weights already stored in a lower precision keep their
        rounding."""
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        set_precision(self.model, self.precision, self.device)
        return self

    def _prepare(self, source: ImageSource) -> np.ndarray:
        image = load_image(source, min_size=self.config.image_size, shared=self.shared_decodes)
        return image_to_array(image, self.config.image_size, self.config.resize_interpolation)

    def caption_arrays(self, arrays: list[np.ndarray], settings: GenerationSettings) -> list[str]:
        """Preprocessed arrays (3, H, W) in [0, 1] -> captions."""
        pixels = torch.from_numpy(np.stack(arrays))
        pixels = ((pixels - self._mean) / self._std).to(self.device)
        with precision_context(self.precision, self.device):
            tokens = generate(self.model, pixels, settings)
        return self.tokenizer.decode_batch(tokens)

    def caption_batches(
        self,
        images: Iterable[ImageSource],
        settings: GenerationSettings | None = None,
        batch_size: int = 8,
    ) -> Generator[list[CaptionResult], None, None]:
        """Yield results batch by batch, in input order. The next batch's images are decoded
        in a background thread while the model works on the current one."""
        settings = settings or GenerationSettings()
        return caption_pipeline(images, self._prepare, lambda arrays: self.caption_arrays(arrays, settings),
                                self.threads, batch_size)

    def caption(
        self,
        images: Iterable[ImageSource],
        settings: GenerationSettings | None = None,
        batch_size: int = 8,
    ) -> list[CaptionResult]:
        """Caption images (paths or PIL images); one result per input, in order."""
        return [r for batch in self.caption_batches(images, settings, batch_size) for r in batch]
