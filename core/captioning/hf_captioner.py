"""Captioners that transformers runs natively: Florence-2, BLIP and GIT, with the surface of
core.captioning.captioner.Captioner (the CLI, the app's worker and the out-of-memory fallback
drive either).

    captioner = TransformersCaptioner.load("~/VisionCap/models/florence-2-base", style="detailed")
    for result in captioner.caption(["a.jpg", "b.png"]):
        print(result.source, result.caption or result.error)

Images are read as VisionGPT2's are (core.images.reading.load_image: EXIF orientation, any mode
to RGB, large JPEGs decoded smaller), then prepared by the model's own processor, so a caption
is the one transformers' `generate` and `batch_decode` give for the same picture and settings
(tests/core/test_hf_captioner.py checks it on tiny random models of each family).

What the model is asked:
- Florence-2: a task prompt, one per style (<CAPTION>, <DETAILED_CAPTION>,
  <MORE_DETAILED_CAPTION>), which its processor expands into the encoder's question;
- BLIP and GIT: the picture alone, or a free-text prompt that the caption continues ("a
  photograph of"); the prompt is removed from the caption as transformers' image-text-to-text
  pipeline removes it (when the decoded caption starts with the decoded prompt).

Loading uses the family's class with local files only, never remote code, safetensors only,
after the folder's manifest and SHA-256 sums are checked (core/bundles/transformers_folder.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from core.bundles.transformers_folder import FAMILIES, TransformersManifest, check_folder
from core.captioning.captioner import CaptionResult, ImageSource, caption_pipeline
from core.captioning.catalogue import FLORENCE_STYLES, ModelInfo, model_info
from core.captioning.device import resolve_device, resolve_precision
from core.captioning.generation_settings import GenerationSettings
from core.captioning.threads import ThreadPolicy
from core.errors import BundleError
from core.images.reading import SharedDecodes, load_image

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def generate_kwargs(settings: GenerationSettings) -> dict[str, Any]:
    """GenerationSettings -> transformers `generate` keyword arguments. Every setting is passed,
    so a model's generation_config.json (Florence-2's has num_beams 3) never decides instead."""
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "min_new_tokens": settings.min_new_tokens,
        "no_repeat_ngram_size": settings.no_repeat_ngram_size,
        "repetition_penalty": settings.repetition_penalty,
        "do_sample": settings.strategy == "sample",
        "num_beams": settings.num_beams if settings.strategy == "beam" else 1,
    }
    if settings.strategy == "sample":
        kwargs.update(temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p)
    if settings.strategy == "beam":
        kwargs.update(length_penalty=settings.length_penalty, early_stopping=settings.early_stopping)
    return kwargs


def strip_prompt(caption: str, prompt: str) -> str:
    """The caption without the prompt it continues, as transformers' image-text-to-text pipeline
    does it: removed when it starts within the caption's first two characters."""
    if not prompt:
        return caption
    at = caption.find(prompt)
    return caption[at + len(prompt) :] if 0 <= at <= 2 else caption


def _info_from_manifest(manifest: TransformersManifest, parameters: int, folder: Path) -> ModelInfo:
    """The catalogue's entry when the folder is one of its models, else one from the manifest."""
    known = model_info(manifest.name)
    if known is not None and known.family == manifest.family:
        return known
    return ModelInfo(
        name=manifest.name,
        family=manifest.family,
        title=manifest.name,
        source=manifest.source,
        download_bytes=sum(int(f.get("bytes", 0)) for f in (manifest.files or {}).values()),
        parameters=parameters,
        licence=manifest.licence,
        languages="English",
        summary=manifest.description or f"a {manifest.family} model from {folder}",
        styles=FLORENCE_STYLES if manifest.family == "florence2" else (),
        prompt_prefix=manifest.family in ("blip", "git"),
    )


