"""The captioners VisionCap offers by name: what each is, how big, under which licence, and the
caption styles it has. The CLI's `--model NAME`, the app's first-run dialog and Settings read it.

Importing this module imports neither torch nor transformers (the app's GUI thread lists the
models before any is loaded).

A model the user installed by name lives in `models_root() / NAME`, a folder with a VisionCap
manifest whose SHA-256 sums are checked at load (core/bundles). VisionGPT2 folders are bundles
(`kind` "visiongpt2"); the other families are transformers models (`kind` "transformers"),
loaded natively by transformers, never with remote code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.bundles.user_dirs import user_data_dir

FAMILIES = ("visiongpt2", "florence2", "blip", "git")


@dataclass(frozen=True)
class Style:
    """A way a model can caption: Florence-2's task prompts, or none."""

    name: str  # what --style takes and the store/CSV record: "caption", "detailed", ...
    label: str  # for the user: "Short caption"
    prompt: str = ""  # what the model is given: Florence-2's task token ("<CAPTION>"), or ""


@dataclass(frozen=True)
class ModelInfo:
    name: str  # the short name --model takes and the folder under models_root(): "florence-2-base"
    family: str  # one of FAMILIES
    title: str  # for the user: "Florence-2 base"
    source: str  # where it is downloaded from: a hub id
    download_bytes: int  # what the download reads (the weights dominate)
    parameters: int
    licence: str  # SPDX id of the weights' licence
    languages: str  # the captions' language(s)
    summary: str  # one line: what it is good for
    quality: str = ""  # the published caption quality, with its source
    styles: tuple[Style, ...] = ()  # the first is the default; () when the model has one way
    prompt_prefix: bool = False  # takes free text that the caption continues (--prompt)

    @property
    def default_style(self) -> str:
        return self.styles[0].name if self.styles else ""

    def style(self, name: str | None) -> Style | None:
        """The named style (None or "": the default); ValueError naming the choices."""
        if not self.styles:
            if name:
                raise ValueError(f"{self.title} has no caption styles (asked for {name!r})")
            return None
        if not name:
            return self.styles[0]
        for style in self.styles:
            if style.name == name:
                return style
        choices = ", ".join(s.name for s in self.styles)
        raise ValueError(f"{self.title} has no style {name!r}; it has: {choices}")


FLORENCE_STYLES = (
    Style("caption", "Short caption", "<CAPTION>"),
    Style("detailed", "Detailed caption", "<DETAILED_CAPTION>"),
    Style("more-detailed", "More detailed caption (a paragraph)", "<MORE_DETAILED_CAPTION>"),
)

# Figures: download sizes are the repositories' weights files; parameter counts are those of the
# transformers model built from each config (BLIP's weights file also stores its tied LM head a
# second time, so its download is larger than 4 bytes a parameter); quality from the papers (COCO
# captions, Karpathy test split, CIDEr). Florence-2 comes from florence-community, the same
# weights as microsoft/Florence-2-* converted to transformers' native Florence2 classes (the
# microsoft repositories need remote code, which VisionCap never runs).
CATALOGUE: tuple[ModelInfo, ...] = (
    ModelInfo(
        name="vit-gpt2-coco",
        family="visiongpt2",
        title="ViT-GPT2 COCO (VisionGPT2)",
        source="nlpconnect/vit-gpt2-image-captioning",
        download_bytes=982_000_000,
        parameters=239_000_000,
        licence="Apache-2.0",
        languages="English",
        summary="Short everyday captions, the fastest on a CPU; VisionCap's own model, trainable",
        quality="no published COCO score",
    ),
    ModelInfo(
        name="florence-2-base",
        family="florence2",
        title="Florence-2 base",
        source="florence-community/Florence-2-base",
        download_bytes=464_000_000,
        parameters=232_000_000,
        licence="MIT",
        languages="English",
        summary="Short to paragraph-long captions for training sets; slow on a CPU (768 px), fast on a GPU",
        quality="CIDEr 133.0 zero-shot, 140.0 fine-tuned (Xiao et al. 2023, Florence-2)",
        styles=FLORENCE_STYLES,
    ),
    ModelInfo(
        name="florence-2-large",
        family="florence2",
        title="Florence-2 large",
        source="florence-community/Florence-2-large",
        download_bytes=1_540_000_000,
        parameters=771_000_000,
        licence="MIT",
        languages="English",
        summary="Florence-2's most detailed captions; about 3x base's time",
        quality="CIDEr 135.6 zero-shot, 143.3 fine-tuned (Xiao et al. 2023, Florence-2)",
        styles=FLORENCE_STYLES,
    ),
    ModelInfo(
        name="blip-base",
        family="blip",
        title="BLIP base (captioning)",
        source="Salesforce/blip-image-captioning-base",
        download_bytes=990_000_000,
        parameters=224_000_000,
        licence="BSD-3-Clause",
        languages="English",
        summary="Short accurate captions; can continue a prompt such as 'a photograph of'",
        quality="CIDEr 133.3 (Li et al. 2022, BLIP, ViT-B 129M images)",
        prompt_prefix=True,
    ),
    ModelInfo(
        name="blip-large",
        family="blip",
        title="BLIP large (captioning)",
        source="Salesforce/blip-image-captioning-large",
        download_bytes=1_880_000_000,
        parameters=446_000_000,
        licence="BSD-3-Clause",
        languages="English",
        summary="BLIP's better captions at about twice base's time",
        quality="CIDEr 136.7 (Li et al. 2022, BLIP, ViT-L)",
        prompt_prefix=True,
    ),
    ModelInfo(
        name="git-base-coco",
        family="git",
        title="GIT base (COCO)",
        source="microsoft/git-base-coco",
        download_bytes=707_000_000,
        parameters=177_000_000,
        licence="MIT",
        languages="English",
        summary="Short COCO-style captions from a small, fast model",
        quality="CIDEr 131.4 (Wang et al. 2022, GIT, base)",
        prompt_prefix=True,
    ),
)


def model_info(name: str) -> ModelInfo | None:
    """The catalogue entry named `name`, or None."""
    return next((m for m in CATALOGUE if m.name == name), None)


def models_root() -> Path:
    """Where models installed by name live (the app's downloads too): user data / models."""
    return user_data_dir() / "models"


def installed_dir(name: str) -> Path:
    return models_root() / name