class TransformersCaptioner:
    def __init__(
        self,
        model: Any,
        processor: Any,
        info: ModelInfo,
        device: torch.device,
        precision: str = "auto",
        style: str | None = None,
        prompt: str | None = None,
    ):
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.info = info
        self.family = info.family
        chosen = info.style(style)  # ValueError naming the styles, or that it has none
        self.style = chosen.name if chosen else ""
        self._task = chosen.prompt if chosen else ""
        if prompt and not info.prompt_prefix:
            styles = f"; it has styles instead: {', '.join(s.name for s in info.styles)}" if info.styles else ""
            raise ValueError(f"{info.title} takes no prompt (asked for {prompt!r}){styles}")
        self.prompt = (prompt or "").strip()
        self.device = device
        self.precision = "fp32"
        self.to(device, precision)
        self.threads = ThreadPolicy(parameters=self.parameters)
        self.shared_decodes: SharedDecodes | None = None
        self._min_size = processor_size(processor)

    @classmethod
    def load(
        cls,
        folder: str | Path,
        device: str | torch.device = "auto",
        precision: str = "auto",
        verify_hashes: bool = True,
        style: str | None = None,
        prompt: str | None = None,
    ) -> TransformersCaptioner:
        """Load a transformers model folder onto `device`. Raises BundleError naming the file
        and the problem, or ValueError for a device, precision, style or prompt it cannot take."""
        folder = Path(folder)
        manifest = check_folder(folder, verify_hashes)
        device = resolve_device(device)
        model, processor = load_native(folder, manifest)
        parameters = sum(p.numel() for p in model.parameters())
        info = _info_from_manifest(manifest, parameters, folder)
        return cls(model, processor, info, device, precision, style, prompt)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def to(self, device: str | torch.device, precision: str = "auto") -> TransformersCaptioner:
        """Move to another device (the CPU after the GPU ran out of memory: oom_fallback).
        "auto" precision is fp16 on CUDA (and where core.captioning.device chooses it) and fp32
        on the CPU, where these models' bf16 is not faster on most CPUs."""
        self.device = resolve_device(device)
        if precision == "auto" and self.device.type == "cpu":
            precision = "fp32"
        self.precision = resolve_precision(precision, self.device)
        self.model.to(self.device, DTYPES[self.precision])
        return self

    def _prepare(self, source: ImageSource) -> Image.Image:
        return load_image(source, min_size=self._min_size, shared=self.shared_decodes)

    def model_inputs(self, images: list[Image.Image]) -> dict[str, torch.Tensor]:
        """What `generate` takes for these pictures: the processor's pixel values, and the task
        prompt (Florence-2) or the prompt the caption continues (BLIP, GIT)."""
        if self.family == "florence2":
            inputs = dict(self.processor(images=images, text=[self._task] * len(images), return_tensors="pt"))
        elif self.family == "blip" and self.prompt:
            inputs = dict(self.processor(images=images, text=[self.prompt] * len(images), return_tensors="pt"))
        else:
            inputs = {"pixel_values": self.processor.image_processor(images, return_tensors="pt")["pixel_values"]}
            if self.family == "git" and self.prompt:  # GIT continues [CLS] + the prompt's tokens
                ids = self.tokenizer(self.prompt, add_special_tokens=False)["input_ids"]
                row = torch.tensor([self.tokenizer.cls_token_id, *ids])
                inputs["input_ids"] = row.expand(len(images), -1).clone()
        inputs.pop("token_type_ids", None)
        dtype = DTYPES[self.precision]
        return {k: v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device) for k, v in inputs.items()}

    @torch.inference_mode()
    def caption_images(self, images: list[Image.Image], settings: GenerationSettings) -> list[str]:
        """RGB pictures -> captions (the prompt removed, spaces trimmed)."""
        inputs = self.model_inputs(images)
        seeded = settings.strategy == "sample" and settings.seed is not None
        with torch.random.fork_rng(devices=[self.device] if self.device.type != "cpu" else [],
                                   device_type=self.device.type) if seeded else contextlib.nullcontext():
            if seeded:
                torch.manual_seed(settings.seed)
            tokens = self.model.generate(**inputs, **generate_kwargs(settings))
        texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        if self.prompt:
            prompt = self.tokenizer.decode(inputs["input_ids"][0], skip_special_tokens=True)
            texts = [strip_prompt(text, prompt) for text in texts]
        return [text.strip() for text in texts]

    def caption_batches(
        self,
        images: Iterable[ImageSource],
        settings: GenerationSettings | None = None,
        batch_size: int = 8,
    ) -> Generator[list[CaptionResult], None, None]:
        """Yield results batch by batch, in input order; the next batch is decoded in a
        background thread while the model works (core.captioning.captioner.caption_pipeline)."""
        settings = settings or GenerationSettings()
        return caption_pipeline(images, self._prepare, lambda pictures: self.caption_images(pictures, settings),
                                self.threads, batch_size)

    def caption(
        self,
        images: Iterable[ImageSource],
        settings: GenerationSettings | None = None,
        batch_size: int = 8,
    ) -> list[CaptionResult]:
        """Caption images (paths or PIL images); one result per input, in order."""
        return [r for batch in self.caption_batches(images, settings, batch_size) for r in batch]


def processor_size(processor: Any) -> int:
    """The largest side the image processor resizes to: a large JPEG may decode down to it."""
    size = getattr(processor.image_processor, "size", None) or {}
    values = [v for v in (size.values() if isinstance(size, dict) else [size]) if isinstance(v, int)]
    return max(values, default=768)


def load_native(folder: Path, manifest: TransformersManifest) -> tuple[Any, Any]:
    """The family's transformers model (float32, CPU) and processor from `folder`: local files
    only, no remote code, safetensors only. Every weight the model has must be in the file."""
    import transformers

    family = FAMILIES[manifest.family]
    model_class = getattr(transformers, family.model_class)
    processor_class = getattr(transformers, family.processor_class)
    weights = folder / "model.safetensors"
    try:
        model, loading = model_class.from_pretrained(
            folder, local_files_only=True, trust_remote_code=False, use_safetensors=True,
            dtype=torch.float32, output_loading_info=True,
        )
        processor = processor_class.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise BundleError(folder, f"transformers cannot load this {family.name} model ({_first_line(exc)})") from exc
    missing = sorted(loading.get("missing_keys") or [])
    mismatched = loading.get("mismatched_keys") or []
    if missing or mismatched:
        shown = missing[:5] or [str(m[0]) if isinstance(m, tuple) else str(m) for m in mismatched[:5]]
        problem = "lacks tensors" if missing else "has tensors of the wrong shape"
        raise BundleError(weights, f"{problem} the {family.model_class} of config.json needs: {shown}")
    return model, processor


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
